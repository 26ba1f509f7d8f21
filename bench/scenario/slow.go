package scenario

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// slowRoom is the slow-consumer scenario's room; slowWindow bounds the
// publisher's messages not yet delivered to every healthy reader.
const (
	slowRoom   = "slow"
	slowWindow = 64
)

// SlowConsumer floods a room of SlowReaders healthy readers from one
// publisher (at most slowWindow messages ahead of the readers) for
// Duration, then adds SlowStalled members that stop reading and floods
// again. It reports the healthy readers' delivery rate in both runs, the
// server's RSS growth during the second, and how many stalled clients the
// server disconnected.
func SlowConsumer(ctx context.Context, t Target, p Params) (r Result, err error) {
	var delivered atomic.Int64
	notify := make(chan struct{}, 1)
	pool, err := newPool(t, func(c *load.Conn, m *load.Msg) {
		if string(m.Event) == "$joined" || string(m.Event) == "f" {
			delivered.Add(1)
			select {
			case notify <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	conns, err := pool.OpenN(ctx, p.SlowReaders+1, p.Dialers)
	if err != nil {
		return r, err
	}
	join := []byte(`{"event":"$join","room":"` + slowRoom + `"}`)
	for _, c := range conns {
		if err := c.Send(join); err != nil {
			return r, err
		}
	}
	if err := load.WaitFor(ctx, "joined", delivered.Load, int64(len(conns)), 30*time.Second); err != nil {
		return r, err
	}
	pub, readers := conns[0], int64(p.SlowReaders)
	pad := strings.Repeat("x", 4000) // 4 KiB messages, so that stalled sockets fill
	// flood publishes for p.Duration and returns healthy deliveries/s.
	flood := func() (float64, error) {
		delivered.Store(0)
		var sent int64
		start := time.Now()
		for time.Since(start) < p.Duration {
			if sent-delivered.Load()/readers >= slowWindow {
				select {
				case <-notify:
				case <-time.After(10 * time.Millisecond):
				case <-ctx.Done():
					return 0, ctx.Err()
				}
				continue
			}
			msg := `{"event":"f","room":"` + slowRoom + `","payload":{"k":` + strconv.FormatInt(sent, 10) + `,"pad":"` + pad + `"}}`
			if err := pub.Send([]byte(msg)); err != nil {
				return 0, err
			}
			sent++
		}
		rate := float64(delivered.Load()) / time.Since(start).Seconds()
		// Let the window drain before the next phase.
		_ = load.WaitFor(ctx, "drain", delivered.Load, sent*readers, 10*time.Second)
		return rate, nil
	}
	healthy, err := flood()
	if err != nil {
		return r, err
	}
	stalled := make([]*load.Stalled, 0, p.SlowStalled)
	defer func() {
		for _, s := range stalled {
			s.Close()
		}
	}()
	for range p.SlowStalled {
		s, err := pool.OpenStalled(join)
		if err != nil {
			return r, err
		}
		stalled = append(stalled, s)
	}
	if _, err := t.Stats(); err != nil { // collect garbage before the baseline reading
		return r, err
	}
	s0, err := t.Sample()
	if err != nil {
		return r, err
	}
	peak := s0.RSS
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if s, err := t.Sample(); err == nil && s.RSS > peak {
					peak = s.RSS
				}
			}
		}
	})
	withStalled, err := flood()
	close(stopSampling)
	sampler.Wait()
	if err != nil {
		return r, err
	}
	var dropped atomic.Int64
	var wg sync.WaitGroup
	for _, s := range stalled {
		wg.Go(func() {
			if s.Dropped(3 * time.Second) {
				dropped.Add(1)
			}
		})
	}
	wg.Wait()
	r.add("healthy deliveries/s, no stalled clients", "1/s", healthy)
	r.add("healthy deliveries/s, "+strconv.Itoa(p.SlowStalled)+" stalled clients", "1/s", withStalled)
	r.add("healthy rate with stalled / without", "ratio", withStalled/healthy)
	r.add("server RSS growth during the stalled flood (peak)", "MiB", (float64(peak)-float64(s0.RSS))/(1<<20))
	r.add("stalled clients disconnected by the server", "count", float64(dropped.Load()))
	return r, nil
}
