// Package soak runs roomloop's soak and chaos runs, the soak plan stated in
// bench/README.md (section "Soak"): idle, churn, chaos resume, slow mix,
// hostile mix and drain cycle. Each run
// starts the server under test as a child process (the benchmark binary
// re-executed with "server", as the benchmark runner does), drives it with
// clients of the bench/load event loop, samples the server every
// interval (RSS, heap in use, descriptors, goroutines, sessions, rooms,
// queued bytes, close codes, drops, delivery p50/p99/p999), and judges
// the samples: drift is the slope of a least-squares line through the
// last two thirds of them. See bench/README.md, section "Soak".
package soak

import (
	"context"
	"fmt"
	"io"
	"time"
)

// The runs, in the order "all" runs them.
const (
	Idle    = "idle"
	Churn   = "churn"
	Chaos   = "chaos"
	SlowMix = "slowmix"
	Hostile = "hostile"
	Drain   = "drain"
)

// Names lists the runs in the order "all" runs them.
func Names() []string { return []string{Idle, Churn, Chaos, SlowMix, Hostile, Drain} }

// Config configures one run. Zero sizes and rates take the run's default
// (see Defaults), scaled to a 2-core machine with 20,000 descriptors per
// process.
type Config struct {
	Exe        string   // the benchmark binary, re-executed as the server
	ServerArgs []string // arguments before the server's own, e.g. ["server"]
	ServerCPUs string   // taskset CPU list for the server; "" for none

	Run      string        // one of Names
	Duration time.Duration // the measured phase
	Sample   time.Duration // sampling interval; default 10s

	Conns int     // main size: idle/churn-steady/chaos/drain connections, slowmix/hostile room members
	Rate  float64 // churn: connects/s; chaos/slowmix/hostile/drain: room messages/s in all
	Size  int     // payload padding of room messages, bytes

	Life      time.Duration // churn: lifetime of a churning connection
	Sever     float64       // chaos: % of connections the proxy severs per second
	Stalled   float64       // slowmix: % of members that never read
	Throttled float64       // slowmix: % of members that read at half the stream's rate
	// SlowPolicy is the server's policy for full queues in slowmix:
	// "drop" (default: the frame is dropped, the client told) or
	// "disconnect" (close 4002).
	SlowPolicy string
	Bad        float64       // hostile: % of clients that misbehave
	Cycle      time.Duration // drain: SIGTERM and restart interval

	ResumeWindow time.Duration // server resume window; 0: api default (30s)
	Heartbeat    time.Duration // server ping interval; 0: api default (25s)
	ProbeRate    float64       // idle/churn: $ping probes per second

	Dialers int    // concurrent dials
	Limits  Limits // failure rules
	// LogDir receives the server's standard error (soak-<run>-<time>.log);
	// default os.TempDir().
	LogDir string
	// Log receives progress lines; nil for none.
	Log io.Writer
}

// Defaults returns the full-size parameters of run (the soak plan's sizes
// and durations in bench/README.md, scaled to a 2-core machine).
func Defaults(run string) Config {
	c := Config{Run: run, Sample: 10 * time.Second, Dialers: 64, ProbeRate: 50, Size: 256,
		Life: time.Second, Sever: 1, Stalled: 5, Throttled: 10, SlowPolicy: "drop", Bad: 1}
	switch run {
	case Idle:
		c.Duration, c.Conns = 30*time.Minute, 15000
	case Churn:
		c.Duration, c.Conns, c.Rate = 60*time.Minute, 5000, 300
	case Chaos:
		c.Duration, c.Conns, c.Rate = 30*time.Minute, 2000, 100
	case SlowMix:
		c.Duration, c.Conns, c.Rate, c.Size = 20*time.Minute, 1000, 40, 1024
	case Hostile:
		c.Duration, c.Conns, c.Rate = 30*time.Minute, 2000, 20
	case Drain:
		c.Duration, c.Conns, c.Rate = 30*time.Minute, 5000, 100
	}
	return c
}

// withDefaults fills c's zero fields from Defaults(c.Run).
func (c Config) withDefaults() Config {
	d := Defaults(c.Run)
	setDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	setF := func(v *float64, def float64) {
		if *v <= 0 {
			*v = def
		}
	}
	setI := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setDur(&c.Duration, d.Duration)
	setDur(&c.Sample, d.Sample)
	setDur(&c.Life, d.Life)
	setI(&c.Conns, d.Conns)
	setI(&c.Size, d.Size)
	setI(&c.Dialers, d.Dialers)
	setF(&c.Rate, d.Rate)
	setF(&c.Sever, d.Sever)
	setF(&c.Stalled, d.Stalled)
	setF(&c.Throttled, d.Throttled)
	setF(&c.Bad, d.Bad)
	setF(&c.ProbeRate, d.ProbeRate)
	if c.SlowPolicy == "" {
		c.SlowPolicy = d.SlowPolicy
	}
	if c.Cycle <= 0 {
		// Six restarts per run: every 5 minutes of a 30-minute run.
		c.Cycle = max(c.Duration/6, c.Sample)
	}
	return c
}

// runFunc drives one run against h's server.
type runFunc func(ctx context.Context, h *H) error

// funcs maps run names to their drivers.
var funcs = map[string]runFunc{
	Idle:    runIdle,
	Churn:   runChurn,
	Chaos:   runChaos,
	SlowMix: runSlowMix,
	Hostile: runHostile,
	Drain:   runDrain,
}

// Run runs cfg.Run and returns its result. A run that fails its rules is
// a Result with Pass false; Run's error is for runs that could not be
// made at all (unknown name, no server).
func Run(ctx context.Context, cfg Config) (*Result, error) {
	fn, ok := funcs[cfg.Run]
	if !ok {
		return nil, fmt.Errorf("soak: unknown run %q (want one of %v)", cfg.Run, Names())
	}
	cfg = cfg.withDefaults()
	h, err := newH(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return h.finish(fn(ctx, h)), nil
}
