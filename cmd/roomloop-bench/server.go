package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/lesismal/nbio/logging"

	"github.com/roomloop/roomloop/bench/serve"
)

// serverMain runs one implementation until stdin closes or SIGTERM/SIGINT.
func serverMain(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	var cfg serve.Config
	fs.StringVar(&cfg.Impl, "impl", serve.Roomloop, "roomloop or baseline")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "listen address")
	fs.BoolVar(&cfg.Resume, "resume", false, "keep roomloop's session resumption on")
	fs.IntVar(&cfg.QueueFrames, "queue-frames", 4096, "roomloop outbound queue bound per client, frames")
	fs.IntVar(&cfg.QueueBytes, "queue-bytes", 4<<20, "roomloop outbound queue bound per client, bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logging.SetLevel(logging.LevelError) // nbio's own logger; this process only
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve.Run(ctx, cfg, os.Stdin, os.Stdout)
}
