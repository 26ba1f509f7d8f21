package scenario

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// echoPad makes a $ping about 1 KiB long.
var echoPad = strings.Repeat("x", 980)

// Echo runs EchoConns connections in a closed loop for Duration, each
// sending a 1 KiB $ping and waiting for its $pong before the next, and
// reports round trips per second and per server CPU-second, and the
// round-trip time. With EchoRate > 0 it then offers EchoRate round trips
// per second over the same connections for Duration (an open loop, round
// robin, each $ping stamped with its send time) and reports the achieved
// rate, the server CPU per round trip and the round-trip time.
func Echo(ctx context.Context, t Target, p Params) (r Result, err error) {
	var closed, open load.Hist
	var trips, inflight, wrong, openTrips atomic.Int64
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
		if len(m.ID) > 0 && m.ID[0] == 't' { // open loop: the id is the send time
			sent, err := strconv.ParseInt(string(m.ID[1:]), 10, 64)
			if err != nil {
				wrong.Add(1)
				return
			}
			open.Add(time.Duration(time.Now().UnixNano() - sent))
			openTrips.Add(1)
			return
		}
		if string(m.ID) != strconv.FormatInt(c.N.Load(), 10) {
			wrong.Add(1)
		}
		closed.Add(time.Duration(time.Now().UnixNano() - c.T.Load()))
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
	if err := load.WaitFor(ctx, "pongs outstanding", func() int64 { return -inflight.Load() }, 0, 10*time.Second); err != nil {
		return r, err
	}
	r.add("round trips/s", "1/s", float64(n)/el.Seconds())
	r.add("round trips per server CPU-second", "1/s", float64(n)/(cpu1-cpu0))
	r.add("round trip p50", "ms", ms(closed.Quantile(0.50)))
	r.add("round trip p99", "ms", ms(closed.Quantile(0.99)))
	if want := int(p.EchoRate * p.Duration.Seconds()); want > 0 {
		if err := echoOpen(ctx, t, p, conns, want, &openTrips, &open, &r); err != nil {
			return r, err
		}
	}
	r.add("pongs with a wrong id", "count", float64(wrong.Load()))
	return r, nil
}

// echoOpen offers want round trips at p.EchoRate over conns, waits for
// every $pong, and adds the fixed-rate metrics to r.
func echoOpen(ctx context.Context, t Target, p Params, conns []*load.Conn, want int,
	got *atomic.Int64, lat *load.Hist, r *Result) error {
	cpu0, err := serverCPU(t)
	if err != nil {
		return err
	}
	start := time.Now()
	err = paced(ctx, p.EchoRate, want, func(i int) error {
		return conns[i%len(conns)].Send([]byte(`{"event":"$ping","id":"t` + strconv.FormatInt(time.Now().UnixNano(), 10) +
			`","payload":{"pad":"` + echoPad + `"}}`))
	})
	if err != nil {
		return err
	}
	if err := load.WaitFor(ctx, "fixed-rate pongs", got.Load, int64(want), 30*time.Second); err != nil {
		return err
	}
	el := time.Since(start)
	cpu1, err := serverCPU(t)
	if err != nil {
		return err
	}
	name := "fixed rate " + strconv.FormatFloat(p.EchoRate, 'f', 0, 64) + "/s"
	r.add(name+": achieved round trips/s", "1/s", float64(want)/el.Seconds())
	r.add(name+": server CPU per 1k round trips", "ms", (cpu1-cpu0)*1e6/float64(want))
	r.add(name+": round trip p50", "ms", ms(lat.Quantile(0.50)))
	r.add(name+": round trip p99", "ms", ms(lat.Quantile(0.99)))
	r.add(name+": round trip p999", "ms", ms(lat.Quantile(0.999)))
	return nil
}
