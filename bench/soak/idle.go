package soak

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// idleRooms is how many rooms idle and churn spread connections over.
const idleRooms = 100

// probe sends $ping frames with the send time as id, round-robin over a
// set of connections, at a fixed rate; pongs give the latency samples of
// the runs without a room stream (idle, churn).
type probe struct {
	conns []*load.Conn
	rate  float64
	stop  chan struct{}
	done  chan struct{}
}

// pong records a $pong's round trip.
func pong(h *H, m *load.Msg) bool {
	if string(m.Event) != "$pong" || len(m.ID) < 2 || m.ID[0] != 'p' {
		return false
	}
	if t, err := strconv.ParseInt(string(m.ID[1:]), 10, 64); err == nil {
		h.ObserveSince(t)
	}
	return true
}

// startProbe pings conns at rate per second until halt.
func startProbe(conns []*load.Conn, rate float64) *probe {
	p := &probe{conns: conns, rate: rate, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		pace(p.stop, p.rate, 10*time.Millisecond, func(n int64) {
			c := p.conns[n%int64(len(p.conns))]
			_ = c.Send([]byte(`{"event":"$ping","id":"p` + strconv.FormatInt(time.Now().UnixNano(), 10) + `"}`))
		})
	}()
	return p
}

// halt stops the probe.
func (p *probe) halt() {
	close(p.stop)
	<-p.done
}

// runIdle: Conns idle connections, each joined to one of 100 rooms; the
// server's heartbeat pings them and they answer; a probe measures $ping
// round trips. Must show: stable bytes per connection, flat goroutines,
// no connection lost.
func runIdle(ctx context.Context, h *H) error {
	cfg := h.cfg
	var joined atomic.Int64
	pool, err := h.watchedPool("unexpected closes", prober(h, &joined))
	if err != nil {
		return err
	}
	defer func() { _ = pool.end(10 * time.Second) }()
	h.SetClients(pool.Len)
	h.Param("rooms", idleRooms)
	h.Param("probe_per_s", cfg.ProbeRate)
	conns, err := pool.OpenN(ctx, cfg.Conns, cfg.Dialers)
	if err != nil {
		return err
	}
	if err := joinAll(ctx, conns, func(i int) string { return "idle-" + strconv.Itoa(i%idleRooms) }, &joined); err != nil {
		return err
	}
	pr := startProbe(conns, cfg.ProbeRate)
	err = h.Measure(ctx, nil)
	pr.halt()
	if err != nil {
		return err
	}
	last := h.samples[len(h.samples)-1]
	h.AddCheck(count("unexpected closes", pool.lost.Load(), 0, "idle connections the server ended"))
	pings := pool.Stats().Pings.Load()
	h.AddCheck(Check{Name: "server pings answered", Value: float64(pings), Pass: true, Info: true,
		Detail: "WebSocket pings the clients received (heartbeat)"})
	h.AddCheck(Check{Name: "RSS per connection (last sample)", Value: (float64(last.RSS) - float64(h.base.RSS)) / float64(cfg.Conns) / 1024,
		Unit: "KiB", Pass: true, Info: true})
	h.AddCheck(Check{Name: "heap per connection (last sample)", Value: (float64(last.Heap) - float64(h.base.Heap)) / float64(cfg.Conns) / 1024,
		Unit: "KiB", Pass: true, Info: true})
	if err := pool.end(10 * time.Second); err != nil {
		h.Note("closing the clients: %v", err)
	}
	return h.Quiet(ctx)
}

// joinAll sends each connection a $join of room(i), i its position, and
// waits until joined counts every answer.
func joinAll(ctx context.Context, conns []*load.Conn, room func(i int) string, joined *atomic.Int64) error {
	for i, c := range conns {
		if err := c.Send([]byte(`{"event":"$join","room":"` + room(i) + `"}`)); err != nil {
			return err
		}
	}
	return load.WaitFor(ctx, "joins answered", joined.Load, int64(len(conns)), 60*time.Second)
}
