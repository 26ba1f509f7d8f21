package report

import (
	"fmt"
	"io"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// peers returns the comparators besides the baseline that ran t's
// scenario, in this order: serve.Centrifuge, serve.Floor; or none.
func (t *table) peers() []string {
	var ps []string
	for _, p := range []string{serve.Centrifuge, serve.Floor} {
		if t.ran[p] {
			ps = append(ps, p)
		}
	}
	return ps
}

// peerHeader returns the extra header cells of t's main table: each
// peer, and the ratio of a (roomloop) to it.
func (t *table) peerHeader(a string) string {
	s := ""
	for _, p := range t.peers() {
		s += fmt.Sprintf(" %s | ratio %s/%s |", p, a, p)
	}
	return s
}

// peerRule returns the extra cells of the header's rule line.
func (t *table) peerRule() string {
	s := ""
	for range t.peers() {
		s += "---:|---:|"
	}
	return s
}

// peerCells returns metric m's extra cells: each peer's value and the
// ratio of sa (roomloop's) to it.
func (t *table) peerCells(m string, sa Stat) string {
	s := ""
	for _, p := range t.peers() {
		sp := summarize(t.values[m][p])
		s += fmt.Sprintf(" %s | %s |", cell(sp), ratioCell(ratio(sa, sp)))
	}
	return s
}

// peerNote says, under a table of a run that had the centrifuge
// comparator, why it has no centrifuge column.
func peerNote(w io.Writer, t *table, rounds []runner.Round) {
	if _, ok := scenario.ByName(t.scenario); !ok || t.ran[serve.Centrifuge] || scenario.Variants(t.scenario) != nil {
		return // a calibration run, a scenario centrifuge ran, or roomloop's variants
	}
	for _, rd := range rounds {
		if rd.Impl == serve.Centrifuge {
			fmt.Fprintf(w, "%s: not run against centrifuge, which runs idle, broadcast, echo and connect only.\n\n", t.scenario)
			return
		}
	}
}
