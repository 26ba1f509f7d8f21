package api

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestFanOutBuckets: a fan-out of n lands in the first bucket whose bound
// is at least n; past the last bound, in the overflow bucket.
func TestFanOutBuckets(t *testing.T) {
	key := unsafe.Pointer(&t)
	for _, n := range []int{0, 1, 2, 4, 5, 16, 17, 1000, 1 << 20, 1<<20 + 1, 1 << 30} {
		h := &histograms{}
		h.fannedOut(key, n)
		snap := h.fanOut.snapshot(FanOutBounds, 1)
		want := len(FanOutBounds)
		for i, b := range FanOutBounds {
			if float64(n) <= b {
				want = i
				break
			}
		}
		for i, c := range snap.Counts {
			if i == want {
				assert.Equal(t, uint64(1), c, "n=%d in bucket %d", n, i)
			} else {
				assert.Zero(t, c, "n=%d not in bucket %d", n, i)
			}
		}
		assert.Equal(t, float64(n), snap.Sum)
		assert.Equal(t, uint64(1), snap.Count)
	}
}
