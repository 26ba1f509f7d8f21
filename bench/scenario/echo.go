package scenario

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// Echo runs EchoConns connections in a closed loop for Duration, each
// sending a 1 KiB $ping and waiting for its $pong before the next, and
// reports round trips per second and per server CPU-second, and the
// round-trip time.
func Echo(ctx context.Context, t Target, p Params) (r Result, err error) {
	echoPad := strings.Repeat("x", 980) // makes a $ping about 1 KiB long
	var lat load.Hist
	var trips, inflight, wrong atomic.Int64
	var stop atomic.Bool
	ping := func(c *load.Conn) {
		id := c.N.Add(1)
		c.T.Store(time.Now().UnixNano())
		inflight.Add(1)
		_ = c.Send([]byte(`{"event":"$ping","id":"` + strconv.FormatInt(id, 10) + `","payload":{"pad":"` + echoPad + `"}}`))
	}
	pool, err := newPool(t, func(c *load.Conn, m *load.Msg) {
		if string(m.Event) != "$pong" {
			return
		}
		if string(m.ID) != strconv.FormatInt(c.N.Load(), 10) {
			wrong.Add(1)
		}
		lat.Add(time.Duration(time.Now().UnixNano() - c.T.Load()))
		trips.Add(1)
		inflight.Add(-1)
		if !stop.Load() {
			ping(c)
		}
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	conns, err := pool.OpenN(ctx, p.EchoConns, p.Dialers)
	if err != nil {
		return r, err
	}
	cpu0, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	start := time.Now()
	for _, c := range conns {
		ping(c)
	}
	select {
	case <-time.After(p.Duration):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	stop.Store(true)
	n, el := trips.Load(), time.Since(start)
	cpu1, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	if err := waitCount(ctx, "pongs outstanding", func() int64 { return -inflight.Load() }, 0, 10*time.Second); err != nil {
		return r, err
	}
	r.add("round trips/s", "1/s", float64(n)/el.Seconds())
	r.add("round trips per server CPU-second", "1/s", float64(n)/(cpu1-cpu0))
	r.add("round trip p50", "ms", ms(lat.Quantile(0.50)))
	r.add("round trip p99", "ms", ms(lat.Quantile(0.99)))
	r.add("pongs with a wrong id", "count", float64(wrong.Load()))
	return r, nil
}
