package soak_test

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/bench/soak"
)

const mib = 1 << 20

// series makes n samples 10 s apart from a function of the sample's
// time in minutes; each gets a latency histogram of 1,000 deliveries
// around lat(i) milliseconds.
func series(n int, rssMiB func(min float64) float64, goroutines func(i int) int, lat func(i int) float64) []soak.Sample {
	ss := make([]soak.Sample, n)
	for i := range ss {
		t := float64(i+1) * 10
		h := new(load.Hist)
		l := lat(i)
		for k := range 1000 {
			// 1% of the deliveries at 3× the typical latency.
			v := l
			if k%100 == 0 {
				v = 3 * l
			}
			h.Add(time.Duration(v * float64(time.Millisecond)))
		}
		ss[i] = soak.Sample{T: t, RSS: uint64(rssMiB(t/60) * mib), Heap: 8 * mib, FDs: 200,
			Goroutines: goroutines(i), Deliveries: int64(h.Count()), Hist: h, P99: 3 * l}
	}
	return ss
}

func flatRSS(float64) float64 { return 100 }
func flatG(int) int           { return 20 }
func flatLat(int) float64     { return 2 }

var base = soak.Baseline{Goroutines: 14, FDs: 12, PoolSize: 512}

// find returns the check called name.
func find(t *testing.T, cs []soak.Check, name string) soak.Check {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	require.Failf(t, "no check", "%q in %v", name, cs)
	return soak.Check{}
}

func TestSlope(t *testing.T) {
	xs := []float64{0, 1, 2, 3, 4}
	assert.InDelta(t, 3, soak.Slope(xs, []float64{2, 5, 8, 11, 14}), 1e-12)
	assert.InDelta(t, 0, soak.Slope(xs, []float64{7, 7, 7, 7, 7}), 1e-12)
	// Symmetric noise around a line does not move the fit.
	assert.InDelta(t, -0.5, soak.Slope(xs, []float64{1, -0.5 + 1, -1 - 1, -1.5 + 1, -2 - 1 + 2}), 0.3)
	assert.Zero(t, soak.Slope([]float64{1}, []float64{5}))
	assert.Zero(t, soak.Slope([]float64{2, 2}, []float64{1, 5}), "no spread in x")
}

func TestThirds(t *testing.T) {
	a, b := soak.Thirds(12)
	assert.Equal(t, []int{4, 8}, []int{a, b})
	a, b = soak.Thirds(10)
	assert.Equal(t, []int{3, 7}, []int{a, b})
	a, b = soak.Thirds(2)
	assert.Equal(t, []int{0, 0}, []int{a, b})
}

func TestDriftUsesTheLastTwoThirds(t *testing.T) {
	// RSS climbs 10 MiB/min during the first third, then is flat: warm-up
	// is not drift.
	ss := series(30, func(m float64) float64 { return 100 + 10*min(m, 1.5) }, flatG, flatLat)
	perMin, win := soak.Drift(ss, func(s soak.Sample) float64 { return float64(s.RSS) / mib })
	assert.InDelta(t, 0, perMin, 1e-9)
	assert.InDelta(t, 19*10.0/60, win, 1e-9)
	// A steady climb of 2 MiB/min is measured as such.
	ss = series(30, func(m float64) float64 { return 100 + 2*m }, flatG, flatLat)
	perMin, _ = soak.Drift(ss, func(s soak.Sample) float64 { return float64(s.RSS) / mib })
	assert.InDelta(t, 2, perMin, 0.01)
}

func TestEvaluateFlatRunPasses(t *testing.T) {
	cs := soak.Evaluate(series(30, flatRSS, flatG, flatLat), base, soak.Limits{})
	assert.Empty(t, soak.Failed(cs), "%v", cs)
	for _, name := range []string{"rss drift", "goroutines", "p99 last/first third"} {
		c := find(t, cs, name)
		assert.True(t, c.Pass && !c.Info, name)
	}
}

func TestRSSDriftFails(t *testing.T) {
	// 1 MiB/min of growth: twice the limit.
	ss := series(30, func(m float64) float64 { return 100 + m }, flatG, flatLat)
	c := find(t, soak.Evaluate(ss, base, soak.Limits{}), "rss drift")
	assert.False(t, c.Pass)
	assert.InDelta(t, 1, c.Value, 0.01)
	assert.Contains(t, c.String(), "rss drift 1.00 MiB/min (must be ≤ 0.5)")
	// Just under the limit passes.
	ss = series(30, func(m float64) float64 { return 100 + 0.45*m }, flatG, flatLat)
	assert.True(t, find(t, soak.Evaluate(ss, base, soak.Limits{}), "rss drift").Pass)
}

func TestRSSNoiseForgivesOnlySmallGrowth(t *testing.T) {
	// 2 MiB/min over a 3-minute window is 6 MiB: forgiven by 8 MiB of
	// noise allowance, not by 4.
	ss := series(30, func(m float64) float64 { return 100 + 2*m }, flatG, flatLat)
	assert.True(t, find(t, soak.Evaluate(ss, base, soak.Limits{RSSNoise: 8}), "rss drift").Pass)
	assert.False(t, find(t, soak.Evaluate(ss, base, soak.Limits{RSSNoise: 4}), "rss drift").Pass)
}

func TestGoroutineCeilingFails(t *testing.T) {
	// One sample above baseline + pool size is enough.
	ss := series(30, flatRSS, func(i int) int {
		if i == 7 {
			return base.Goroutines + base.PoolSize + 1
		}
		return 20
	}, flatLat)
	c := find(t, soak.Evaluate(ss, base, soak.Limits{}), "goroutines")
	assert.False(t, c.Pass)
	assert.Equal(t, float64(527), c.Value)
	assert.Equal(t, float64(526), c.Limit)
	assert.Contains(t, c.Detail, "t=80s")
}

func TestQuietFDs(t *testing.T) {
	assert.True(t, soak.QuietFDs(22, base, soak.Limits{}).Pass)
	c := soak.QuietFDs(23, base, soak.Limits{})
	assert.False(t, c.Pass)
	assert.Contains(t, c.String(), "fds once quiet 23 (must be ≤ 22)")
}

func TestP99ThirdsFails(t *testing.T) {
	// The last third at twice the first third's latency (2 ms → 4 ms).
	ss := series(30, flatRSS, flatG, func(i int) float64 {
		if i >= 20 {
			return 4
		}
		return 2
	})
	c := find(t, soak.Evaluate(ss, base, soak.Limits{}), "p99 last/first third")
	assert.False(t, c.Pass)
	assert.InDelta(t, 2, c.Value, 0.1)
	// 1.2× passes.
	ss = series(30, flatRSS, flatG, func(i int) float64 { return 2 + 0.4*float64(i/20) })
	assert.True(t, find(t, soak.Evaluate(ss, base, soak.Limits{P99Slack: -1}), "p99 last/first third").Pass)
	// A large slack forgives the 2×; LatencyInfo reports without failing.
	ss = series(30, flatRSS, flatG, func(i int) float64 { return 2 + 2*float64(i/20) })
	assert.True(t, find(t, soak.Evaluate(ss, base, soak.Limits{P99Slack: 10}), "p99 last/first third").Pass)
	c = find(t, soak.Evaluate(ss, base, soak.Limits{LatencyInfo: true}), "p99 last/first third")
	assert.True(t, c.Info)
	assert.Empty(t, soak.Failed([]soak.Check{c}))
}

func TestP99Drift(t *testing.T) {
	rising := series(30, flatRSS, flatG, func(i int) float64 { return 2 + 0.05*float64(i) })
	c := soak.P99Drift(rising, soak.Limits{P99Slack: -1})
	assert.False(t, c.Pass, c.String())
	assert.Greater(t, c.Value, 0.1)
	flat := series(30, flatRSS, flatG, flatLat)
	assert.True(t, soak.P99Drift(flat, soak.Limits{}).Pass)
	falling := series(30, flatRSS, flatG, func(i int) float64 { return 4 - 0.05*float64(i) })
	assert.True(t, soak.P99Drift(falling, soak.Limits{P99Slack: -1}).Pass, "only a rise fails")
}

func TestPhaseRatio(t *testing.T) {
	ss := series(30, flatRSS, flatG, func(i int) float64 {
		if i >= 10 {
			return 3
		}
		return 2
	})
	for i := range ss {
		ss[i].Phase = "clean"
		if i >= 10 {
			ss[i].Phase = "hostile"
		}
	}
	c := soak.PhaseRatio(ss, soak.Limits{P99Slack: -1})
	assert.False(t, c.Pass)
	assert.InDelta(t, 1.5, c.Value, 0.1)
	for i := range ss {
		ss[i].Hist = series(1, flatRSS, flatG, flatLat)[0].Hist
	}
	assert.True(t, soak.PhaseRatio(ss, soak.Limits{}).Pass)
}

func TestEvaluateWithoutSamples(t *testing.T) {
	cs := soak.Evaluate(nil, base, soak.Limits{})
	require.Len(t, soak.Failed(cs), 1)
	assert.Equal(t, "samples", cs[0].Name)
}

func TestVerdictAndMarkdown(t *testing.T) {
	ss := series(12, func(m float64) float64 { return 100 + 3*m }, flatG, flatLat)
	cs := append(soak.Evaluate(ss, base, soak.Limits{}), soak.QuietFDs(12, base, soak.Limits{}))
	r := &soak.Result{Run: "churn", Samples: ss, Checks: cs, Params: map[string]any{"conns": 5}}
	v := r.Verdict()
	assert.True(t, strings.HasPrefix(v, "FAIL: rss drift 3.00 MiB/min"), v)
	var b bytes.Buffer
	idle := series(3, flatRSS, flatG, flatLat)
	soak.Markdown(&b, []*soak.Result{r, {Run: "idle", Samples: idle, Checks: soak.Evaluate(idle, base, soak.Limits{})}})
	out := b.String()
	assert.Contains(t, out, "| t (s) | RSS (MiB) |")
	assert.Contains(t, out, "| 120 | 106.0 |")
	assert.Contains(t, out, "| rss drift | 3.00 MiB/min | ≤ 0.5 | **FAIL** |")
	assert.Contains(t, out, "**Verdict (churn): FAIL: rss drift")
	assert.Contains(t, out, "| idle | 3 | PASS |")
	assert.False(t, math.IsNaN(cs[0].Value))
}

func TestDefaultsAndNames(t *testing.T) {
	assert.Equal(t, []string{"idle", "churn", "chaos", "slowmix", "hostile", "drain"}, soak.Names())
	for _, n := range soak.Names() {
		d := soak.Defaults(n)
		assert.Positive(t, d.Conns, n)
		assert.Positive(t, d.Duration, n)
		// Client and server each hold one socket per connection (chaos:
		// the proxy holds two more): stay under 20,000 per process.
		per := 1
		if n == soak.Chaos {
			per = 3
		}
		assert.Less(t, d.Conns*per, 19000, n)
	}
}
