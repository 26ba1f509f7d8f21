package loop

import (
	"math/rand/v2"
	"time"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// sweep enforces every deadline from one goroutine: handshakes and
// upgrades that take too long, heartbeats (a ping every PingInterval, a
// drop after PingTimeout without a frame), messages that stay partial
// longer than MessageTimeout, inboxes that stay full longer than
// InboxTimeout, and peers that never answer our close frame.
// It also nudges the pool if work waits in the backlog.
func (e *Engine) sweep() {
	t := time.NewTicker(e.cfg.sweepEvery())
	defer t.Stop()
	var list []*Conn
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		for _, s := range e.shards {
			list = s.snapshot(list[:0])
			for i, c := range list {
				e.check(c, now)
				list[i] = nil
			}
		}
		if e.backlog.len() > 0 {
			_ = e.pool.Invoke(nudge{})
		}
	}
}

func (e *Engine) check(c *Conn, now int64) {
	switch c.state.Load() {
	case stateHandshake, stateAuthorizing, stateRejecting, stateClosing:
		if d := c.deadline.Load(); d != 0 && now > d {
			c.drop()
		}
	case stateOpen:
		// A paused connection is not read, so it is not timed out for
		// silence; it is closed if it stays stalled (see backpressure.go).
		paused := c.checkStall(now)
		if !paused && now-c.lastRead.Load() > int64(e.cfg.PingTimeout) {
			c.drop() // no close frame: the peer is not there to read it
			return
		}
		if c.state.Load() != stateOpen {
			return // closed as stalled
		}
		if p := c.partialSince.Load(); p != 0 && now-p > int64(e.cfg.MessageTimeout) {
			c.Close(wsproto.ClosePolicy, "message not completed in time")
			return
		}
		every := int64(e.cfg.PingInterval)
		if paused {
			// Its pongs wait, but it hears from the server every quarter
			// interval: a client that probes a link silent for half an
			// interval does not take a paused one for dead.
			every /= 4
			if next := c.nextPing.Load(); next > now+every {
				c.nextPing.Store(now + every)
			}
		}
		if next := c.nextPing.Load(); now >= next {
			if next == 0 {
				c.nextPing.Store(now + firstPingIn(e.cfg.PingInterval))
				return
			}
			c.nextPing.Store(now + every)
			c.queuePing()
		}
	}
}

// firstPingIn is when a new connection's first heartbeat ping is due:
// at a random point of the second half of the interval. Connections that
// arrive together (a reconnect storm, a load test) are then pinged
// spread over half an interval, and stay spread, instead of all in one
// sweep every interval: 15,000 pings in one sweep hold a flusher for tens
// of milliseconds.
func firstPingIn(interval time.Duration) int64 {
	half := int64(interval / 2)
	return half + rand.Int64N(max(half, 1))
}
