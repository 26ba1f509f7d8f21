package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
)

// TestURingTable checks the io_uring table: the three columns and the
// ratios of their medians, only where roomloop-uring ran.
func TestURingTable(t *testing.T) {
	m := func(cpu float64) []scenario.Metric {
		return []scenario.Metric{{Name: "one-at-a-time: server CPU per 1M deliveries", Unit: "s", Value: cpu}}
	}
	rounds := []runner.Round{
		{Scenario: "broadcast", Impl: "roomloop", Metrics: m(12)},
		{Scenario: "broadcast", Impl: "roomloop-uring", Metrics: m(9)},
		{Scenario: "broadcast", Impl: "roomloop-uring", Err: "boom"},
		{Scenario: "broadcast", Impl: "baseline", Metrics: m(18)},
	}
	var b bytes.Buffer
	Markdown(&b, rounds)
	out := b.String()
	for _, want := range []string{
		"### broadcast: roomloop's writes through io_uring",
		"| one-at-a-time: server CPU per 1M deliveries (s) | 12 | 9 | 18 | 0.75 | 0.50 | 0.67 |",
		"| **error** (roomloop-uring) | boom |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	b.Reset()
	Markdown(&b, rounds[:1])
	if strings.Contains(b.String(), "io_uring") {
		t.Errorf("an io_uring table without roomloop-uring rounds:\n%s", b.String())
	}
}
