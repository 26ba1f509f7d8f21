package scenario

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// bcastRoom is the broadcast scenario's room.
const bcastRoom = "bcast"

// Broadcast fills one room with Members connections, the first Publishers
// of which publish, and measures fan-out: (a) one message at a time (the
// next is sent when every other member got the previous one): deliveries
// per second, server CPU per million deliveries, publish-to-delivery
// latency; (b) bursts of 8 and of 16 messages back to back, each burst
// awaited in full: deliveries per second.
func Broadcast(ctx context.Context, t Target, p Params) (r Result, err error) {
	b := newBatch()
	var lat atomic.Pointer[load.Hist]
	lat.Store(new(load.Hist))
	pool, err := newPool(t, func(c *load.Conn, m *load.Msg) {
		switch string(m.Event) {
		case "$joined":
			b.deliver()
		case "b":
			if ts := load.Int(m.Payload, `"t":`); ts > 0 {
				lat.Load().Add(time.Duration(time.Now().UnixNano() - ts))
			}
			b.deliver()
		}
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	conns, err := pool.OpenN(ctx, p.Members, p.Dialers)
	if err != nil {
		return r, err
	}
	b.start(int64(len(conns)))
	for _, c := range conns {
		if err := c.Send([]byte(`{"event":"$join","room":"` + bcastRoom + `"}`)); err != nil {
			return r, err
		}
	}
	if err := b.wait(ctx, 60*time.Second); err != nil {
		return r, err
	}
	pubs := conns[:min(p.Publishers, len(conns))]
	k := 0
	// round publishes burst messages back to back and waits for all.
	round := func(burst int) error {
		b.start(int64(burst * (len(conns) - 1)))
		for range burst {
			msg := `{"event":"b","room":"` + bcastRoom + `","payload":{"t":` +
				strconv.FormatInt(time.Now().UnixNano(), 10) + `,"k":` + strconv.Itoa(k) + `}}`
			if err := pubs[k%len(pubs)].Send([]byte(msg)); err != nil {
				return err
			}
			k++
		}
		return b.wait(ctx, 20*time.Second)
	}
	for _, mode := range []struct {
		burst int
		name  string
	}{{1, "one-at-a-time"}, {8, "burst 8"}, {16, "burst 16"}} {
		lat.Store(new(load.Hist))
		cpu0, err := serverCPU(t)
		if err != nil {
			return r, err
		}
		start, rounds := time.Now(), 0
		for time.Since(start) < p.Duration {
			if err := round(mode.burst); err != nil {
				return r, err
			}
			rounds++
		}
		el := time.Since(start)
		cpu1, err := serverCPU(t)
		if err != nil {
			return r, err
		}
		deliveries := float64(rounds * mode.burst * (len(conns) - 1))
		r.add(mode.name+": deliveries/s", "1/s", deliveries/el.Seconds())
		r.add(mode.name+": server CPU per 1M deliveries", "s", (cpu1-cpu0)*1e6/deliveries)
		if mode.burst == 1 {
			r.add(mode.name+": latency p50", "ms", ms(lat.Load().Quantile(0.50)))
			r.add(mode.name+": latency p99", "ms", ms(lat.Load().Quantile(0.99)))
		}
	}
	return r, nil
}
