package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
)

// TestMarkdown checks medians, spreads, ratios and error rows.
func TestMarkdown(t *testing.T) {
	m := func(v float64) []scenario.Metric { return []scenario.Metric{{Name: "rate", Unit: "1/s", Value: v}} }
	rounds := []runner.Round{
		{Scenario: "s", Impl: "roomloop", Metrics: m(10)},
		{Scenario: "s", Impl: "roomloop", Metrics: m(30)},
		{Scenario: "s", Impl: "roomloop", Metrics: m(20)},
		{Scenario: "s", Impl: "baseline", Metrics: m(5)},
		{Scenario: "s", Impl: "baseline", Err: "boom"},
	}
	var b bytes.Buffer
	Markdown(&b, rounds)
	out := b.String()
	for _, want := range []string{"| rate (1/s) | 20 (10–30) | 5 | 4.00 |", "| **error** (baseline) | boom |"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if s := summarize([]float64{4, 1, 3, 2}); s.Median != 2.5 || s.Min != 1 || s.Max != 4 {
		t.Errorf("summarize = %+v", s)
	}
}
