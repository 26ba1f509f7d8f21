package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/roomloop/roomloop/bench/scenario"
)

// spreadBuckets is how many buckets spreadChart draws.
const spreadBuckets = 10

// reconnectTable writes the reconnect scenario's main metrics with one
// row per variant, each cell the median over rounds.
func reconnectTable(w io.Writer, t *table) {
	med := func(metric, col string) string {
		s := summarize(t.values[metric][col])
		if s.N == 0 {
			return "–"
		}
		return num(s.Median)
	}
	rounds := 0
	for _, col := range t.columns() {
		rounds = max(rounds, len(t.values[scenario.MetricReconnectMax][col]))
	}
	fmt.Fprintf(w, "### %s: by variant\n\n", t.scenario)
	if rounds > 1 {
		fmt.Fprintf(w, "Medians of %d rounds.\n\n", rounds)
	}
	fmt.Fprintln(w, "| variant | reconnect p50 / p90 / p99 / max (ms after SIGTERM) | peak accepts/s (1 s window) | mean accepts/s | failed attempts | handshake p99 (ms) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, col := range t.columns() {
		if !t.ran[col] {
			continue
		}
		fmt.Fprintf(w, "| %s | %s / %s / %s / %s | %s | %s | %s | %s |\n", col,
			med(scenario.MetricReconnectP50, col), med(scenario.MetricReconnectP90, col),
			med(scenario.MetricReconnectP99, col), med(scenario.MetricReconnectMax, col),
			med(scenario.MetricPeakAccepts, col), med(scenario.MetricMeanAccepts, col),
			med(scenario.MetricFailed, col), med(scenario.MetricHandshakeP99, col))
	}
	fmt.Fprintln(w)
}

// spreadChart draws t's spreads as text histograms of spreadBuckets
// buckets, one per column, on a common time scale and a common bar
// scale: the clients back in each bucket and the failed attempts in it,
// each the mean over the column's rounds.
func spreadChart(w io.Writer, t *table) {
	var fine float64 // ms per bucket of the recorded spreads
	longest := 0
	for _, col := range t.columns() {
		for _, s := range t.spreads[col] {
			fine = s.BucketMS
			longest = max(longest, len(s.Back), len(s.Failed))
		}
	}
	if longest == 0 || fine <= 0 {
		return
	}
	per := (longest + spreadBuckets - 1) / spreadBuckets // recorded buckets per drawn one
	n := (longest + per - 1) / per
	type series struct {
		col          string
		back, failed []float64
	}
	var all []series
	peak := 0.0
	origin := ""
	for _, col := range t.columns() {
		ss := t.spreads[col]
		if len(ss) == 0 {
			continue
		}
		se := series{col: col, back: make([]float64, n), failed: make([]float64, n)}
		for _, s := range ss {
			origin = s.Origin
			for i, v := range s.Back {
				se.back[i/per] += float64(v) / float64(len(ss))
			}
			for i, v := range s.Failed {
				se.failed[i/per] += float64(v) / float64(len(ss))
			}
		}
		for _, v := range se.back {
			peak = max(peak, v)
		}
		all = append(all, se)
	}
	width := fine * float64(per) / 1000 // seconds per drawn bucket
	fmt.Fprintf(w, "### %s: spread over time\n\n", t.scenario)
	fmt.Fprintf(w, "Clients back in each %s s after the %s, and the failed attempts in it (means over rounds).\n\n```text\n", secs(width), origin)
	const bar = 40
	for _, se := range all {
		listen := summarize(t.values[scenario.MetricNewListening][se.col])
		fmt.Fprintf(w, "%s (new server listening at %s s)\n", se.col, secs(listen.Median/1000))
		for i := range n {
			k := 0
			if peak > 0 {
				k = int(math.Round(se.back[i] / peak * bar))
			}
			fmt.Fprintf(w, "  %6s–%-6s |%-*s| %6.0f back  %6.0f failed\n",
				secs(float64(i)*width), secs(float64(i+1)*width)+" s", bar, strings.Repeat("#", k), se.back[i], se.failed[i])
		}
	}
	fmt.Fprint(w, "```\n\n")
}

// secs formats seconds with up to three decimals, trailing zeros cut.
func secs(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	if strings.HasSuffix(s, ".") {
		s += "0"
	}
	return s
}
