package load

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histSub is the number of sub-buckets per power of two (about 3% wide).
const histSub = 32

// Hist is a lock-free latency histogram of durations from 1ns to about
// 2^63ns, log-linear with histSub buckets per power of two. It is safe for
// concurrent use.
type Hist struct {
	b     [64 * histSub]atomic.Uint64
	count atomic.Uint64
}

// bucket returns the bucket of v nanoseconds.
func bucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v in [2^e, 2^(e+1))
	sub := (v >> (e - 5)) & (histSub - 1)
	return (e-4)*histSub + int(sub)
}

// lower returns the smallest value of bucket i.
func lower(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub + 4
	sub := uint64(i % histSub)
	return (1 << e) | sub<<(e-5)
}

// Add records d (negative counts as 0).
func (h *Hist) Add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.b[bucket(uint64(d))].Add(1)
	h.count.Add(1)
}

// Count returns the number of recorded values.
func (h *Hist) Count() uint64 { return h.count.Load() }

// Quantile returns the q-quantile (0..1), as the middle of its bucket;
// 0 if nothing was recorded.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n-1)) + 1
	var seen uint64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= rank {
			lo, hi := lower(i), lower(i+1)
			return time.Duration(lo + (hi-lo)/2)
		}
	}
	return time.Duration(lower(len(h.b) - 1))
}

// Merge adds o's values to h.
func (h *Hist) Merge(o *Hist) {
	var n uint64
	for i := range o.b {
		if v := o.b[i].Load(); v > 0 {
			h.b[i].Add(v)
			n += v
		}
	}
	h.count.Add(n)
}
