package scenario

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// window tracks the deliveries of numbered messages (0, 1, 2, …), each
// due to the same number of members, so that a publisher keeps a fixed
// number in flight. Every member receives the messages in order, so they
// complete in order. It is safe for concurrent use.
type window struct {
	want   int64          // deliveries per message
	counts []atomic.Int64 // deliveries so far, by message number modulo len
	done   atomic.Int64   // messages delivered to every member
	bad    atomic.Int64   // deliveries of a message number out of range
	signal chan struct{}
}

// newWindow returns a window for up to inFlight messages in flight, each
// due to want members.
func newWindow(inFlight int, want int64) *window {
	return &window{want: want, counts: make([]atomic.Int64, 2*inFlight), signal: make(chan struct{}, 1)}
}

// deliver counts one delivery of message k. Message k+len(counts) is
// sent only once k is done (at most half the ring is in flight), so its
// slot is free again by then.
func (w *window) deliver(k int64) {
	if k < 0 {
		w.bad.Add(1)
		return
	}
	c := &w.counts[k%int64(len(w.counts))]
	if c.Add(1) == w.want {
		c.Store(0)
		w.done.Add(1)
		select {
		case w.signal <- struct{}{}:
		default:
		}
	}
}

// waitDone waits until at least n messages are done, failing once
// timeout has passed or ctx is done.
func (w *window) waitDone(ctx context.Context, n int64, timeout time.Duration) error {
	var timer *time.Timer
	for w.done.Load() < n {
		if timer == nil {
			timer = time.NewTimer(timeout)
			defer timer.Stop()
		}
		select {
		case <-w.signal:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("deliveries lost or late: %d of %d messages delivered to every member after %v", w.done.Load(), n, timeout)
		}
	}
	return nil
}
