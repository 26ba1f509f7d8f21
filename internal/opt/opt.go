// Package opt fills in defaults for option structs.
package opt

import "time"

// Default sets *p to def when it is zero or negative: unset. (api's
// Options refuse negative values where they do not mean "off" before this
// runs; see api.Options.Validate.)
func Default[T int | int64 | float64 | time.Duration](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}
