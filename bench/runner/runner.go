// Package runner runs scenarios against both server implementations,
// each in a fresh child process per scenario and round, alternating the
// order of the implementations from round to round.
package runner

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/roomloop/roomloop/bench/child"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// Config configures Run.
type Config struct {
	Exe        string   // the benchmark binary, re-executed as the server
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
}

// impls returns the implementations scenario name runs against in round
// r (0-based): serve.Impls, and for idle with WaysIn the other ways in
// too. The order rotates from round to round, so that each goes first
// once in as many rounds as there are implementations (two: roomloop
// first in odd rounds, baseline in even ones).
func (cfg Config) impls(name string, r int) []string {
	base := serve.Impls()
	impls := base[:]
	if cfg.WaysIn && name == "idle" {
		w := serve.WaysIn()
		impls = append(w[:], serve.Baseline)
	}
	k := r % len(impls)
	return append(slices.Clone(impls[k:]), impls[:k]...)
}

// Round is one scenario run against one implementation.
type Round struct {
	Scenario string            `json:"scenario"`
	Impl     string            `json:"impl"`
	Round    int               `json:"round"`
	Start    time.Time         `json:"start"`
	Seconds  float64           `json:"seconds"`
	Metrics  []scenario.Metric `json:"metrics,omitempty"`
	Err      string            `json:"error,omitempty"`
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
		params := cfg.Params
		if cal, ok := scenario.CalibrationFor(name); ok && cal.Needed(params) {
			rd := runOne(ctx, cfg, fn, name, serve.Baseline, 0, params)
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
			for _, impl := range cfg.impls(name, r) {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				rd := runOne(ctx, cfg, fn, name, impl, r+1, params)
				if cfg.Log != nil {
					status := "ok"
					if rd.Err != "" {
						status = "error: " + rd.Err
					}
					fmt.Fprintf(cfg.Log, "%-12s %-13s round %d: %.1fs %s\n", name, impl, r+1, rd.Seconds, status)
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
func runOne(ctx context.Context, cfg Config, fn scenario.Func, name, impl string, round int, p scenario.Params) Round {
	rd := Round{Scenario: name, Impl: impl, Round: round, Start: time.Now()}
	defer func() { rd.Seconds = time.Since(rd.Start).Seconds() }()
	args := append(slices.Clone(cfg.ServerArgs), scenario.ServerArgs(name)...)
	srv, err := child.Start(child.Spec{Exe: cfg.Exe, Args: args, Impl: impl, CPUs: cfg.ServerCPUs})
	if err != nil {
		rd.Err = err.Error()
		return rd
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	res, err := fn(sctx, srv, p)
	cancel()
	rd.Metrics = res.Metrics
	if err != nil {
		rd.Err = err.Error()
	}
	if err := srv.Stop(); err != nil && rd.Err == "" {
		rd.Err = "server stop: " + err.Error()
	}
	rd.Seconds = time.Since(rd.Start).Seconds()
	return rd
}
