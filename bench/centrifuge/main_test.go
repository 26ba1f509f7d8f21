package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/roomloop/roomloop/bench/report"
	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// TestMain lets the test binary serve as the runner's server child, for
// all three implementations.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "server" {
		os.Exit(testServer(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// testServer serves centrifuge as this binary does, and roomloop and the
// baseline through serve.Run, as "roomloop-bench server" does.
func testServer(args []string) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	var cfg serve.Config
	fs.StringVar(&cfg.Impl, "impl", "", "")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Impl == serve.Centrifuge {
		return dispatch(append([]string{"server"}, args...))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := serve.Run(ctx, cfg, os.Stdin, os.Stdout); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	return 0
}

// TestQuickThreeServers runs idle, broadcast, echo and connect once
// against roomloop, the baseline and centrifuge at tiny sizes, and
// checks what a user of "roomloop-bench run -centrifuge" sees: every
// round without an error, centrifuge's rows in each table, messages
// delivered and answered through the adapter. It asserts nothing about
// speed.
func TestQuickThreeServers(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := scenario.Params{
		IdleConns: 100, Members: 20, Publishers: 2, EchoConns: 10, ConnectConns: 40,
		Duration: 300 * time.Millisecond, Dialers: 8, LightRate: 20, LightMembers: 10, EchoRateFraction: 0.5,
	}
	names := []string{"idle", "broadcast", "echo", "connect"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rounds, err := runner.Run(ctx, runner.Config{
		Exe: exe, ServerArgs: []string{"server"}, Centrifuge: exe,
		Scenarios: names, Rounds: 1, Params: p, Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string]map[string]float64{} // scenario/impl → metric → value
	for _, rd := range rounds {
		if rd.Err != "" {
			t.Errorf("%s/%s: %s", rd.Scenario, rd.Impl, rd.Err)
		}
		m := map[string]float64{}
		for _, x := range rd.Metrics {
			m[x.Name] = x.Value
		}
		metrics[rd.Scenario+"/"+rd.Impl] = m
	}
	cf := func(name string) map[string]float64 {
		m, ok := metrics[name+"/"+serve.Centrifuge]
		if !ok {
			t.Fatalf("%s: no centrifuge round", name)
		}
		if v := m["client-seen protocol errors (malformed + seq gaps)"]; v != 0 {
			t.Errorf("%s: %v protocol errors", name, v)
		}
		return m
	}
	positive := func(m map[string]float64, names ...string) {
		t.Helper()
		for _, n := range names {
			if !(m[n] > 0) {
				t.Errorf("%q = %v, want > 0 (metrics: %v)", n, m[n], m)
			}
		}
	}
	if m := cf("idle"); m["connections"] != float64(p.IdleConns) {
		t.Errorf("idle: %v connections, want %d", m["connections"], p.IdleConns)
	} else {
		positive(m, "server heap in use per connection")
	}
	positive(cf("broadcast"), "one-at-a-time: deliveries/s", "burst 8: deliveries/s", "burst 16: deliveries/s",
		"light load 20 msg/s, 10 members: latency p50")
	echo := cf("echo")
	positive(echo, "round trips/s")
	if echo["pongs with a wrong id"] != 0 {
		t.Errorf("echo: %v pongs with a wrong id", echo["pongs with a wrong id"])
	}
	positive(cf("connect"), "upgrades/s")

	var md bytes.Buffer
	report.Markdown(&md, rounds)
	header := "| metric | roomloop | baseline | ratio roomloop/baseline | centrifuge | ratio roomloop/centrifuge |"
	if n := bytes.Count(md.Bytes(), []byte(header)); n != len(names) {
		t.Errorf("%d tables with a centrifuge column, want %d:\n%s", n, len(names), md.String())
	}
}
