package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// TestMain lets the test binary serve as the benchmark's server child:
// the runner re-executes it with "server".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "server" {
		os.Exit(dispatch(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestRunAllQuick runs every scenario once against both implementations
// with tiny sizes and checks that each produced numbers for both, without
// errors. It asserts nothing about speed.
func TestRunAllQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := scenario.Params{
		IdleConns: 40, Members: 20, Publishers: 2, EchoConns: 10, ConnectConns: 40,
		SlowReaders: 10, SlowStalled: 2, Duration: 300 * time.Millisecond, Dialers: 8,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rounds, err := runner.Run(ctx, runner.Config{
		Exe: exe, ServerArgs: []string{"server"}, Scenarios: scenario.Names(),
		Rounds: 1, Params: p, Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, rd := range rounds {
		if rd.Err != "" {
			t.Errorf("%s/%s: %s", rd.Scenario, rd.Impl, rd.Err)
		}
		if len(rd.Metrics) == 0 {
			t.Errorf("%s/%s: no metrics", rd.Scenario, rd.Impl)
		}
		got[rd.Scenario+"/"+rd.Impl]++
	}
	for _, s := range scenario.Names() {
		for _, impl := range serve.Impls() {
			if got[s+"/"+impl] != 1 {
				t.Errorf("%s/%s: %d rounds, want 1", s, impl, got[s+"/"+impl])
			}
		}
	}
}

// TestScenarioList checks the scenario list and flag expansion.
func TestScenarioList(t *testing.T) {
	if got := scenarios("all"); len(got) != 5 {
		t.Fatalf("all = %v", got)
	}
	if got := scenarios("echo,,idle"); len(got) != 2 || got[0] != "echo" || got[1] != "idle" {
		t.Fatalf("list = %v", got)
	}
	for _, n := range scenario.Names() {
		if _, ok := scenario.ByName(n); !ok {
			t.Fatalf("%s not found", n)
		}
	}
}
