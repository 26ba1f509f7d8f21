package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/roomloop/roomloop/bench/soak"
)

// TestSoakShort runs all six soak runs at a few hundred connections for
// a few seconds each, against a server child that is this test binary
// (built with -race under go test -race: this is the soak plan's -race
// churn run, and the server's log is checked for "DATA RACE"). It asserts
// every verdict passes. The rules are the real ones except two that a
// seconds-long run on a shared machine cannot judge: RSS drift forgives
// up to 64 MiB (gross leaks still fail), and latency rules are reported,
// not enforced (no assertion on speed). bench/soak's unit tests show that
// every rule fails when it should.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	logging.SetLevel(logging.LevelError) // nbio's logger, for the load generator
	exe, err := os.Executable()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := soak.Config{
		Exe: exe, ServerArgs: []string{"server"},
		Duration: 6 * time.Second, Sample: 500 * time.Millisecond,
		Heartbeat: time.Second, ResumeWindow: 2 * time.Second, Dialers: 16,
		Limits: soak.Limits{RSSNoise: 64, LatencyInfo: true},
		LogDir: t.TempDir(),
	}
	runs := map[string]func(*soak.Config){
		soak.Idle:  func(c *soak.Config) { c.Conns = 300 },
		soak.Churn: func(c *soak.Config) { c.Conns, c.Rate, c.Life = 200, 50, 300*time.Millisecond },
		soak.Chaos: func(c *soak.Config) { c.Conns, c.Rate, c.Sever = 300, 100, 5 },
		soak.SlowMix: func(c *soak.Config) {
			c.Conns, c.Rate, c.Size, c.Stalled, c.Throttled = 200, 40, 1024, 5, 10
		},
		soak.Hostile: func(c *soak.Config) { c.Conns, c.Rate, c.Bad = 200, 40, 1 },
		soak.Drain:   func(c *soak.Config) { c.Conns, c.Rate, c.Cycle = 300, 100, 2*time.Second },
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent()) // the runs leave no goroutine behind
	var results []*soak.Result
	start := time.Now()
	for _, name := range soak.Names() {
		cfg := base
		cfg.Run = name
		runs[name](&cfg)
		r, err := soak.Run(ctx, cfg)
		require.NoError(t, err, name)
		results = append(results, r)
		assert.True(t, r.Pass, "%s: %s", name, r.Verdict())
		assert.GreaterOrEqual(t, len(r.Samples), 10, name)
		t.Logf("%s: %.1fs, %s", name, r.Seconds, r.Verdict())
	}
	t.Logf("six runs in %.1fs", time.Since(start).Seconds())
	var md bytes.Buffer // shown with -v, or when a run failed
	soak.Markdown(&md, results)
	t.Log("\n" + md.String())
}
