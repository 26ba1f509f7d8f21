package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/roomloop/roomloop/bench/serve"
)

// uringTable writes t's metrics for roomloop, roomloop with its writes
// submitted through io_uring (serve.RoomloopURing, run with -uring) and
// the baseline side by side, with the ratios of the medians
// io_uring/roomloop, io_uring/baseline and roomloop/baseline, then the
// errors of the io_uring rounds.
func uringTable(w io.Writer, t *table) {
	a, u, b := serve.Roomloop, serve.RoomloopURing, serve.Baseline
	fmt.Fprintf(w, "### %s: roomloop's writes through io_uring\n\n", t.scenario)
	fmt.Fprintf(w, "| metric | %s | %s | %s | ratio %s/%s | ratio %s/%s | ratio %s/%s |\n|---|---:|---:|---:|---:|---:|---:|\n",
		a, u, b, u, a, u, b, a, b)
	for _, m := range t.metrics {
		sa, su, sb := summarize(t.values[m][a]), summarize(t.values[m][u]), summarize(t.values[m][b])
		fmt.Fprintf(w, "| %s (%s) | %s | %s | %s | %s | %s | %s |\n", m, t.units[m], cell(sa), cell(su), cell(sb),
			ratioCell(ratio(su, sa)), ratioCell(ratio(su, sb)), ratioCell(ratio(sa, sb)))
	}
	for _, e := range t.errs[u] {
		fmt.Fprintf(w, "| **error** (%s) | %s | | | | | |\n", u, strings.ReplaceAll(e, "|", "/"))
	}
	fmt.Fprintln(w)
}
