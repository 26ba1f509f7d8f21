package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/roomloop/roomloop/bench/natsd"
)

// natsImpl is the -impl the runner passes to the NATS child (bench/child
// appends -impl and -addr to every child it starts).
const natsImpl = "nats"

// natsMain runs the hidden "nats" subcommand: an embedded NATS server with
// JetStream (bench/natsd) on -addr, its store in a temporary directory,
// until stdin closes or SIGTERM/SIGINT. It prints "LISTEN <host:port>".
// The cluster scenarios start it as a child; it is not meant to be run by
// hand.
func natsMain(args []string) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	impl := fs.String("impl", natsImpl, "must be "+natsImpl)
	var cfg natsd.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "client listen address (port 0: a free one)")
	fs.StringVar(&cfg.Dir, "dir", "", "JetStream store directory (default: a temporary one, removed on exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *impl != natsImpl {
		return fmt.Errorf("nats: -impl %q (want %s)", *impl, natsImpl)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return natsd.Run(ctx, cfg, os.Stdin, os.Stdout)
}
