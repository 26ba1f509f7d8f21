package main

import (
	"flag"
	"time"

	"github.com/roomloop/roomloop/bench/scenario"
)

// sizeFlags are the scenario-size flags shared by run and load.
type sizeFlags struct {
	quick    bool
	n        int
	duration time.Duration
}

// register adds the flags to fs.
func (f *sizeFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.quick, "quick", false, "small sizes and 1s phases")
	fs.IntVar(&f.n, "n", 0, "main size of every scenario: idle/connect/echo connections, broadcast members, slowconsumer readers (0: default)")
	fs.DurationVar(&f.duration, "duration", 0, "length of each timed phase (0: 5s, or 1s with -quick)")
}

// params returns the scenario parameters the flags ask for.
func (f *sizeFlags) params() scenario.Params {
	p := scenario.Full()
	if f.quick {
		p = scenario.Quick()
	}
	if f.n > 0 {
		p.IdleConns, p.Members, p.EchoConns, p.ConnectConns, p.SlowReaders = f.n, f.n, f.n, f.n, f.n
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
