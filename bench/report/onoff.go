package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/serve"
)

// OnOffLimit is how far turning roomloop's metrics on may move a
// broadcast row: counting must not cost the hot path measurably, and the
// target is that the rows with metrics on and off, in the same run,
// differ by at most 3%.
const OnOffLimit = 0.03

// OnOffRow is one metric of a scenario measured with roomloop's metrics
// off (serve.Roomloop) and on (serve.RoomloopMetrics) in the same run,
// each summarized over rounds, with the ratio of the medians, on/off
// (absent where off's median is 0 or a value is missing), and whether it
// is within OnOffLimit of 1.
type OnOffRow struct {
	Scenario string   `json:"scenario"`
	Metric   string   `json:"metric"`
	Unit     string   `json:"unit"`
	Off      Stat     `json:"off"`
	On       Stat     `json:"on"`
	Ratio    *float64 `json:"ratio,omitempty"`
	Within   bool     `json:"within_limit"`
}

// OnOff returns a row per metric of every scenario that ran against
// serve.RoomloopMetrics (broadcast), in the scenario's metric order.
func OnOff(rounds []runner.Round) []OnOffRow {
	var out []OnOffRow
	for _, t := range tables(rounds) {
		out = append(out, t.onOff()...)
	}
	return out
}

// onOff returns t's rows with metrics on and off; none when t has no
// round with metrics on.
func (t *table) onOff() []OnOffRow {
	if !t.ran[serve.RoomloopMetrics] {
		return nil
	}
	var out []OnOffRow
	for _, m := range t.metrics {
		row := OnOffRow{Scenario: t.scenario, Metric: m, Unit: t.units[m],
			Off: summarize(t.values[m][serve.Roomloop]), On: summarize(t.values[m][serve.RoomloopMetrics])}
		row.Ratio = ratio(row.On, row.Off)
		row.Within = row.Ratio != nil && math.Abs(*row.Ratio-1) <= OnOffLimit
		out = append(out, row)
	}
	return out
}

// onOffSummaries are the metrics that onOffTable sums up in a line each
// (by the end of their names): the delivery rate, and the server's CPU
// per delivery, which the load generator's speed moves less.
var onOffSummaries = []struct{ suffix, title string }{
	{": deliveries/s", "Deliveries/s"},
	{": server CPU per 1M deliveries", "Server CPU per delivery"},
}

// onOffTable writes t's metrics with roomloop's metrics off and on side
// by side, the ratio on/off and whether it is within OnOffLimit, the
// errors of the rounds with metrics on, then a line with the ratios of
// the deliveries/s rows and one with those of the CPU per delivery rows.
func onOffTable(w io.Writer, t *table) {
	fmt.Fprintf(w, "### %s: roomloop with metrics off and on\n\n", t.scenario)
	fmt.Fprintf(w, "| metric | off (`%s`) | on (`%s`) | ratio on/off | within %.0f%% |\n|---|---:|---:|---:|---|\n",
		serve.Roomloop, serve.RoomloopMetrics, OnOffLimit*100)
	rows := t.onOff()
	for _, row := range rows {
		verdict := "–"
		if row.Ratio != nil {
			verdict = yesNo(row.Within)
		}
		fmt.Fprintf(w, "| %s (%s) | %s | %s | %s | %s |\n", row.Metric, row.Unit, cell(row.Off), cell(row.On), ratioCell(row.Ratio), verdict)
	}
	for _, e := range t.errs[serve.RoomloopMetrics] {
		fmt.Fprintf(w, "| **error** (%s) | %s | | | |\n", serve.RoomloopMetrics, strings.ReplaceAll(e, "|", "/"))
	}
	fmt.Fprintln(w)
	for _, sum := range onOffSummaries {
		var parts []string
		all := true
		for _, row := range rows {
			if strings.HasSuffix(row.Metric, sum.suffix) {
				parts = append(parts, strings.TrimSuffix(row.Metric, sum.suffix)+" "+ratioCell(row.Ratio))
				all = all && row.Within
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "%s with metrics on / off: %s. All within %.0f%%: %s.\n\n", sum.title, strings.Join(parts, ", "), OnOffLimit*100, yesNo(all))
		}
	}
}

// yesNo spells b.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
