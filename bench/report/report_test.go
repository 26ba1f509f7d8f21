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

// TestReconnectReport checks a scenario with variants: a column per
// variant, the table with a row per variant, and the spread of each
// variant's median round drawn on one time scale for both.
func TestReconnectReport(t *testing.T) {
	m := func(p50, p99, max float64) []scenario.Metric {
		return []scenario.Metric{
			{Name: scenario.MetricNewListening, Unit: "ms after SIGTERM", Value: 40},
			{Name: scenario.MetricReconnectP50, Unit: "ms after SIGTERM", Value: p50},
			{Name: scenario.MetricReconnectP90, Unit: "ms after SIGTERM", Value: p99},
			{Name: scenario.MetricReconnectP99, Unit: "ms after SIGTERM", Value: p99},
			{Name: scenario.MetricReconnectMax, Unit: "ms after SIGTERM", Value: max},
			{Name: scenario.MetricPeakAccepts, Unit: "1/s", Value: 900},
			{Name: scenario.MetricMeanAccepts, Unit: "1/s", Value: 800},
			{Name: scenario.MetricFailed, Unit: "count", Value: 3},
			{Name: scenario.MetricHandshakeP99, Unit: "ms", Value: 12},
		}
	}
	// jitter: back over 2 s (20 buckets of 100 ms); nojitter: at once at 0.5 s.
	jb := make([]int, 20)
	for i := range jb {
		jb[i] = 5
	}
	nb := make([]int, 6)
	nb[5] = 100
	rounds := []runner.Round{
		{Scenario: "reconnect", Impl: "roomloop", Variant: "nojitter", Round: 1, Metrics: m(510, 520, 530),
			Spread: &scenario.Spread{Origin: "SIGTERM", BucketMS: 100, Back: nb, Failed: []int{7, 0, 0, 0, 0, 0}}},
		{Scenario: "reconnect", Impl: "roomloop", Variant: "jitter", Round: 1, Metrics: m(3000, 1900, 2000),
			Spread: &scenario.Spread{Origin: "SIGTERM", BucketMS: 100, Back: []int{99}, Failed: []int{0}}},
		{Scenario: "reconnect", Impl: "roomloop", Variant: "jitter", Round: 2, Metrics: m(1000, 1900, 2000),
			Spread: &scenario.Spread{Origin: "SIGTERM", BucketMS: 100, Back: jb, Failed: make([]int, 20)}},
		{Scenario: "reconnect", Impl: "roomloop", Variant: "jitter", Round: 3, Metrics: m(500, 1900, 2000),
			Spread: &scenario.Spread{Origin: "SIGTERM", BucketMS: 100, Back: []int{98}, Failed: []int{0}}},
	}
	var b bytes.Buffer
	Markdown(&b, rounds)
	out := b.String()
	for _, want := range []string{
		"| metric | jitter | nojitter | ratio jitter/nojitter |",
		"| reconnect time p50 (ms after SIGTERM) | 1000 (500–3000) | 510 | 1.96 |",
		"| jitter | 1000 / 1900 / 1900 / 2000 | 900 | 800 | 3 | 12 |",
		"| nojitter | 510 / 520 / 520 / 530 | 900 | 800 | 3 | 12 |",
		"Medians of 3 rounds.",
		"Clients back in each 0.2 s after the SIGTERM, and the failed attempts in it; of each variant, the round with the median reconnect p50.",
		"jitter, round 2 (new server listening at 0.04 s)",
		"nojitter, round 1 (new server listening at 0.04 s)",
		"    0.4–0.6 s  |########################################|    100 back       0 failed",
		"    0.0–0.2 s  |####                                    |     10 back       0 failed",
		"    0.0–0.2 s  |                                        |      0 back       7 failed",
		"    1.8–2.0 s  |####                                    |     10 back       0 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Count(out, " back  ") != 20 {
		t.Errorf("want 10 buckets per variant:\n%s", out)
	}
}

// TestOnOff checks the table of roomloop with metrics off and on: the
// ratio on/off of the medians and whether it is within 3%, only for a
// scenario that ran with metrics on; and the one-column table of a
// scenario run against roomloop alone.
func TestOnOff(t *testing.T) {
	m := func(rate, cpu float64) []scenario.Metric {
		return []scenario.Metric{{Name: "burst 8: deliveries/s", Unit: "1/s", Value: rate}, {Name: "burst 8: server CPU per 1M deliveries", Unit: "s", Value: cpu}}
	}
	rounds := []runner.Round{
		{Scenario: "broadcast", Impl: "roomloop", Metrics: m(100, 2)},
		{Scenario: "broadcast", Impl: "roomloop-metrics", Metrics: m(98, 2.2)},
		{Scenario: "broadcast", Impl: "baseline", Metrics: m(10, 20)},
		{Scenario: "api-publish", Impl: "roomloop", Metrics: m(7, 1)},
	}
	var b bytes.Buffer
	Markdown(&b, rounds)
	out := b.String()
	for _, want := range []string{
		"| burst 8: deliveries/s (1/s) | 100 | 10 | 10.00 |",
		"### broadcast: roomloop with metrics off and on",
		"| burst 8: deliveries/s (1/s) | 100 | 98 | 0.98 | yes |",
		"| burst 8: server CPU per 1M deliveries (s) | 2 | 2.20 | 1.10 | no |",
		"Deliveries/s with metrics on / off: burst 8 0.98. All within 3%: yes.",
		"Server CPU per delivery with metrics on / off: burst 8 1.10. All within 3%: no.",
		"### api-publish\n\n| metric | roomloop |\n|---|---:|\n| burst 8: deliveries/s (1/s) | 7 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "### api-publish: roomloop with metrics off and on") {
		t.Errorf("api-publish ran without metrics on:\n%s", out)
	}
	rows := OnOff(rounds)
	if len(rows) != 2 || rows[0].Ratio == nil || *rows[0].Ratio != 0.98 || !rows[0].Within || rows[1].Within {
		t.Errorf("OnOff = %+v", rows)
	}
}
