package loop

import "sync/atomic"

// Ways a connection comes in, the index of Counters.Accepted.
const (
	WayListener = iota // accepted on a listener of Start or Serve, plain TCP
	WayTLS             // accepted on a listener, TLS terminated by the engine
	WayHTTP            // taken over from an HTTP server (ServeHTTP)
	NumWays
)

// WayNames are the label values of the ways in, by index.
var WayNames = [NumWays]string{"listener", "tls", "http"}

// Refusal statuses are counted for 400..599; anything else in the last
// slot (status 0 there).
const refusalSlots = 201

// Counters are the engine's running totals since New, read at any time;
// each is a single atomic add where its event happens.
type Counters struct {
	Accepted [NumWays]uint64 // connections opened, by way in
	// Refusals counts refused upgrades by HTTP status.
	Refusals map[int]uint64
	// Writes, FramesWritten: see Engine.Writes. BytesWritten is every byte
	// the flushers handed to sockets (control and close frames too);
	// FramesRead counts whole messages handed to the Handler, BytesRead
	// the bytes read from sockets (upgrade requests and TLS records
	// included).
	Writes, FramesWritten, BytesWritten, FramesRead, BytesRead uint64
	// Pauses counts the times a connection's reading was paused because
	// its inbox was full; Stalls the connections closed with 1008 because
	// it stayed full past Config.InboxTimeout.
	Pauses, Stalls uint64
	// URingSends counts the writes the flushers handed to io_uring
	// (Config.URingWrites), URingShort those of them that the socket did
	// not take whole, whose rest went to the event loop to write.
	URingSends, URingShort uint64
}

// engineCounters are the engine-wide counters (per-connection events,
// never per frame).
type engineCounters struct {
	accepted [NumWays]atomic.Uint64
	refused  [refusalSlots]atomic.Uint64 // status-400; last: other
	pauses   atomic.Uint64
	stalls   atomic.Uint64
}

func (ec *engineCounters) refuse(status int) {
	i := status - 400
	if i < 0 || i >= refusalSlots-1 {
		i = refusalSlots - 1
	}
	ec.refused[i].Add(1)
}

// Counters returns the engine's totals.
func (e *Engine) Counters() Counters {
	var c Counters
	for i := range c.Accepted {
		c.Accepted[i] = e.counters.accepted[i].Load()
	}
	for i := range e.counters.refused {
		if n := e.counters.refused[i].Load(); n > 0 {
			if c.Refusals == nil {
				c.Refusals = make(map[int]uint64)
			}
			status := 400 + i
			if i == refusalSlots-1 {
				status = 0
			}
			c.Refusals[status] = n
		}
	}
	c.Pauses = e.counters.pauses.Load()
	c.Stalls = e.counters.stalls.Load()
	for _, s := range e.shards {
		c.Writes += s.writes.Load()
		c.FramesWritten += s.frames.Load()
		c.BytesWritten += s.bytes.Load()
		c.FramesRead += s.framesRead.Load()
		c.BytesRead += s.bytesRead.Load()
		c.URingSends += s.uringSends.Load()
		c.URingShort += s.uringShort.Load()
	}
	return c
}
