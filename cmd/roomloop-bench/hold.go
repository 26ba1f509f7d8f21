package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/lesismal/nbio/logging"

	"github.com/roomloop/roomloop/bench/hold"
)

// holdMain runs the hidden "hold" subcommand: a load generator process
// that opens -n connections to -addr, joins them to rooms, prints
// "HELD <n>" and holds them until stdin closes (bench/hold). The
// cluster-hold scenario starts one per node; it is not meant to be run by
// hand.
func holdMain(args []string) error {
	fs := flag.NewFlagSet("hold", flag.ContinueOnError)
	var cfg hold.Config
	fs.StringVar(&cfg.Addr, "addr", "", "the server, host:port")
	fs.IntVar(&cfg.Conns, "n", 0, "connections")
	fs.IntVar(&cfg.RoomSize, "room-size", 100, "members per room")
	fs.StringVar(&cfg.RoomPrefix, "room-prefix", "h-", "room name prefix")
	fs.IntVar(&cfg.Dialers, "dialers", 64, "concurrent dials")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logging.SetLevel(logging.LevelError) // nbio's own logger, which writes to stdout
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return hold.Run(ctx, cfg, os.Stdin, os.Stdout)
}
