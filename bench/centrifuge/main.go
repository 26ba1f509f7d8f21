// Command roomloop-bench-centrifuge is the benchmark's second comparator
// server: rooms served by github.com/centrifugal/centrifuge, the
// strongest Go peer, as channels. It speaks the benchmark's child
// protocol, as "roomloop-bench server" does (bench/serve.RunServer):
//
//	roomloop-bench-centrifuge server -impl centrifuge -addr 127.0.0.1:0
//
// prints "LISTEN <addr>", answers "STATS" and "STATS FREE" lines on stdin
// with a JSON line of serve.Stats, and stops when stdin closes or on
// SIGTERM. Clients speak centrifuge's JSON protocol at /ws; the load
// generator's adapter (bench/load, Config.Centrifuge) translates the
// scenarios' messages. "roomloop-bench run -centrifuge" builds this
// binary and runs it beside roomloop and the baseline; see
// bench/README.md.
//
// It lives in a module of its own so that the roomloop module's go.mod
// does not depend on centrifuge.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/roomloop/roomloop/bench/serve"
)

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs the "server" subcommand and returns the exit status.
func dispatch(args []string) int {
	if len(args) == 0 || args[0] != "server" {
		fmt.Fprintln(os.Stderr, "usage: roomloop-bench-centrifuge server -impl centrifuge -addr 127.0.0.1:0")
		return 2
	}
	if err := serverMain(args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "roomloop-bench-centrifuge:", err)
		return 1
	}
	return 0
}

// serverMain serves until stdin closes or SIGTERM/SIGINT.
func serverMain(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	impl := fs.String("impl", serve.Centrifuge, "implementation; only "+serve.Centrifuge)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *impl != serve.Centrifuge {
		return fmt.Errorf("unknown implementation %q (this binary serves only %s)", *impl, serve.Centrifuge)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s, err := start(*addr)
	if err != nil {
		return err
	}
	return serve.RunServer(ctx, s, os.Stdin, os.Stdout)
}
