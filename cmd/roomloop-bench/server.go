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
	fs.StringVar(&cfg.Impl, "impl", serve.Roomloop, "roomloop, baseline, roomloop-http (mounted on net/http), roomloop-tls (wss://, self-signed) roomloop-metrics (Prometheus metrics on, scraped in-process every second), roomloop-deflate or baseline-deflate (permessage-deflate on), nbio-floor (bench/floor: a minimal server on nbio, the idle scenario's floor), or roomloop-uring (writes submitted through io_uring)")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "listen address")
	fs.BoolVar(&cfg.Resume, "resume", false, "keep roomloop's session resumption on")
	fs.IntVar(&cfg.QueueFrames, "queue-frames", 4096, "roomloop outbound queue bound per client, frames")
	fs.IntVar(&cfg.QueueBytes, "queue-bytes", 4<<20, "roomloop outbound queue bound per client, bytes")
	fs.DurationVar(&cfg.ResumeWindow, "resume-window", 0, "roomloop resume window (0: api default, 30s)")
	fs.IntVar(&cfg.ReplayFrames, "replay-frames", 0, "roomloop replay buffer per session, frames (0: api default)")
	fs.IntVar(&cfg.ReplayBytes, "replay-bytes", 0, "roomloop replay buffer per session, bytes (0: api default)")
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 0, "roomloop ping interval (0: api default, 25s)")
	fs.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", 0, "roomloop drops a silent client after this (0: api default, 60s)")
	fs.BoolVar(&cfg.DropSlow, "drop-slow", false, "roomloop drops frames for full queues instead of closing with 4002")
	fs.BoolVar(&cfg.Presence, "presence", false, "roomloop sends $presence diffs of its rooms' joins and leaves")
	fs.BoolVar(&cfg.Defaults, "defaults", false, "roomloop with api's default options (resumption and presence on) but rate limits off; the roomloop flags above are ignored")
	fs.BoolVar(&cfg.API, "api", false, "roomloop serves the HTTP API on an admin listener at 127.0.0.1:0 (printed as ADMIN <addr>), key "+serve.APIKey)
	natsURL := fs.String("nats", "", "roomloop runs as a node of a cluster on this NATS server (JetStream on; the room stream in memory)")
	node := fs.String("node-id", "", "with -nats: this node's id (lower-case letters, digits and '-')")
	fs.DurationVar(&cfg.HandoverWait, "handover-wait", 0, "with -nats: how long shutdown keeps drained sessions for their clients to resume them on other nodes (0: none kept)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *natsURL != "" {
		b, err := clusterBroker(*natsURL, *node)
		if err != nil {
			return err
		}
		cfg.Broker = b
	}
	logging.SetLevel(logging.LevelError) // nbio's own logger; this process only
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve.Run(ctx, cfg, os.Stdin, os.Stdout)
}
