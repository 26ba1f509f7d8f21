// Package runner runs scenarios against both server implementations,
// each in a fresh child process per scenario and round, alternating the
// order of the implementations from round to round.
package runner

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/roomloop/roomloop/bench/child"
	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// Config configures Run.
type Config struct {
	Exe        string   // the benchmark binary, re-executed as the server (and as the NATS server of a cluster variant: NATSImpl)
	ServerArgs []string // e.g. ["server"]
	ServerCPUs string   // taskset CPU list for the server; "" for none
	Scenarios  []string
	Rounds     int
	Params     scenario.Params
	Timeout    time.Duration // per scenario run; default 5 minutes
	Log        io.Writer     // progress lines; nil for none
	// WaysIn runs the idle scenario also against roomloop's other ways
	// in, mounted on net/http and with native TLS (serve.WaysIn), so that
	// the report can set their memory per connection beside Start's.
	WaysIn bool
	// Centrifuge, when set, is the centrifuge comparator's binary
	// (bench/centrifuge), started with ServerArgs like Exe: the scenarios
	// it speaks (scenario.RunsCentrifuge) run against it too.
	Centrifuge string
	// URing runs broadcast against roomloop, roomloop with the
	// experimental io_uring flusher (serve.RoomloopURing) and the
	// baseline, instead of its usual three.
	URing bool
}

// arm is what one run of a scenario runs against: an implementation,
// and for a scenario with variants (scenario.Variants) the variant.
type arm struct{ impl, variant string }

// arms returns what scenario name runs against in round r (0-based):
// scenario.Impls; for idle with WaysIn the other ways in too; with
// Centrifuge, the centrifuge comparator where it runs; the floor
// (serve.Floor) where it runs (scenario.RunsFloor); for a scenario
// with variants, roomloop in each variant. The order rotates from round
// to round, so that each goes first once in as many rounds as there are
// arms (two: the first in odd rounds, the second in even ones).
func (cfg Config) arms(name string, r int) []arm {
	var arms []arm
	if vs := scenario.Variants(name); len(vs) > 0 {
		for _, v := range vs {
			arms = append(arms, arm{serve.Roomloop, v})
		}
	} else {
		impls := scenario.Impls(name)
		if cfg.WaysIn && name == "idle" {
			w := serve.WaysIn()
			impls = append(w[:], serve.Baseline)
		}
		if cfg.URing && name == "broadcast" {
			impls = []string{serve.Roomloop, serve.RoomloopURing, serve.Baseline}
		}
		for _, impl := range impls {
			arms = append(arms, arm{impl: impl})
		}
		if cfg.Centrifuge != "" && scenario.RunsCentrifuge(name) {
			arms = append(arms, arm{impl: serve.Centrifuge})
		}
		if scenario.RunsFloor(name) {
			arms = append(arms, arm{impl: serve.Floor})
		}
	}
	k := r % len(arms)
	return append(slices.Clone(arms[k:]), arms[:k]...)
}

// Round is one scenario run against one implementation.
type Round struct {
	Scenario string            `json:"scenario"`
	Impl     string            `json:"impl"`
	Variant  string            `json:"variant,omitempty"` // the scenario's variant, if it has them
	Round    int               `json:"round"`
	Start    time.Time         `json:"start"`
	Seconds  float64           `json:"seconds"`
	Metrics  []scenario.Metric `json:"metrics,omitempty"`
	Spread   *scenario.Spread  `json:"spread,omitempty"`
	Err      string            `json:"error,omitempty"`
}

// Column is what the report compares the round under: its variant, or
// its implementation when the scenario has no variants.
func (rd Round) Column() string {
	if rd.Variant != "" {
		return rd.Variant
	}
	return rd.Impl
}

// Run runs every scenario for every round against both implementations.
// A failed run is recorded in its Round, not returned; Run returns an
// error only for an unknown scenario or a cancelled ctx.
func Run(ctx context.Context, cfg Config) ([]Round, error) {
	if cfg.Rounds <= 0 {
		cfg.Rounds = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	var out []Round
	for _, name := range cfg.Scenarios {
		fn, ok := scenario.ByName(name)
		if !ok {
			return out, fmt.Errorf("runner: unknown scenario %q", name)
		}
		if cfg.Centrifuge != "" && !scenario.RunsCentrifuge(name) && cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "%-12s %-13s skipped: it runs idle, broadcast, echo and connect only\n", name, serve.Centrifuge)
		}
		params := cfg.Params
		if cal, ok := scenario.CalibrationFor(name); ok && cal.Needed(params) {
			rd := runOne(ctx, cfg, fn, name, arm{impl: serve.Baseline}, 0, params)
			rd.Scenario += " (calibration)"
			v, found := rd.metric(cal.Metric)
			if cfg.Log != nil {
				fmt.Fprintf(cfg.Log, "%-12s %-8s calibration: %s = %.0f (%s)\n", name, serve.Baseline, cal.Metric, v, rd.Err)
			}
			out = append(out, rd)
			if !found {
				return out, fmt.Errorf("runner: %s calibration against the baseline measured no %q: %s", name, cal.Metric, rd.Err)
			}
			cal.Apply(&params, v)
		}
		for r := range cfg.Rounds {
			for _, a := range cfg.arms(name, r) {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				rd := runOne(ctx, cfg, fn, name, a, r+1, params)
				if cfg.Log != nil {
					status := "ok"
					if rd.Err != "" {
						status = "error: " + rd.Err
					}
					fmt.Fprintf(cfg.Log, "%-12s %-16s round %d: %.1fs %s\n", name, rd.Column(), r+1, rd.Seconds, status)
				}
				out = append(out, rd)
			}
		}
	}
	return out, nil
}

// metric returns the value of the metric called name.
func (rd Round) metric(name string) (float64, bool) {
	for _, m := range rd.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// runOne starts a server, runs fn against it with p and stops the server.
func runOne(ctx context.Context, cfg Config, fn scenario.Func, name string, a arm, round int, p scenario.Params) Round {
	rd := Round{Scenario: name, Impl: a.impl, Variant: a.variant, Round: round, Start: time.Now()}
	defer func() { rd.Seconds = time.Since(rd.Start).Seconds() }()
	args := append(slices.Clone(cfg.ServerArgs), scenario.ServerArgs(name)...)
	spec := child.Spec{Exe: cfg.Exe, Args: args, Impl: a.impl, CPUs: cfg.ServerCPUs}
	if a.impl == serve.Centrifuge {
		spec.Exe = cfg.Centrifuge
	}
	target, err := startTarget(spec, scenario.Nodes(name, a.variant))
	if err != nil {
		rd.Err = err.Error()
		return rd
	}
	p.Variant, p.Exe = a.variant, cfg.Exe
	sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	res, err := fn(sctx, target, p)
	cancel()
	rd.Metrics, rd.Spread = res.Metrics, res.Spread
	if err != nil {
		rd.Err = err.Error()
	}
	if err := target.stop(); err != nil && rd.Err == "" {
		rd.Err = "server stop: " + err.Error()
	}
	rd.Seconds = time.Since(rd.Start).Seconds()
	return rd
}

// target is what a scenario runs against, and how the runner stops it.
type target interface {
	scenario.Target
	stop() error
}

// startTarget starts one server process from spec, or, with nodes > 0, a
// cluster of that many on a NATS child of their own (fleet).
func startTarget(spec child.Spec, nodes int) (target, error) {
	if nodes > 0 {
		f, err := startFleet(spec, nodes)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	srv, err := child.Start(spec)
	if err != nil {
		return nil, err
	}
	return &server{spec: spec, cur: srv}, nil
}

// server is the scenario's Target: the server child, which a scenario may
// restart on the same address (scenario.Restarter).
type server struct {
	spec child.Spec
	mu   sync.Mutex // guards cur
	cur  *child.Server
}

func (s *server) current() *child.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Addr returns the server's address, the same across restarts.
func (s *server) Addr() string { return s.current().Addr() }

// AdminAddr returns the address of the server's HTTP API; "" for none.
func (s *server) AdminAddr() string { return s.current().AdminAddr() }

// APIKey returns the bearer key of the server's HTTP API.
func (s *server) APIKey() string { return s.current().APIKey() }

// TLS reports whether the server serves wss:// only.
func (s *server) TLS() bool { return s.current().TLS() }

// Impl returns the implementation the server runs.
func (s *server) Impl() string { return s.spec.Impl }

// Sample reads the current server process's /proc.
func (s *server) Sample() (procstat.Sample, error) { return s.current().Sample() }

// Stats asks the current server process for its stats.
func (s *server) Stats() (serve.Stats, error) { return s.current().Stats() }

// StatsFreed asks the current server process for its stats after it
// returned its free memory to the OS.
func (s *server) StatsFreed() (serve.Stats, error) { return s.current().StatsFreed() }

// Restart sends the server SIGTERM, waits (at most 20 s) for it to exit,
// and starts a new one on its address, retrying for 10 s while the
// address is not free yet.
func (s *server) Restart(ctx context.Context) (scenario.Restart, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rt scenario.Restart
	rt.ExitErr = s.cur.Terminate(20 * time.Second)
	rt.Exited = time.Now()
	spec := s.spec
	spec.Addr = s.cur.Addr()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rt.Starts++
		srv, err := child.Start(spec)
		if err == nil {
			s.cur, rt.Listening = srv, time.Now()
			return rt, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return rt, fmt.Errorf("runner: restart on %s: %w", spec.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops the current server process.
func (s *server) stop() error { return s.current().Stop() }
