package scenario

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/bench/serve"
)

// bcastRoom is the broadcast scenario's room; lightRoom, the room of its
// light-load phase, holds the first LightMembers members.
const (
	bcastRoom = "bcast"
	lightRoom = "light"
)

// Broadcast fills one room with Members connections, the first Publishers
// of which publish, and measures fan-out: (a) one message at a time (the
// next is sent when every other member got the previous one): deliveries
// per second, server CPU per million deliveries, publish-to-delivery
// latency; (b) bursts of 8 and of 16 messages back to back, each burst
// awaited in full: deliveries per second; (c) light load: LightRate
// messages/s at a fixed pace for Duration (an open loop) into a second
// room of the first LightMembers members, and the publish-to-delivery
// latency.
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
	light := conns[:min(max(p.LightMembers, 2), len(conns))]
	b.start(int64(len(conns) + len(light)))
	for i, c := range conns {
		if err := c.Send([]byte(`{"event":"$join","room":"` + bcastRoom + `"}`)); err != nil {
			return r, err
		}
		if i < len(light) {
			if err := c.Send([]byte(`{"event":"$join","room":"` + lightRoom + `"}`)); err != nil {
				return r, err
			}
		}
	}
	if err := b.wait(ctx, 60*time.Second); err != nil {
		return r, err
	}
	pubs := conns[:min(p.Publishers, len(conns))]
	k := 0
	// publishTo sends message k to room from the next publisher.
	publishTo := func(room string) error {
		msg := `{"event":"b","room":"` + room + `","payload":{"t":` +
			strconv.FormatInt(time.Now().UnixNano(), 10) + `,"k":` + strconv.Itoa(k) + `}}`
		err := pubs[k%len(pubs)].Send([]byte(msg))
		k++
		return err
	}
	publish := func() error { return publishTo(bcastRoom) }
	// round publishes burst messages back to back and waits for all.
	round := func(burst int) error {
		b.start(int64(burst * (len(conns) - 1)))
		for range burst {
			if err := publish(); err != nil {
				return err
			}
		}
		return b.wait(ctx, 20*time.Second)
	}
	for _, mode := range []struct {
		burst int
		name  string
	}{{1, "one-at-a-time"}, {8, "burst 8"}, {16, "burst 16"}} {
		lat.Store(new(load.Hist))
		w0, err := t.Stats()
		if err != nil {
			return r, err
		}
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
		w1, err := t.Stats()
		if err != nil {
			return r, err
		}
		deliveries := float64(rounds * mode.burst * (len(conns) - 1))
		r.add(mode.name+": deliveries/s", "1/s", deliveries/el.Seconds())
		r.add(mode.name+": server CPU per 1M deliveries", "s", (cpu1-cpu0)*1e6/deliveries)
		r.add(mode.name+": frames per write", "frames", framesPerWrite(w0, w1))
		if mode.burst == 1 {
			addLatency(&r, mode.name+": latency", lat.Load())
		}
	}
	if n := int(p.LightRate * p.Duration.Seconds()); n > 0 {
		lat.Store(new(load.Hist))
		w0, err := t.Stats()
		if err != nil {
			return r, err
		}
		b.start(int64(n * (len(light) - 1)))
		if err := paced(ctx, p.LightRate, n, func(int) error { return publishTo(lightRoom) }); err != nil {
			return r, err
		}
		if err := b.wait(ctx, 20*time.Second); err != nil {
			return r, err
		}
		name := "light load " + strconv.FormatFloat(p.LightRate, 'g', 3, 64) + " msg/s, " + strconv.Itoa(len(light)) + " members"
		addLatency(&r, name+": latency", lat.Load())
		w1, err := t.Stats()
		if err != nil {
			return r, err
		}
		r.add(name+": frames per write", "frames", framesPerWrite(w0, w1))
	}
	return r, nil
}

// framesPerWrite is the server's average frames per socket write between
// two Stats readings.
func framesPerWrite(a, b serve.Stats) float64 {
	return float64(b.Frames-a.Frames) / float64(b.Writes-a.Writes)
}

// addLatency adds the p50, p99 and p999 of h as metrics named prefix+" pNN".
func addLatency(r *Result, prefix string, h *load.Hist) {
	r.add(prefix+" p50", "ms", ms(h.Quantile(0.50)))
	r.add(prefix+" p99", "ms", ms(h.Quantile(0.99)))
	r.add(prefix+" p999", "ms", ms(h.Quantile(0.999)))
}
