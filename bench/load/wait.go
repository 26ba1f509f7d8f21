package load

import (
	"context"
	"fmt"
	"time"
)

// WaitFor polls get until it reaches want, and fails, naming what, once
// timeout has passed or ctx is done.
func WaitFor(ctx context.Context, what string, get func() int64, want int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for get() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d after %v", what, get(), want, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
