package api

import (
	"math/bits"
	"sync/atomic"
	"time"
	"unsafe"
)

// Histograms of handler durations and room fan-out sizes, kept only with
// Options.Histograms. Each observation is a few atomic adds into one of
// histStripes stripes, picked by the session, so that workers on many
// cores rarely write the same cache line; Stats sums the stripes.

// Histogram is a snapshot of a histogram: Counts[i] observations fell in
// (Bounds[i-1], Bounds[i]], and Counts[len(Bounds)] above the last bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Sum    float64
	Count  uint64
}

// HandlerBounds are the upper bounds, in seconds, of Stats.HandlerSeconds.
var HandlerBounds = []float64{0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}

// FanOutBounds are the upper bounds, in recipients, of Stats.FanOut: powers
// of 4 from 1 to 4^10 (1,048,576).
var FanOutBounds = func() []float64 {
	b := make([]float64, 11)
	for i := range b {
		b[i] = float64(uint64(1) << (2 * i))
	}
	return b
}()

// handlerNanos are HandlerBounds in nanoseconds, for the hot path.
var handlerNanos = func() []uint64 {
	n := make([]uint64, len(HandlerBounds))
	for i, b := range HandlerBounds {
		n[i] = uint64(b * 1e9)
	}
	return n
}()

const histStripes = 16

// histStripe is one stripe of a histogram, padded to its own cache lines.
type histStripe struct {
	counts [16]atomic.Uint64 // per bucket; at most 15 bounds + the overflow
	sum    atomic.Uint64
	_      [56]byte
}

// histogram counts observations of uint64 values against fixed bounds.
type histogram struct {
	stripes [histStripes]histStripe
}

// observe counts v into bucket i, in the stripe of key.
func (h *histogram) observe(key unsafe.Pointer, i int, v uint64) {
	s := &h.stripes[(uintptr(key)>>6)%histStripes]
	s.counts[i].Add(1)
	s.sum.Add(v)
}

// snapshot sums the stripes; scale converts the sum to the bounds' unit.
func (h *histogram) snapshot(bounds []float64, scale float64) Histogram {
	out := Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1)}
	var sum uint64
	for i := range h.stripes {
		s := &h.stripes[i]
		for b := range out.Counts {
			n := s.counts[b].Load()
			out.Counts[b] += n
			out.Count += n
		}
		sum += s.sum.Load()
	}
	out.Sum = float64(sum) * scale
	return out
}

// histograms are the server's histograms; nil without Options.Histograms.
type histograms struct {
	handler histogram // nanoseconds
	fanOut  histogram // recipients
}

// handlerDone records a handler call for c that began at start.
func (h *histograms) handlerDone(c *Conn, start time.Time) {
	d := uint64(time.Since(start))
	i := 0
	for i < len(handlerNanos) && d > handlerNanos[i] {
		i++
	}
	h.handler.observe(unsafe.Pointer(c), i, d)
}

// fannedOut records a room frame queued for n recipients; key picks the
// stripe (the room's member slice, or the sender).
func (h *histograms) fannedOut(key unsafe.Pointer, n int) {
	// Bucket i holds (4^(i-1), 4^i]: 1 → 0, 2..4 → 1, 5..16 → 2, …
	i := 0
	if n > 1 {
		i = (bits.Len(uint(n-1)) + 1) / 2
	}
	i = min(i, len(FanOutBounds))
	h.fanOut.observe(key, i, uint64(n))
}
