package report

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// TestCompressionTable: broadcast-json's four implementations side by
// side, the ratios of roomloop compressed to roomloop and to the
// baseline compressed, and each goal judged on the medians.
func TestCompressionTable(t *testing.T) {
	m := func(cpu, wire float64) []scenario.Metric {
		return []scenario.Metric{{Name: "fixed: " + scenario.MetricJSONCPU, Unit: "s", Value: cpu}, {Name: "fixed: " + scenario.MetricJSONWire, Unit: "B", Value: wire}}
	}
	name := scenario.BroadcastJSONName
	rounds := []runner.Round{
		{Scenario: name, Impl: serve.RoomloopDeflate, Metrics: m(3, 300)},
		{Scenario: name, Impl: serve.RoomloopDeflate, Metrics: m(2, 310)},
		{Scenario: name, Impl: serve.RoomloopDeflate, Metrics: m(9, 320)},
		{Scenario: name, Impl: serve.Roomloop, Metrics: m(2, 600)},
		{Scenario: name, Impl: serve.BaselineDeflate, Metrics: m(6, 290)},
		{Scenario: name, Impl: serve.Baseline, Metrics: m(8, 590)},
		{Scenario: name, Impl: serve.Baseline, Err: "boom"},
	}
	var b bytes.Buffer
	Markdown(&b, rounds)
	out := b.String()
	for _, want := range []string{
		"| metric | roomloop-deflate | roomloop | baseline-deflate | baseline | ratio roomloop-deflate/roomloop | ratio roomloop-deflate/baseline-deflate |",
		"| fixed: server CPU per 1M deliveries (s) | 3 (2–9) | 2 | 6 | 8 | 1.50 | 0.50 |",
		"| fixed: bytes on the wire per delivery (B) | 310 (300–320) | 600 | 290 | 590 | 0.52 | 1.07 |",
		"| **error** (baseline) | boom |",
		"- fixed: server CPU per delivery, roomloop compressed / roomloop uncompressed: 1.50, goal ≤ 1.3: not met",
		"- fixed: server CPU per delivery, roomloop compressed / baseline compressed: 0.50, goal ≤ 0.3: not met",
	} {
		assert.Contains(t, out, want)
	}
	c := CompressionSummary(rounds)
	require.NotNil(t, c)
	require.Len(t, c.Goals, 2)
	assert.False(t, c.Goals[0].Met)
	require.NotNil(t, c.Goals[0].Ratio)
	assert.InDelta(t, 1.5, *c.Goals[0].Ratio, 1e-9)

	rounds[3].Metrics = m(2.5, 600) // 3 / 2.5 = 1.2
	rounds[4].Metrics = m(12, 290)  // 3 / 12 = 0.25
	c = CompressionSummary(rounds)
	assert.True(t, c.Goals[0].Met)
	assert.True(t, c.Goals[1].Met)
	assert.Nil(t, CompressionSummary(rounds[:0]))
}
