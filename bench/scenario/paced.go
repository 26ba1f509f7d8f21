package scenario

import (
	"context"
	"time"
)

// paced calls send(i) for i = 0 … n-1, call i due i/rate seconds after
// the start, catching up every millisecond. It is an open loop: it never
// waits for answers, so a slow server sees the same offered load as a
// fast one. It stops at the first error.
func paced(ctx context.Context, rate float64, n int, send func(i int) error) error {
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := 0; i < n; {
		due := min(n, 1+int(rate*time.Since(start).Seconds()))
		for ; i < due; i++ {
			if err := send(i); err != nil {
				return err
			}
		}
		if i == n {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
