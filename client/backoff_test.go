package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestBackoffFullJitter: attempt n waits a uniform random time up to
// min(max, min·2^(n−1)); without jitter, the bound itself.
func TestBackoffFullJitter(t *testing.T) {
	b := backoff{min: 500 * time.Millisecond, max: 20 * time.Second, jitter: true}
	for n, bound := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 4: 4 * time.Second, 6: 16 * time.Second, 7: 20 * time.Second, 30: 20 * time.Second} {
		var sum time.Duration
		const samples = 10000
		for range samples {
			d := b.delay(n)
			assert.GreaterOrEqual(t, d, time.Duration(0))
			assert.LessOrEqual(t, d, bound)
			sum += d
		}
		mean := sum / samples
		assert.InDelta(t, float64(bound/2), float64(mean), float64(bound)/20, "attempt %d: the mean of a uniform wait is half its bound", n)
		assert.Equal(t, bound, backoff{min: b.min, max: b.max}.delay(n), "without jitter")
	}
}

// TestBackoffSpreadsAStorm: 10,000 clients dropped at once spread their
// first retries over the whole first window instead of arriving together:
// no 50 ms slice of the 500 ms window gets more than 15% of them (a
// uniform spread gives 10%), while without jitter all come in one instant.
func TestBackoffSpreadsAStorm(t *testing.T) {
	b := backoff{min: 500 * time.Millisecond, max: 20 * time.Second, jitter: true}
	var slices [11]int
	for range 10000 {
		slices[b.delay(1)/(50*time.Millisecond)]++
	}
	for i, n := range slices[:10] {
		assert.Less(t, n, 1500, "slice %d", i)
		assert.Greater(t, n, 500, "slice %d", i)
	}
	same := 0
	for range 10000 {
		if (backoff{min: b.min, max: b.max}).delay(1) == b.min {
			same++
		}
	}
	assert.Equal(t, 10000, same)
}
