package soak

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/internal/opt"
)

// Limits are the failure rules of the soak plan (bench/README.md,
// section "Soak"), with the tolerances
// that short runs need. The zero value of a field takes its default
// (DefaultLimits).
type Limits struct {
	// RSSPerMin is the largest RSS drift allowed, in MiB per minute:
	// the slope of a least-squares line through the last two thirds of the
	// samples. Default 0.5.
	RSSPerMin float64 `json:"rss_mib_per_min"`
	// RSSNoise (MiB) forgives a drift whose total over the fitted window
	// (slope × window) is at most this much: a run of a few seconds cannot
	// tell a page of allocator growth from a leak. Default 0 (the plain
	// rule); short CI runs set a few MiB.
	RSSNoise float64 `json:"rss_noise_mib"`
	// FDSlack is how many descriptors above the baseline the server may
	// hold once quiet. Default 10.
	FDSlack int `json:"fd_slack"`
	// P99Ratio bounds the last third's p99 against the first third's.
	// Default 1.25.
	P99Ratio float64 `json:"p99_ratio"`
	// P99Slack (ms) forgives a p99 increase no larger than this, whatever
	// the ratio: on loopback, sub-millisecond p99s move by more than 25%
	// from scheduler noise alone. Default 1ms; -1 for none.
	P99Slack float64 `json:"p99_slack_ms"`
	// HealthyDrift bounds the slow-mix healthy p99 drift: the fitted
	// change over the last two thirds relative to their mean. Default 0.10.
	HealthyDrift float64 `json:"healthy_p99_drift"`
	// HostileRatio bounds the hostile-mix healthy p99 against the clean
	// phase's. Default 1.2.
	HostileRatio float64 `json:"hostile_p99_ratio"`
	// LatencyInfo reports the latency rules without enforcing them: for
	// tests on a shared machine, which must not assert on speed.
	LatencyInfo bool `json:"latency_info,omitempty"`
}

// latency marks c informational when lim says latency rules are not
// enforced.
func (l Limits) latency(c Check) Check {
	if l.LatencyInfo {
		c.Info = true
		c.Detail = strings.TrimPrefix(c.Detail+"; not enforced (LatencyInfo)", "; ")
	}
	return c
}

// DefaultLimits returns the soak plan's rules.
func DefaultLimits() Limits {
	return Limits{RSSPerMin: 0.5, FDSlack: 10, P99Ratio: 1.25, P99Slack: 1, HealthyDrift: 0.10, HostileRatio: 1.2}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	opt.Default(&l.RSSPerMin, d.RSSPerMin)
	opt.Default(&l.FDSlack, d.FDSlack)
	opt.Default(&l.P99Ratio, d.P99Ratio)
	switch {
	case l.P99Slack == 0:
		l.P99Slack = d.P99Slack
	case l.P99Slack < 0:
		l.P99Slack = 0
	}
	opt.Default(&l.HealthyDrift, d.HealthyDrift)
	opt.Default(&l.HostileRatio, d.HostileRatio)
	return l
}

// Check is one rule applied to a run. Info checks are reported but never
// fail the run.
type Check struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit,omitempty"`
	Pass  bool    `json:"pass"`
	Info  bool    `json:"info,omitempty"`
	// AtLeast: the value must reach Limit (else it must not exceed it).
	AtLeast bool   `json:"at_least,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// String formats c as "name value unit (limit L): detail".
func (c Check) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", c.Name, num(c.Value))
	if c.Unit != "" {
		b.WriteString(" " + c.Unit)
	}
	switch {
	case c.Info:
	case c.AtLeast:
		fmt.Fprintf(&b, " (must be ≥ %s)", num(c.Limit))
	default:
		fmt.Fprintf(&b, " (must be ≤ %s)", num(c.Limit))
	}
	if c.Detail != "" {
		b.WriteString(": " + c.Detail)
	}
	return b.String()
}

// Failed returns the checks that failed.
func Failed(cs []Check) []Check {
	var out []Check
	for _, c := range cs {
		if !c.Pass && !c.Info {
			out = append(out, c)
		}
	}
	return out
}

// Slope returns the least-squares slope of ys over xs (0 for fewer than
// two points or no spread in xs).
func Slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxy, sxx float64
	for i := range xs {
		dx := xs[i] - mx
		sxy += dx * (ys[i] - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// Thirds splits n samples: the first third is [0, a), the last two thirds
// [a, n) and the last third [b, n). For n < 3 every part is the whole.
func Thirds(n int) (a, b int) {
	if n < 3 {
		return 0, 0
	}
	return n / 3, n - n/3
}

// Drift returns the slope per minute of get over the last two thirds of
// the samples, and that window's length in minutes.
func Drift(ss []Sample, get func(Sample) float64) (perMin, window float64) {
	a, _ := Thirds(len(ss))
	tail := ss[a:]
	if len(tail) < 2 {
		return 0, 0
	}
	xs := make([]float64, len(tail))
	ys := make([]float64, len(tail))
	for i, s := range tail {
		xs[i] = s.T / 60
		ys[i] = get(s)
	}
	return Slope(xs, ys), xs[len(xs)-1] - xs[0]
}

// merged returns one histogram of the samples' latency histograms.
func merged(ss []Sample) *load.Hist {
	h := new(load.Hist)
	for _, s := range ss {
		if s.Hist != nil {
			h.Merge(s.Hist)
		}
	}
	return h
}

// msOf converts a duration to milliseconds.
func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

const mib = 1 << 20

// Baseline is the server before the load: what goroutines and descriptors
// are measured against.
type Baseline struct {
	Goroutines int    `json:"goroutines"`
	FDs        int    `json:"fds"`
	RSS        uint64 `json:"rss"`
	Heap       uint64 `json:"heap_inuse"`
	PoolSize   int    `json:"pool_size"`
}

// Evaluate applies the rules that hold for every run to its samples:
// RSS drift, the goroutine ceiling, and last-third against first-third
// p99. It also reports heap, goroutine and descriptor drift as
// information. (The quiet descriptor check needs the server after the
// run; see QuietFDs.)
func Evaluate(ss []Sample, base Baseline, lim Limits) []Check {
	lim = lim.withDefaults()
	var cs []Check
	if len(ss) == 0 {
		return []Check{{Name: "samples", Limit: 1, Detail: "no samples were taken"}}
	}
	rss, win := Drift(ss, func(s Sample) float64 { return float64(s.RSS) / mib })
	c := Check{Name: "rss drift", Value: rss, Limit: lim.RSSPerMin, Unit: "MiB/min", Pass: rss <= lim.RSSPerMin}
	if len(ss) < 3 {
		c.Detail = "fewer than 3 samples: fitted over all"
	}
	if !c.Pass && lim.RSSNoise > 0 && rss*win <= lim.RSSNoise {
		c.Pass = true
		c.Detail = fmt.Sprintf("forgiven: %.2f MiB over the %.2f-min window is within the %.1f MiB noise allowance", rss*win, win, lim.RSSNoise)
	}
	cs = append(cs, c)

	maxG, at := 0, 0.0
	for _, s := range ss {
		if s.Goroutines > maxG {
			maxG, at = s.Goroutines, s.T
		}
	}
	gl := base.Goroutines + base.PoolSize
	cs = append(cs, Check{Name: "goroutines", Value: float64(maxG), Limit: float64(gl), Unit: "max",
		Pass: maxG <= gl, Detail: fmt.Sprintf("peak at t=%.0fs; baseline %d + pool %d", at, base.Goroutines, base.PoolSize)})

	a, b := Thirds(len(ss))
	if a > 0 {
		first, last := merged(ss[:a]), merged(ss[b:])
		if first.Count() > 0 && last.Count() > 0 {
			p1, p3 := msOf(first.Quantile(0.99)), msOf(last.Quantile(0.99))
			ratio := p3 / p1
			c := Check{Name: "p99 last/first third", Value: ratio, Limit: lim.P99Ratio, Unit: "ratio",
				Pass: ratio <= lim.P99Ratio, Detail: fmt.Sprintf("%.3f ms → %.3f ms", p1, p3)}
			if !c.Pass && p3-p1 <= lim.P99Slack {
				c.Pass = true
				c.Detail += fmt.Sprintf(" (forgiven: +%.3f ms is within the %.1f ms slack)", p3-p1, lim.P99Slack)
			}
			cs = append(cs, lim.latency(c))
		}
	}

	heap, _ := Drift(ss, func(s Sample) float64 { return float64(s.Heap) / mib })
	gor, _ := Drift(ss, func(s Sample) float64 { return float64(s.Goroutines) })
	fds, _ := Drift(ss, func(s Sample) float64 { return float64(s.FDs) })
	cs = append(cs,
		Check{Name: "heap drift", Value: heap, Unit: "MiB/min", Pass: true, Info: true},
		Check{Name: "goroutine drift", Value: gor, Unit: "/min", Pass: true, Info: true},
		Check{Name: "fd drift", Value: fds, Unit: "/min", Pass: true, Info: true})
	return cs
}

// QuietFDs checks the server's descriptors once it has no connections.
func QuietFDs(fds int, base Baseline, lim Limits) Check {
	lim = lim.withDefaults()
	l := base.FDs + lim.FDSlack
	return Check{Name: "fds once quiet", Value: float64(fds), Limit: float64(l), Pass: fds <= l,
		Detail: fmt.Sprintf("baseline %d + %d", base.FDs, lim.FDSlack)}
}

// P99Drift is the slow-mix rule: the change of the per-sample p99 fitted
// over the last two thirds, relative to their mean p99. Only a rise fails.
func P99Drift(ss []Sample, lim Limits) Check {
	lim = lim.withDefaults()
	slope, win := Drift(ss, func(s Sample) float64 { return s.P99 })
	a, _ := Thirds(len(ss))
	var sum float64
	n := 0
	for _, s := range ss[a:] {
		if s.Deliveries > 0 {
			sum += s.P99
			n++
		}
	}
	c := Check{Name: "healthy p99 drift", Unit: "fraction", Limit: lim.HealthyDrift, Pass: true}
	if n == 0 || sum == 0 {
		c.Detail = "no deliveries"
		c.Pass = false
		return lim.latency(c)
	}
	mean := sum / float64(n)
	c.Value = slope * win / mean
	c.Pass = c.Value <= lim.HealthyDrift
	c.Detail = fmt.Sprintf("%+.3f ms/min over %.2f min, mean p99 %.3f ms", slope, win, mean)
	if !c.Pass && slope*win <= lim.P99Slack {
		c.Pass = true
		c.Detail += fmt.Sprintf(" (forgiven: +%.3f ms is within the %.1f ms slack)", slope*win, lim.P99Slack)
	}
	return lim.latency(c)
}

// PhaseRatio compares the p99 of the samples of phase "hostile" with
// those of phase "clean" (hostile mix).
func PhaseRatio(ss []Sample, lim Limits) Check {
	lim = lim.withDefaults()
	var clean, bad []Sample
	for _, s := range ss {
		switch s.Phase {
		case phaseClean:
			clean = append(clean, s)
		case phaseHostile:
			bad = append(bad, s)
		}
	}
	c := Check{Name: "healthy p99 hostile/clean", Unit: "ratio", Limit: lim.HostileRatio}
	hc, hb := merged(clean), merged(bad)
	if hc.Count() == 0 || hb.Count() == 0 {
		c.Detail = "a phase has no deliveries"
		return lim.latency(c)
	}
	p1, p2 := msOf(hc.Quantile(0.99)), msOf(hb.Quantile(0.99))
	c.Value = p2 / p1
	c.Pass = c.Value <= lim.HostileRatio
	c.Detail = fmt.Sprintf("clean %.3f ms, hostile %.3f ms", p1, p2)
	if !c.Pass && p2-p1 <= lim.P99Slack {
		c.Pass = true
		c.Detail += fmt.Sprintf(" (forgiven: +%.3f ms is within the %.1f ms slack)", p2-p1, lim.P99Slack)
	}
	return lim.latency(c)
}

// count is a check that a counter stayed at or under limit.
func count(name string, v int64, limit int64, detail string) Check {
	return Check{Name: name, Value: float64(v), Limit: float64(limit), Pass: v <= limit, Detail: detail}
}

// atLeast is a check that v reached limit.
func atLeast(name string, v, limit int64, detail string) Check {
	return Check{Name: name, Value: float64(v), Limit: float64(limit), Pass: v >= limit, AtLeast: true, Detail: detail}
}

// num formats v with about three significant digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case v == math.Trunc(v) && a < 1e9:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
