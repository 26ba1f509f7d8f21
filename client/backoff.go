package client

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays: docs/clients.md, "Reconnecting".
type backoff struct {
	min, max time.Duration
	jitter   bool
}

// delay returns the wait before attempt n (1 for the first retry): a
// random time in [0, min(max, min·2^(n−1))] with jitter, the bound itself
// without.
func (b backoff) delay(n int) time.Duration {
	ceil := b.min
	for i := 1; i < n && ceil < b.max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, b.max)
	if !b.jitter || ceil <= 0 {
		return ceil
	}
	return rand.N(ceil + 1)
}
