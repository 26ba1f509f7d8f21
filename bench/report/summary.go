// Package report turns benchmark rounds into Markdown tables (median and
// min–max per implementation, and the ratio of medians) and a JSON file.
package report

import (
	"slices"

	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// Stat summarizes one metric's values over rounds.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// summarize returns the median, min and max of vs.
func summarize(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{}
	}
	s := slices.Sorted(slices.Values(vs))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// table is one scenario's metrics, in first-seen order, with values by
// metric and implementation, and errors by implementation.
type table struct {
	scenario string
	metrics  []string
	units    map[string]string
	values   map[string]map[string][]float64 // metric → column → values
	errs     map[string][]string             // column → errors
	ran      map[string]bool                 // columns with a round
	spreads  map[string][]runner.Round       // column → the rounds that have a spread
}

// columns returns what t compares: the scenario's variants, if it has
// them, else its implementations (scenario.Impls).
func (t *table) columns() []string {
	if vs := scenario.Variants(t.scenario); len(vs) > 0 {
		return vs
	}
	return scenario.Impls(t.scenario)
}

// tables groups rounds by scenario, in first-seen order, and within one
// by column (runner.Round.Column: the variant or the implementation).
func tables(rounds []runner.Round) []*table {
	var ts []*table
	byName := map[string]*table{}
	for _, rd := range rounds {
		t := byName[rd.Scenario]
		if t == nil {
			t = &table{scenario: rd.Scenario, units: map[string]string{},
				values: map[string]map[string][]float64{}, errs: map[string][]string{}, ran: map[string]bool{},
				spreads: map[string][]runner.Round{}}
			byName[rd.Scenario] = t
			ts = append(ts, t)
		}
		col := rd.Column()
		t.ran[col] = true
		if rd.Err != "" {
			t.errs[col] = append(t.errs[col], rd.Err)
		}
		if rd.Spread != nil {
			t.spreads[col] = append(t.spreads[col], rd)
		}
		for _, m := range rd.Metrics {
			if t.values[m.Name] == nil {
				t.metrics = append(t.metrics, m.Name)
				t.units[m.Name] = m.Unit
				t.values[m.Name] = map[string][]float64{}
			}
			t.values[m.Name][col] = append(t.values[m.Name][col], m.Value)
		}
	}
	return ts
}

// WaysInRow is one metric of a scenario measured through roomloop's ways
// in (serve.WaysIn): its own listener (Start), mounted on net/http
// (ServeHTTP) and with native TLS, each summarized over rounds, with the
// ratios of the medians to Start's (absent where Start's is 0 or a
// value is missing).
type WaysInRow struct {
	Scenario  string   `json:"scenario"`
	Metric    string   `json:"metric"`
	Unit      string   `json:"unit"`
	Start     Stat     `json:"start"`
	ServeHTTP Stat     `json:"serve_http"`
	TLS       Stat     `json:"tls"`
	HTTPRatio *float64 `json:"serve_http_ratio,omitempty"`
	TLSRatio  *float64 `json:"tls_ratio,omitempty"`
}

// WaysIn returns a row per metric of every scenario that ran against
// serve.RoomloopHTTP or serve.RoomloopTLS (the idle scenario with
// runner.Config.WaysIn), in the scenario's metric order.
func WaysIn(rounds []runner.Round) []WaysInRow {
	var out []WaysInRow
	for _, t := range tables(rounds) {
		if !t.waysIn() {
			continue
		}
		for _, m := range t.metrics {
			w := serve.WaysIn()
			row := WaysInRow{Scenario: t.scenario, Metric: m, Unit: t.units[m],
				Start: summarize(t.values[m][w[0]]), ServeHTTP: summarize(t.values[m][w[1]]), TLS: summarize(t.values[m][w[2]])}
			row.HTTPRatio, row.TLSRatio = ratio(row.ServeHTTP, row.Start), ratio(row.TLS, row.Start)
			out = append(out, row)
		}
	}
	return out
}

// waysIn reports whether t has rounds of roomloop's other ways in.
func (t *table) waysIn() bool {
	w := serve.WaysIn()
	for _, impl := range w[1:] {
		if t.ran[impl] {
			return true
		}
	}
	return false
}

// ratio returns a.Median/b.Median, or nil where it means nothing.
func ratio(a, b Stat) *float64 {
	if a.N == 0 || b.N == 0 || b.Median == 0 {
		return nil
	}
	r := a.Median / b.Median
	return &r
}
