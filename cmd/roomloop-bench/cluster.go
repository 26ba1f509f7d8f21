package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/cluster"
)

// clusterBroker connects to the NATS server at url as node id, with
// package cluster's defaults (the room stream in memory, 1 s heartbeats),
// as the roomloop binary does with -nats and -node-id. It fails when NATS
// cannot be reached. The server attaches the broker when it starts and
// detaches it when it shuts down.
func clusterBroker(url, node string) (api.Broker, error) {
	if node == "" {
		return nil, errors.New("server: -nats needs -node-id")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	b, err := cluster.Connect(cluster.Config{URL: url, Node: node, Logger: log})
	if err != nil {
		return nil, err
	}
	return b, nil
}
