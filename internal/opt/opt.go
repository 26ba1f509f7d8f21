// Package opt fills in defaults for option structs.
package opt

import "time"

// Default sets *p to def when it is zero or negative (an unset option).
func Default[T int | int64 | time.Duration](p *T, def T) {
	if *p <= 0 {
		*p = def
	}
}
