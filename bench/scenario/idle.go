package scenario

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/bench/procstat"
)

// idleRooms is how many rooms the idle connections are spread over.
const idleRooms = 100

// Idle opens IdleConns connections, each joined to one of 100 rooms, and
// reports what they cost the server: RSS and heap per connection (after a
// GC, against the same readings before connecting; RSS also after the
// server returned its free pages to the OS, which leaves out garbage of
// the connect burst that the runtime has not yet given back), goroutines
// and OS threads.
func Idle(ctx context.Context, t Target, p Params) (r Result, err error) {
	before, err := t.Stats()
	if err != nil {
		return r, err
	}
	s0, err := t.Sample()
	if err != nil {
		return r, err
	}
	freed0, err := t.StatsFreed()
	if err != nil {
		return r, err
	}
	var joined atomic.Int64
	pool, err := newPool(t, func(c *load.Conn, m *load.Msg) {
		if string(m.Event) == "$joined" {
			joined.Add(1)
		}
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	start := time.Now()
	conns, err := pool.OpenN(ctx, p.IdleConns, p.Dialers)
	if err != nil {
		return r, err
	}
	if err := sendJoins(conns, func(i int) string { return "idle-" + strconv.Itoa(i%idleRooms) }); err != nil {
		return r, err
	}
	if err := load.WaitFor(ctx, "joined", joined.Load, int64(len(conns)), 60*time.Second); err != nil {
		return r, err
	}
	setup := time.Since(start)
	// What an operator sees: RSS 2 s after the last join, with no
	// collection forced (Stats below forces one), and optionally again
	// IdleLater after the last join.
	joinedAt := time.Now()
	time.Sleep(2 * time.Second)
	seen, err := t.Sample()
	if err != nil {
		return r, err
	}
	var later procstat.Sample
	if p.IdleLater > 0 {
		time.Sleep(time.Until(joinedAt.Add(p.IdleLater)))
		if later, err = t.Sample(); err != nil {
			return r, err
		}
	}
	// Let the server settle: pool workers left from the connect burst
	// expire after about two seconds.
	time.Sleep(time.Until(joinedAt.Add(3 * time.Second)))
	after, err := t.Stats()
	if err != nil {
		return r, err
	}
	s1, err := t.Sample()
	if err != nil {
		return r, err
	}
	freed1, err := t.StatsFreed()
	if err != nil {
		return r, err
	}
	n := float64(len(conns))
	r.add("connections", "count", n)
	r.add("server RSS per connection 2 s after the storm, no GC forced", "KiB", (float64(seen.RSS)-float64(s0.RSS))/n/1024)
	if p.IdleLater > 0 {
		r.add("server RSS per connection "+p.IdleLater.String()+" after the storm, no GC forced", "KiB", (float64(later.RSS)-float64(s0.RSS))/n/1024)
	}
	r.add("server RSS per connection", "KiB", (float64(s1.RSS)-float64(s0.RSS))/n/1024)
	r.add("server RSS per connection, free pages returned", "KiB", (float64(freed1.RSS)-float64(freed0.RSS))/n/1024)
	r.add("server heap in use per connection", "KiB", (float64(after.HeapInuse)-float64(before.HeapInuse))/n/1024)
	r.add("server live heap per connection", "KiB", (float64(after.HeapAlloc)-float64(before.HeapAlloc))/n/1024)
	r.add("server goroutines", "count", float64(after.Goroutines))
	r.add("server OS threads", "count", float64(s1.Threads))
	r.add("connect + join time", "s", setup.Seconds())
	return r, nil
}
