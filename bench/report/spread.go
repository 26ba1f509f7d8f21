package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/roomloop/roomloop/bench/runner"
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

// resumeLoadTable writes resume-load's main metrics as one row, each cell
// the median over rounds, to set beside the row of another run.
func resumeLoadTable(w io.Writer, t *table, col string) {
	med := func(metric string) string {
		s := summarize(t.values[metric][col])
		if s.N == 0 {
			return "–"
		}
		return num(s.Median)
	}
	fmt.Fprintf(w, "### %s: row\n\n", t.scenario)
	fmt.Fprintln(w, "| run | resumes | refused gap / expired / unknown / invalid | frames recovered | room frames not recovered | publisher closes | presence frames | reconnect p50 / p99 (ms) | server RSS per session (KiB) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| %s | %s | %s / %s / %s / %s | %s | %s | %s | %s | %s / %s | %s |\n\n", col,
		med(scenario.MetricRLResumes), med(scenario.MetricRLGap), med(scenario.MetricRLExpired),
		med(scenario.MetricRLUnknown), med(scenario.MetricRLInvalid), med(scenario.MetricRLRecovered),
		med(scenario.MetricRLLost), med(scenario.MetricRLPubCloses), med(scenario.MetricRLPresence),
		med(scenario.MetricRLReconnectP50), med(scenario.MetricRLReconnectP99), med(scenario.MetricRLMemory))
}

// medianRound returns, of rounds, the one whose reconnect p50 is the
// median (the lower one of an even count): a real round's spread, which
// a mean over rounds that restarted at different speeds would smear.
func medianRound(rounds []runner.Round) runner.Round {
	sorted := slices.Clone(rounds)
	slices.SortStableFunc(sorted, func(a, b runner.Round) int {
		x, _ := metricOf(a, scenario.MetricReconnectP50)
		y, _ := metricOf(b, scenario.MetricReconnectP50)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	return sorted[(len(sorted)-1)/2]
}

// metricOf returns rd's metric called name.
func metricOf(rd runner.Round, name string) (float64, bool) {
	for _, m := range rd.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// spreadChart draws the spread of each column's median round (by
// reconnect p50) as a text histogram of spreadBuckets buckets, all on one
// time scale and one bar scale: the clients back in each bucket and the
// failed attempts in it.
func spreadChart(w io.Writer, t *table) {
	type series struct {
		col   string
		round runner.Round
	}
	var all []series
	var fine float64 // ms per bucket of the recorded spreads
	longest := 0
	for _, col := range t.columns() {
		if len(t.spreads[col]) == 0 {
			continue
		}
		rd := medianRound(t.spreads[col])
		all = append(all, series{col, rd})
		fine = rd.Spread.BucketMS
		longest = max(longest, len(rd.Spread.Back), len(rd.Spread.Failed))
	}
	if longest == 0 || fine <= 0 {
		return
	}
	per := (longest + spreadBuckets - 1) / spreadBuckets // recorded buckets per drawn one
	n := (longest + per - 1) / per
	sum := func(vs []int) []int {
		out := make([]int, n)
		for i, v := range vs {
			out[i/per] += v
		}
		return out
	}
	peak := 0
	for _, se := range all {
		peak = max(peak, slices.Max(append(sum(se.round.Spread.Back), 0)))
	}
	width := fine * float64(per) / 1000 // seconds per drawn bucket
	fmt.Fprintf(w, "### %s: spread over time\n\n", t.scenario)
	fmt.Fprintf(w, "Clients back in each %s s after the %s, and the failed attempts in it", secs(width), all[0].round.Spread.Origin)
	if len(t.spreads[all[0].col]) > 1 {
		fmt.Fprint(w, "; of each variant, the round with the median reconnect p50")
	}
	fmt.Fprint(w, ".\n\n```text\n")
	const bar = 40
	for _, se := range all {
		listen, _ := metricOf(se.round, scenario.MetricNewListening)
		fmt.Fprintf(w, "%s, round %d (new server listening at %s s)\n", se.col, se.round.Round, secs(listen/1000))
		back, failed := sum(se.round.Spread.Back), sum(se.round.Spread.Failed)
		for i := range n {
			k := 0
			if peak > 0 {
				k = int(math.Round(float64(back[i]) / float64(peak) * bar))
			}
			fmt.Fprintf(w, "  %6s–%-6s |%-*s| %6d back  %6d failed\n",
				secs(float64(i)*width), secs(float64(i+1)*width)+" s", bar, strings.Repeat("#", k), back[i], failed[i])
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
