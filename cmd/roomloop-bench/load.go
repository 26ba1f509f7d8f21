package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/lesismal/nbio/logging"

	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// external is a server started by someone else: /proc readings need its
// pid, and Stats reads /proc only (no goroutine count, no GC).
type external struct {
	addr, admin, key string
	pid              int
	impl             string
}

// Impl returns the implementation the server runs, as -impl says.
func (e external) Impl() string { return e.impl }

// Addr returns the server address.
func (e external) Addr() string { return e.addr }

// AdminAddr returns the address of the server's HTTP API ("" for none).
func (e external) AdminAddr() string { return e.admin }

// APIKey returns the HTTP API's bearer key.
func (e external) APIKey() string { return e.key }

// Sample reads the server's /proc, if its pid is known.
func (e external) Sample() (procstat.Sample, error) {
	if e.pid <= 0 {
		return procstat.Sample{}, errors.New("no -pid given")
	}
	return procstat.Read(e.pid)
}

// Stats returns what /proc says (Goroutines and HeapInuse stay 0).
func (e external) Stats() (serve.Stats, error) {
	s, err := e.Sample()
	return serve.Stats{RSS: s.RSS, Threads: s.Threads, CPU: s.CPU}, err
}

// StatsFreed is Stats: an external server cannot be asked to free memory.
func (e external) StatsFreed() (serve.Stats, error) { return e.Stats() }

// loadMain runs scenarios against a server that is already running and
// prints their metrics.
func loadMain(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var sz sizeFlags
	sz.register(fs)
	scen := fs.String("scenario", "broadcast", "comma-separated scenarios (all: every one)")
	var t external
	fs.StringVar(&t.addr, "addr", "127.0.0.1:8080", "server host:port")
	fs.IntVar(&t.pid, "pid", 0, "server pid, for /proc readings (RSS, CPU)")
	fs.StringVar(&t.impl, "impl", "", "centrifuge: the server speaks centrifuge's protocol (bench/centrifuge); otherwise roomloop's")
	fs.StringVar(&t.admin, "admin-addr", "", "api-publish: the server's admin address, where its HTTP API serves /api/")
	fs.StringVar(&t.key, "api-key", os.Getenv("ROOMLOOP_API_KEY"), "api-publish: the HTTP API's bearer key (default $ROOMLOOP_API_KEY)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logging.SetLevel(logging.LevelError)
	for _, name := range scenarios(*scen) {
		fn, ok := scenario.ByName(name)
		if !ok {
			return fmt.Errorf("unknown scenario %q", name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		res, err := fn(ctx, t, sz.params())
		cancel()
		fmt.Fprintf(os.Stdout, "%s:\n", name)
		for _, m := range res.Metrics {
			fmt.Fprintf(os.Stdout, "  %-55s %14.3f %s\n", m.Name, m.Value, m.Unit)
		}
		if err != nil {
			fmt.Fprintf(os.Stdout, "  error: %v\n", err)
		}
	}
	return nil
}
