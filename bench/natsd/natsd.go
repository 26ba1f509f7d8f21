// Package natsd runs an embedded NATS server with JetStream as a child
// process of the benchmark ("roomloop-bench nats"), for the cluster
// scenarios' roomloop nodes to meet on. It speaks the server children's
// line protocol (bench/serve): it prints "LISTEN <host:port>" once it
// accepts clients and stops when its input ends or its context is done.
package natsd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Config configures Run.
type Config struct {
	// Addr is the client listen address, host:port; port 0 picks a free
	// one. Default 127.0.0.1:0.
	Addr string
	// Dir is JetStream's store directory. Default: a temporary directory
	// that Run makes and removes when it stops. The cluster's room stream
	// keeps its records in memory (cluster.Config.FileStorage off), so
	// little or nothing is written there.
	Dir string
}

// readyWait bounds the wait for the NATS server to accept clients.
const readyWait = 15 * time.Second

// Start starts the NATS server cfg describes and returns it with a
// function that shuts it down, waits, and removes the temporary store
// directory it made.
func Start(cfg Config) (*natsserver.Server, func(), error) {
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("natsd: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, nil, fmt.Errorf("natsd: port %q: %w", portStr, err)
	}
	if port == 0 {
		port = natsserver.RANDOM_PORT
	}
	dir, cleanDir := cfg.Dir, func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "roomloop-bench-nats-"); err != nil {
			return nil, nil, err
		}
		cleanDir = func() { _ = os.RemoveAll(dir) }
	}
	opts := &natsserver.Options{Host: host, Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
	s, err := natsserver.NewServer(opts)
	if err != nil {
		cleanDir()
		return nil, nil, fmt.Errorf("natsd: %w", err)
	}
	go s.Start()
	stop := func() {
		s.Shutdown()
		s.WaitForShutdown()
		cleanDir()
	}
	if !s.ReadyForConnections(readyWait) {
		stop()
		return nil, nil, fmt.Errorf("natsd: NATS on %s not ready in %v", addr, readyWait)
	}
	if !s.JetStreamEnabled() {
		stop()
		return nil, nil, errors.New("natsd: JetStream did not start")
	}
	return s, stop, nil
}

// Run starts the NATS server, writes "LISTEN <host:port>" to out, and
// stops it when in ends (lines read from it are ignored) or ctx is done.
func Run(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	s, stop, err := Start(cfg)
	if err != nil {
		return err
	}
	defer stop()
	if _, err := fmt.Fprintf(out, "LISTEN %s\n", s.Addr()); err != nil {
		return err
	}
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
		}
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	return nil
}
