package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// The goals of roomloop's permessage-deflate, for server CPU per
// delivery in broadcast-json: compressed at most GoalDeflateOwn times
// roomloop uncompressed, and at most GoalDeflatePeer times the baseline
// compressed (gorilla's PreparedMessage), in the same run.
const (
	GoalDeflateOwn  = 1.3
	GoalDeflatePeer = 0.3
)

// CompressionRow is one metric of broadcast-json: each implementation's
// summary over rounds (by implementation name), and the ratios of
// roomloop compressed to roomloop uncompressed (Own) and to the
// baseline compressed (Peer); absent where they mean nothing.
type CompressionRow struct {
	Metric string          `json:"metric"`
	Unit   string          `json:"unit"`
	Impls  map[string]Stat `json:"impls"`
	Own    *float64        `json:"ratio_own,omitempty"`
	Peer   *float64        `json:"ratio_peer,omitempty"`
}

// Goal is one goal, its measured ratio (nil: not measured) and whether
// it is met.
type Goal struct {
	What  string   `json:"what"`
	Limit float64  `json:"limit"`
	Ratio *float64 `json:"ratio,omitempty"`
	Met   bool     `json:"met"`
}

// Compression is broadcast-json's summary: every row, and the two goals
// for each of its phases.
type Compression struct {
	Rows  []CompressionRow `json:"rows"`
	Goals []Goal           `json:"goals"`
}

// CompressionSummary returns broadcast-json's summary; nil when rounds
// have none of it.
func CompressionSummary(rounds []runner.Round) *Compression {
	for _, t := range tables(rounds) {
		if t.scenario == scenario.BroadcastJSONName {
			return t.compression()
		}
	}
	return nil
}

// compression summarizes t, broadcast-json's table.
func (t *table) compression() *Compression {
	c := &Compression{}
	for _, m := range t.metrics {
		row := CompressionRow{Metric: m, Unit: t.units[m], Impls: map[string]Stat{}}
		for _, impl := range scenario.Impls(t.scenario) {
			row.Impls[impl] = summarize(t.values[m][impl])
		}
		d := row.Impls[serve.RoomloopDeflate]
		row.Own, row.Peer = ratio(d, row.Impls[serve.Roomloop]), ratio(d, row.Impls[serve.BaselineDeflate])
		c.Rows = append(c.Rows, row)
		if phase, ok := strings.CutSuffix(m, ": "+scenario.MetricJSONCPU); ok {
			c.Goals = append(c.Goals,
				goal(phase+": server CPU per delivery, roomloop compressed / roomloop uncompressed", GoalDeflateOwn, row.Own),
				goal(phase+": server CPU per delivery, roomloop compressed / baseline compressed", GoalDeflatePeer, row.Peer))
		}
	}
	return c
}

// goal returns the goal what, ratio ≤ limit.
func goal(what string, limit float64, ratio *float64) Goal {
	return Goal{What: what, Limit: limit, Ratio: ratio, Met: ratio != nil && *ratio <= limit}
}

// compressionTable writes broadcast-json's table: every implementation
// side by side, the ratios of roomloop compressed to roomloop and to the
// baseline compressed, the errors, and a line per goal and phase.
func compressionTable(w io.Writer, t *table) {
	impls := scenario.Impls(t.scenario)
	fmt.Fprintf(w, "### %s\n\n| metric |", t.scenario)
	for _, impl := range impls {
		fmt.Fprintf(w, " %s |", impl)
	}
	fmt.Fprintf(w, " ratio %s/%s | ratio %s/%s |\n|---|%s---:|---:|\n", serve.RoomloopDeflate, serve.Roomloop,
		serve.RoomloopDeflate, serve.BaselineDeflate, strings.Repeat("---:|", len(impls)))
	c := t.compression()
	for _, row := range c.Rows {
		fmt.Fprintf(w, "| %s (%s) |", row.Metric, row.Unit)
		for _, impl := range impls {
			fmt.Fprintf(w, " %s |", cell(row.Impls[impl]))
		}
		fmt.Fprintf(w, " %s | %s |\n", ratioCell(row.Own), ratioCell(row.Peer))
	}
	for _, impl := range impls {
		for _, e := range t.errs[impl] {
			fmt.Fprintf(w, "| **error** (%s) | %s |%s\n", impl, strings.ReplaceAll(e, "|", "/"), strings.Repeat(" |", len(impls)+1))
		}
	}
	fmt.Fprintln(w)
	for _, g := range c.Goals {
		verdict := "not measured"
		if g.Ratio != nil {
			verdict = fmt.Sprintf("%.2f, goal ≤ %.1f: ", *g.Ratio, g.Limit)
			if g.Met {
				verdict += "met"
			} else {
				verdict += "not met"
			}
		}
		fmt.Fprintf(w, "- %s: %s\n", g.What, verdict)
	}
	fmt.Fprintln(w)
}
