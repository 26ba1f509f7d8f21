package main

import (
	"flag"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/cluster"
)

// clusterConfig holds the flags that make the binary a node of a cluster
// (docs/cluster.md).
type clusterConfig struct {
	url, node   string
	history     time.Duration
	fileStorage bool
	replicas    int
	handover    time.Duration
}

func clusterFlags(fs *flag.FlagSet) *clusterConfig {
	c := &clusterConfig{}
	fs.StringVar(&c.url, "nats", "", `NATS server URL(s), comma-separated, with JetStream: run as a node of a cluster ("": one node). Unreachable at startup: exit 1`)
	fs.StringVar(&c.node, "node-id", "", "this node's id in the cluster: lower-case letters, digits and '-', unique (default: the host name)")
	fs.DurationVar(&c.history, "nats-history", 2*time.Minute, "how long the cluster's room stream keeps records for nodes that fall behind")
	fs.BoolVar(&c.fileStorage, "nats-file-storage", false, "keep the room stream on the NATS server's disk instead of its memory")
	fs.IntVar(&c.replicas, "nats-replicas", 1, "replicas of the room stream on a NATS cluster")
	fs.DurationVar(&c.handover, "handover-wait", 10*time.Second, "with -nats, how long shutdown keeps drained sessions for their clients to resume them on other nodes (within -drain-timeout)")
	return c
}

// apply connects to NATS and sets opts.Broker, when -nats is set.
func (c *clusterConfig) apply(opts *api.Options, log *slog.Logger) error {
	if c.url == "" {
		return nil
	}
	node := c.node
	if node == "" {
		node = hostNode()
	}
	b, err := cluster.Connect(cluster.Config{URL: c.url, Node: node, History: c.history,
		FileStorage: c.fileStorage, Replicas: c.replicas, Logger: log})
	if err != nil {
		return err
	}
	log.Info("cluster node", "node", node, "nats", c.url)
	opts.Broker, opts.HandoverWait = b, c.handover
	return nil
}

var notNodeChars = regexp.MustCompile(`[^a-z0-9-]+`)

// hostNode is the host name as a node id.
func hostNode() string {
	h, _ := os.Hostname()
	id := strings.Trim(notNodeChars.ReplaceAllString(strings.ToLower(h), "-"), "-")
	if len(id) > 64 {
		id = id[:64]
	}
	if id == "" {
		id = "node"
	}
	return id
}
