package scenario

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// batch counts deliveries of the current batch of messages and wakes the
// publisher when all of them have arrived. It is safe for concurrent use.
type batch struct {
	got  atomic.Int64
	want atomic.Int64
	done chan struct{}
}

// newBatch returns an idle batch.
func newBatch() *batch { return &batch{done: make(chan struct{}, 1)} }

// start begins a batch expecting want deliveries.
func (b *batch) start(want int64) {
	select {
	case <-b.done:
	default:
	}
	b.got.Store(0)
	b.want.Store(want)
}

// deliver counts one delivery.
func (b *batch) deliver() {
	if b.got.Add(1) == b.want.Load() {
		select {
		case b.done <- struct{}{}:
		default:
		}
	}
}

// wait waits until the batch is complete.
func (b *batch) wait(ctx context.Context, timeout time.Duration) error {
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(timeout):
		return fmt.Errorf("deliveries lost or late: %d of %d after %v", b.got.Load(), b.want.Load(), timeout)
	}
}
