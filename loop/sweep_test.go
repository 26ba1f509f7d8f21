package loop

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestFirstPingSpread: a new connection's first ping falls in the second
// half of the interval, spread over all of it (1,000 draws cover both
// ends of it), so connections made together are pinged apart.
func TestFirstPingSpread(t *testing.T) {
	const interval = 25 * time.Second
	lo, hi := int64(interval), int64(0)
	for range 1000 {
		d := firstPingIn(interval)
		assert.GreaterOrEqual(t, d, int64(interval/2))
		assert.Less(t, d, int64(interval))
		lo, hi = min(lo, d), max(hi, d)
	}
	assert.Less(t, lo, int64(interval/2+interval/20), "the earliest of 1,000 is near the middle")
	assert.Greater(t, hi, int64(interval-interval/20), "the latest is near the end")
	assert.Equal(t, int64(1), firstPingIn(2), "a tiny interval still gives a due time")
}
