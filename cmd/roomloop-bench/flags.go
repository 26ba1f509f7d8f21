package main

import (
	"flag"
	"time"

	"github.com/roomloop/roomloop/bench/scenario"
)

// sizeFlags are the scenario-size flags shared by run and load.
type sizeFlags struct {
	quick     bool
	n         int
	duration  time.Duration
	lightRate float64
	echoRate  float64
	echoFrac  float64
	idleLater time.Duration
	jsonRate  float64
	jsonEach  bool
	inFlight  int
}

// register adds the flags to fs.
func (f *sizeFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.quick, "quick", false, "small sizes and 1s phases")
	fs.IntVar(&f.n, "n", 0, "main size of every scenario: idle/connect/echo connections, broadcast members, slowconsumer readers, resume and resume-load sessions, reconnect clients, api-publish, broadcast-json and cluster-fanout members, cluster-idle connections, cluster-resume sessions, cluster-hold connections, cluster-pairs connections (n/2 rooms) (0: default)")
	fs.DurationVar(&f.duration, "duration", 0, "length of each timed phase (0: 5s, or 1s with -quick)")
	fs.Float64Var(&f.lightRate, "light-rate", 0, "broadcast: messages/s of the light-load phase (0: 5, or 10 with -quick)")
	fs.Float64Var(&f.echoRate, "echo-rate", 0, "echo: offered round trips/s of the fixed-rate phase (0: -echo-rate-fraction of the baseline's closed-loop rate, calibrated first)")
	fs.Float64Var(&f.echoFrac, "echo-rate-fraction", 0.5, "echo: the fixed rate as a fraction of the baseline's closed-loop rate (0: no fixed-rate phase)")
	fs.Float64Var(&f.jsonRate, "json-rate", 0, "broadcast-json: messages/s of the fixed-rate phase (0: 10, or 50 with -quick)")
	fs.BoolVar(&f.jsonEach, "json-inflate-each", false, "broadcast-json: clients inflate every compressed message on its own, as browsers do (default: each distinct compressed body once, shared by all clients)")
	fs.IntVar(&f.inFlight, "in-flight", 0, "cluster-fanout: the publisher's messages in flight (0: 16); cluster-pairs: messages in flight per room (0: 4)")
	fs.DurationVar(&f.idleLater, "idle-later", 0, "idle: also read the server's RSS (no GC forced) this long after the last join, e.g. 60s (0: only at 2 s)")
}

// params returns the scenario parameters the flags ask for.
func (f *sizeFlags) params() scenario.Params {
	p := scenario.Full()
	if f.quick {
		p = scenario.Quick()
	}
	if f.n > 0 {
		p.IdleConns, p.Members, p.EchoConns, p.ConnectConns, p.SlowReaders, p.ResumeConns = f.n, f.n, f.n, f.n, f.n, f.n
		p.Reconnects, p.ResumeLoadConns, p.APIMembers, p.JSONMembers, p.ClusterMembers = f.n, f.n, f.n, f.n, f.n
		p.ClusterIdleConns, p.ClusterResumeConns, p.HoldConns, p.PairRooms = f.n, f.n, f.n, max(1, f.n/2)
	}
	if f.inFlight > 0 {
		p.ClusterInFlight, p.PairInFlight = f.inFlight, f.inFlight
	}
	if f.lightRate > 0 {
		p.LightRate = f.lightRate
	}
	p.EchoRate, p.EchoRateFraction = f.echoRate, f.echoFrac
	p.IdleLater = f.idleLater
	p.JSONInflateEach = f.jsonEach
	if f.jsonRate > 0 {
		p.JSONRate = f.jsonRate
	}
	if f.duration > 0 {
		p.Duration = f.duration
	}
	return p
}

// scenarios expands "all" or a comma-separated list.
func scenarios(s string) []string {
	if s == "all" {
		return scenario.Names()
	}
	var out []string
	for _, name := range splitComma(s) {
		out = append(out, name)
	}
	return out
}

// splitComma splits s at commas, dropping empty parts.
func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
