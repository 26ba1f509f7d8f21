package soak

import (
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// watched is a client pool of a run whose connections count as lost when
// they end before the run lets them go.
type watched struct {
	*load.Pool
	lost    *atomic.Int64
	letting atomic.Bool
}

// watchedPool starts a pool on the run's server with handler handle. A
// connection that ends before letGo adds one to the counter lostName;
// every end is noted by close code.
func (h *H) watchedPool(lostName string, handle func(*load.Conn, *load.Msg)) (*watched, error) {
	w := &watched{lost: h.Counter(lostName)}
	p, err := load.New(load.Config{Addr: h.Addr(), Handler: handle, OnClose: func(c *load.Conn) {
		h.NoteClose(c.CloseCode())
		if !w.letting.Load() {
			w.lost.Add(1)
		}
	}})
	if err != nil {
		return nil, err
	}
	w.Pool = p
	return w, nil
}

// letGo makes the ends that follow expected ones.
func (w *watched) letGo() { w.letting.Store(true) }

// end lets the connections go and closes the pool, waiting up to grace.
func (w *watched) end(grace time.Duration) error {
	w.letGo()
	return w.Close(grace)
}

// roomMember returns the handler of a member of a published room: it
// records the latency of each "m" frame (its payload's "t"), counts
// $joined on joined, and hands the count of each "dropped" notice to
// dropped.
func roomMember(h *H, joined *atomic.Int64, dropped func(n int64)) func(*load.Conn, *load.Msg) {
	return func(_ *load.Conn, m *load.Msg) {
		switch string(m.Event) {
		case "m":
			h.ObserveSince(load.Int(m.Payload, `"t":`))
		case "$joined":
			joined.Add(1)
		case "$error":
			if load.Str(m.Payload, `"code":`) == "dropped" {
				dropped(max(1, load.Int(m.Payload, `"count":`)))
			}
		}
	}
}

// prober returns the handler of a probed connection: it counts $joined
// on joined and records the round trip of each probe's $pong.
func prober(h *H, joined *atomic.Int64) func(*load.Conn, *load.Msg) {
	return func(_ *load.Conn, m *load.Msg) {
		if string(m.Event) == "$joined" {
			joined.Add(1)
			return
		}
		pong(h, m)
	}
}
