package loop

import "sync/atomic"

// connFlags are a connection's atomic booleans, kept in one word (eight
// atomic.Bool fields would take 32 bytes of every connection).
type connFlags struct{ v atomic.Uint32 }

// flag is one of connFlags' booleans.
type flag uint32

const (
	flagReadQueued     flag = 1 << iota // a readJob is queued (see backpressure.go)
	flagDirty                           // queued on its shard's dirty list
	flagDropPending                     // drop TCP once unsent reaches 0
	flagDropReady                       // unsent reached 0: the flusher drops TCP
	flagIPCounted                       // counted in Engine.perIP (set once in onOpen)
	flagPendingCounted                  // counted in Engine.pendingIP until handshakeDone
	flagDeflate                         // permessage-deflate negotiated (set once, before Open)
	flagWantWritable                    // waiting for nbio to drain before writing more
)

// load reports whether f is set.
func (c *connFlags) load(f flag) bool { return c.v.Load()&uint32(f) != 0 }

// store sets f to on.
func (c *connFlags) store(f flag, on bool) {
	if on {
		c.v.Or(uint32(f))
	} else {
		c.v.And(^uint32(f))
	}
}

// cas sets f to to if it is from, and reports whether it was, as
// atomic.Bool's CompareAndSwap does.
func (c *connFlags) cas(f flag, from, to bool) bool {
	switch {
	case from == to:
		return c.load(f) == from
	case to:
		return c.v.Or(uint32(f))&uint32(f) == 0
	default:
		return c.v.And(^uint32(f))&uint32(f) != 0
	}
}
