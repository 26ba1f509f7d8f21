package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
)

// TestCentrifugeColumn checks that a scenario centrifuge ran gets its
// column and the ratio of roomloop to it, that one it skipped gets a
// note instead, and that a run without it keeps the two-column table.
func TestCentrifugeColumn(t *testing.T) {
	m := func(v float64) []scenario.Metric { return []scenario.Metric{{Name: "rate", Unit: "1/s", Value: v}} }
	rounds := []runner.Round{
		{Scenario: "broadcast", Impl: "roomloop", Metrics: m(30)},
		{Scenario: "broadcast", Impl: "baseline", Metrics: m(10)},
		{Scenario: "broadcast", Impl: "centrifuge", Metrics: m(20)},
		{Scenario: "broadcast", Impl: "centrifuge", Err: "boom"},
		{Scenario: "resume", Impl: "roomloop", Metrics: m(1)},
		{Scenario: "resume", Impl: "baseline", Metrics: m(1)},
	}
	var b bytes.Buffer
	Markdown(&b, rounds)
	out := b.String()
	for _, want := range []string{
		"| metric | roomloop | baseline | ratio roomloop/baseline | centrifuge | ratio roomloop/centrifuge |\n|---|---:|---:|---:|---:|---:|\n",
		"| rate (1/s) | 30 | 10 | 3.00 | 20 | 1.50 |",
		"| **error** (centrifuge) | boom |",
		"resume: not run against centrifuge",
		"| metric | roomloop | baseline | ratio roomloop/baseline |\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	b.Reset()
	Markdown(&b, rounds[4:])
	if strings.Contains(b.String(), "centrifuge") {
		t.Errorf("a run without centrifuge mentions it:\n%s", b.String())
	}
}

// TestFloorColumn checks that idle's floor (nbio-floor) gets its column
// and the ratio of roomloop to it, after centrifuge's when both ran.
func TestFloorColumn(t *testing.T) {
	m := func(v float64) []scenario.Metric {
		return []scenario.Metric{{Name: "server RSS per connection", Unit: "KiB", Value: v}}
	}
	rounds := []runner.Round{
		{Scenario: "idle", Impl: "roomloop", Metrics: m(3)},
		{Scenario: "idle", Impl: "baseline", Metrics: m(30)},
		{Scenario: "idle", Impl: "nbio-floor", Metrics: m(2)},
		{Scenario: "idle", Impl: "centrifuge", Metrics: m(28)},
	}
	var b bytes.Buffer
	Markdown(&b, rounds)
	out := b.String()
	for _, want := range []string{
		"| metric | roomloop | baseline | ratio roomloop/baseline | centrifuge | ratio roomloop/centrifuge | nbio-floor | ratio roomloop/nbio-floor |\n",
		"| server RSS per connection (KiB) | 3 | 30 | 0.10 | 28 | 0.11 | 2 | 1.50 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
