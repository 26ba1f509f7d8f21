package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// Markdown writes one table per scenario: metric | roomloop | baseline |
// ratio roomloop/baseline, each cell the median over rounds with the
// min–max spread, and any errors under the table. A scenario with
// variants (reconnect) has a column per variant instead, and with them a
// row per variant of its main metrics and the spread of its events over
// time. A scenario run against one implementation (api-publish) has one
// column. broadcast is followed by roomloop with metrics on against off,
// or with its writes through io_uring (run with -uring). broadcast-json
// has one table of its four implementations, with and without
// compression, and the goals of compression (compress.go).
func Markdown(w io.Writer, rounds []runner.Round) {
	for _, t := range tables(rounds) {
		cols := t.columns()
		if t.scenario == scenario.BroadcastJSONName {
			compressionTable(w, t)
			continue
		}
		if len(cols) == 1 {
			singleTable(w, t, cols[0])
			continue
		}
		a, b := cols[0], cols[len(cols)-1]
		fmt.Fprintf(w, "### %s\n\n", t.scenario)
		fmt.Fprintf(w, "| metric | %s | %s | ratio %s/%s |%s\n|---|---:|---:|---:|%s\n", a, b, a, b, t.peerHeader(a), t.peerRule())
		for _, m := range t.metrics {
			sa, sb := summarize(t.values[m][a]), summarize(t.values[m][b])
			ratio := "–"
			if sa.N > 0 && sb.N > 0 && sb.Median != 0 {
				ratio = strconv.FormatFloat(sa.Median/sb.Median, 'f', 2, 64)
			}
			fmt.Fprintf(w, "| %s (%s) | %s | %s | %s |%s\n", m, t.units[m], cell(sa), cell(sb), ratio, t.peerCells(m, sa))
		}
		for _, impl := range append([]string{a, b}, t.peers()...) {
			for _, e := range t.errs[impl] {
				fmt.Fprintf(w, "| **error** (%s) | %s | | |\n", impl, strings.ReplaceAll(e, "|", "/"))
			}
		}
		fmt.Fprintln(w)
		peerNote(w, t, rounds)
		if t.waysIn() {
			waysInTable(w, t)
		}
		if t.ran[serve.RoomloopMetrics] {
			onOffTable(w, t)
		}
		if t.ran[serve.RoomloopURing] {
			uringTable(w, t)
		}
		if t.scenario == "reconnect" {
			reconnectTable(w, t)
		}
		if len(t.spreads) > 0 {
			spreadChart(w, t)
		}
	}
}

// singleTable writes the table of a scenario with one column (a single
// variant: resume-load, or one implementation: api-publish), its errors,
// and for resume-load its summary row.
func singleTable(w io.Writer, t *table, col string) {
	fmt.Fprintf(w, "### %s\n\n| metric | %s |\n|---|---:|\n", t.scenario, col)
	for _, m := range t.metrics {
		fmt.Fprintf(w, "| %s (%s) | %s |\n", m, t.units[m], cell(summarize(t.values[m][col])))
	}
	for _, e := range t.errs[col] {
		fmt.Fprintf(w, "| **error** (%s) | %s |\n", col, strings.ReplaceAll(e, "|", "/"))
	}
	fmt.Fprintln(w)
	if t.scenario == "resume-load" {
		resumeLoadTable(w, t, col)
	}
}

// waysInTable writes t's metrics through roomloop's ways in, Start,
// ServeHTTP and TLS, side by side, with ratios to Start, and the errors
// of the other two under the table.
func waysInTable(w io.Writer, t *table) {
	ways := serve.WaysIn()
	fmt.Fprintf(w, "### %s: roomloop's ways in\n\n", t.scenario)
	fmt.Fprintf(w, "| metric | Start (`%s`) | ServeHTTP (`%s`) | TLS (`%s`) | ratio ServeHTTP/Start | ratio TLS/Start |\n|---|---:|---:|---:|---:|---:|\n",
		ways[0], ways[1], ways[2])
	for _, m := range t.metrics {
		st, sh, ss := summarize(t.values[m][ways[0]]), summarize(t.values[m][ways[1]]), summarize(t.values[m][ways[2]])
		fmt.Fprintf(w, "| %s (%s) | %s | %s | %s | %s | %s |\n", m, t.units[m], cell(st), cell(sh), cell(ss), ratioCell(ratio(sh, st)), ratioCell(ratio(ss, st)))
	}
	for _, impl := range ways[1:] {
		for _, e := range t.errs[impl] {
			fmt.Fprintf(w, "| **error** (%s) | %s | | | | |\n", impl, strings.ReplaceAll(e, "|", "/"))
		}
	}
	fmt.Fprintln(w)
}

// ratioCell formats a ratio, "–" for none.
func ratioCell(r *float64) string {
	if r == nil {
		return "–"
	}
	return strconv.FormatFloat(*r, 'f', 2, 64)
}

// cell formats a median with its spread.
func cell(s Stat) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 || s.Min == s.Max {
		return num(s.Median)
	}
	return num(s.Median) + " (" + num(s.Min) + "–" + num(s.Max) + ")"
}

// num formats v with about three significant digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == math.Trunc(v) && a < 1e6:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
