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

// TestWaysIn checks the table of roomloop's ways in: Start, ServeHTTP and
// TLS side by side with ratios to Start, only where they ran.
func TestWaysIn(t *testing.T) {
	m := func(v float64) []scenario.Metric { return []scenario.Metric{{Name: "rss", Unit: "KiB", Value: v}} }
	rounds := []runner.Round{
		{Scenario: "idle", Impl: "roomloop", Metrics: m(2)},
		{Scenario: "idle", Impl: "roomloop-http", Metrics: m(3)},
		{Scenario: "idle", Impl: "roomloop-tls", Metrics: m(8)},
		{Scenario: "idle", Impl: "baseline", Metrics: m(20)},
		{Scenario: "echo", Impl: "roomloop", Metrics: m(1)},
		{Scenario: "echo", Impl: "baseline", Metrics: m(1)},
	}
	var b bytes.Buffer
	Markdown(&b, rounds)
	out := b.String()
	for _, want := range []string{"### idle: roomloop's ways in", "| rss (KiB) | 2 | 3 | 8 | 1.50 | 4.00 |", "| rss (KiB) | 2 | 20 | 0.10 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "### echo: roomloop's ways in") {
		t.Errorf("echo has no ways in:\n%s", out)
	}
	rows := WaysIn(rounds)
	if len(rows) != 1 || rows[0].HTTPRatio == nil || *rows[0].HTTPRatio != 1.5 || rows[0].TLSRatio == nil || *rows[0].TLSRatio != 4 {
		t.Errorf("WaysIn = %+v", rows)
	}
}
