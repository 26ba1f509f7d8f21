// Package report turns benchmark rounds into Markdown tables (median and
// min–max per implementation, and the ratio of medians) and a JSON file.
package report

import (
	"slices"

	"github.com/roomloop/roomloop/bench/runner"
)

// Stat summarizes one metric's values over rounds.
type Stat struct {
	Median, Min, Max float64
	N                int
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
	values   map[string]map[string][]float64 // metric → impl → values
	errs     map[string][]string             // impl → errors
}

// tables groups rounds by scenario, in first-seen order.
func tables(rounds []runner.Round) []*table {
	var ts []*table
	byName := map[string]*table{}
	for _, rd := range rounds {
		t := byName[rd.Scenario]
		if t == nil {
			t = &table{scenario: rd.Scenario, units: map[string]string{},
				values: map[string]map[string][]float64{}, errs: map[string][]string{}}
			byName[rd.Scenario] = t
			ts = append(ts, t)
		}
		if rd.Err != "" {
			t.errs[rd.Impl] = append(t.errs[rd.Impl], rd.Err)
		}
		for _, m := range rd.Metrics {
			if t.values[m.Name] == nil {
				t.metrics = append(t.metrics, m.Name)
				t.units[m.Name] = m.Unit
				t.values[m.Name] = map[string][]float64{}
			}
			t.values[m.Name][rd.Impl] = append(t.values[m.Name][rd.Impl], m.Value)
		}
	}
	return ts
}
