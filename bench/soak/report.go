package soak

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/roomloop/roomloop/bench/report"
)

// File is a soak report as report.WriteJSON stores it.
type File struct {
	Command string         `json:"command"`
	Machine report.Machine `json:"machine"`
	Limits  Limits         `json:"limits"`
	Runs    []*Result      `json:"runs"`
}

// Markdown writes each run: its parameters, a table of its samples, its
// checks and its verdict; then a table of the verdicts.
func Markdown(w io.Writer, rs []*Result) {
	for _, r := range rs {
		fmt.Fprintf(w, "### %s\n\n", r.Run)
		keys := slices.Sorted(maps.Keys(r.Params))
		var ps []string
		for _, k := range keys {
			ps = append(ps, fmt.Sprintf("%s=%v", k, r.Params[k]))
		}
		fmt.Fprintf(w, "Parameters: %s. Baseline: %d goroutines (pool %d), %d fds, RSS %.1f MiB, heap %.1f MiB. Took %.0f s. Server log: `%s`.\n\n",
			strings.Join(ps, ", "), r.Baseline.Goroutines, r.Baseline.PoolSize, r.Baseline.FDs,
			float64(r.Baseline.RSS)/mib, float64(r.Baseline.Heap)/mib, r.Seconds, r.ServerLog)
		SampleTable(w, r.Samples)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| check | value | limit | result |\n|---|---:|---:|---|")
		for _, c := range r.Checks {
			limit, result := num(c.Limit), "pass"
			switch {
			case c.Info:
				limit, result = "–", "info"
			case c.AtLeast:
				limit = "≥ " + limit
			default:
				limit = "≤ " + limit
			}
			if !c.Pass && !c.Info {
				result = "**FAIL**"
			}
			v := num(c.Value)
			if c.Unit != "" {
				v += " " + c.Unit
			}
			detail := ""
			if c.Detail != "" {
				detail = " — " + c.Detail
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s%s |\n", c.Name, v, limit, result, cellSafe(detail))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "\n- %s", n)
		}
		if len(r.Notes) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "\n**Verdict (%s): %s**\n\n", r.Run, r.Verdict())
	}
	if len(rs) > 1 {
		Verdicts(w, rs)
	}
}

// Verdicts writes one row per run.
func Verdicts(w io.Writer, rs []*Result) {
	fmt.Fprintln(w, "| run | samples | verdict |\n|---|---:|---|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %s |\n", r.Run, len(r.Samples), cellSafe(r.Verdict()))
	}
	fmt.Fprintln(w)
}

// SampleTable writes the samples as a Markdown table.
func SampleTable(w io.Writer, ss []Sample) {
	fmt.Fprintln(w, "| t (s) | RSS (MiB) | heap (MiB) | fds | goroutines | conns | sessions | susp. | rooms | queued (KiB) | deliveries | p50 (ms) | p99 (ms) | p999 (ms) | close codes (clients) | sessions ended (server) | drops | counters |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|")
	for _, s := range ss {
		counters := fmtCounts(s.Counters)
		if s.Phase != "" {
			counters = "phase=" + s.Phase + " " + counters
		}
		fmt.Fprintf(w, "| %.0f | %.1f | %.1f | %d | %d | %d | %d | %d | %d | %.0f | %d | %s | %s | %s | %s | %s | %d | %s |\n",
			s.T, float64(s.RSS)/mib, float64(s.Heap)/mib, s.FDs, s.Goroutines, s.Conns, s.Sessions, s.Suspended, s.Rooms,
			float64(s.Queued)/1024, s.Deliveries, ms3(s.P50, s.Deliveries), ms3(s.P99, s.Deliveries), ms3(s.P999, s.Deliveries),
			codes(s.Closes), codes(s.Ended), s.Drops, counters)
	}
}

// ms3 formats a latency, "–" without deliveries.
func ms3(v float64, n int64) string {
	if n == 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// codes formats a close-code histogram as "1000:3 1001:2".
func codes(m map[string]int64) string {
	if len(m) == 0 {
		return "–"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+":"+strconv.FormatInt(m[k], 10))
	}
	return strings.Join(parts, " ")
}

// cellSafe keeps text inside one table cell.
func cellSafe(s string) string {
	return strings.NewReplacer("|", "/", "\n", " ").Replace(s)
}
