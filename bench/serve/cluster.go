package serve

import (
	"errors"
	"log/slog"
	"os"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/cluster"
)

// clusterBroker connects to the NATS server cfg.NATS as node cfg.Node,
// with package cluster's defaults (the room stream in memory, 1 s
// heartbeats), as the roomloop binary does with -nats and -node-id. The
// server attaches the broker when it starts and detaches it when it shuts
// down.
func clusterBroker(cfg Config) (api.Broker, error) {
	if cfg.Node == "" {
		return nil, errors.New("serve: -nats needs -node-id")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	return cluster.Connect(cluster.Config{URL: cfg.NATS, Node: cfg.Node, Logger: log})
}
