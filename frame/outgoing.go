package frame

import (
	"sync"
	"sync/atomic"

	"github.com/roomloop/roomloop/internal/deflate"
)

// Outgoing is a server→client frame whose body is encoded at most once per
// codec and shared by every recipient; each recipient's message is then
// Codec.AppendMessage with its own seq. For recipients that negotiated
// permessage-deflate, the body is likewise compressed at most once per
// codec (Deflated).
//
// An Outgoing is safe for concurrent use. The Frame passed to NewOutgoing,
// including its Payload, must not be modified afterwards.
type Outgoing struct {
	f       Frame
	control bool
	bodies  [MaxCodecs]atomic.Pointer[[]byte]
	// deflated holds Body(c) compressed for permessage-deflate, per
	// codec; deflating serializes its first computation, so that a body
	// is compressed exactly once even when flushers race for it.
	deflated  [ownCodecs]atomic.Pointer[[]byte]
	deflating sync.Mutex
}

// ownCodecs counts roomloop's own codecs, JSON and Binary (IDs 0 and 1):
// the only ones whose bodies are compressed. Other wires' messages
// (Framed) go uncompressed.
const ownCodecs = 2

// NewOutgoing returns an Outgoing for f. It encodes nothing yet.
func NewOutgoing(f Frame) *Outgoing {
	return &Outgoing{f: f, control: f.IsControl()}
}

// Frame returns the frame. The caller must not modify it.
func (o *Outgoing) Frame() *Frame { return &o.f }

// Control reports whether the frame's event starts with '$'.
func (o *Outgoing) Control() bool { return o.control }

// Body returns the frame's body for codec c, encoding it on first use. Every
// call for the same codec returns the same slice; the slice is shared and
// must not be modified (its capacity equals its length, so appending to it
// copies). Two goroutines racing on the first call may both encode, but only
// one result is kept. A Codec whose ID is not below MaxCodecs gets a fresh
// encoding on every call.
func (o *Outgoing) Body(c Codec) []byte {
	id := c.ID()
	if id < 0 || id >= MaxCodecs {
		return c.AppendBody(nil, &o.f)
	}
	slot := &o.bodies[id]
	if p := slot.Load(); p != nil {
		return *p
	}
	b := c.AppendBody(nil, &o.f)
	b = b[:len(b):len(b)]
	if slot.CompareAndSwap(nil, &b) {
		return b
	}
	return *slot.Load()
}

// Deflated returns Body(c) compressed as the shared part of a
// permessage-deflate message (internal/deflate.Compress: a fresh DEFLATE
// stream, sync flushed, its tail removed), compressing it on first use:
// one compression serves every compressed recipient, each of which puts
// its own seq prefix before it in a stored block. The same sharing and
// rule as Body applies, except that a race compresses only once (the
// losers wait for the winner); a Codec whose ID is not one of this
// package's gets nil (its messages go uncompressed).
func (o *Outgoing) Deflated(c Codec) []byte {
	id := c.ID()
	if id < 0 || id >= ownCodecs {
		return nil
	}
	slot := &o.deflated[id]
	if p := slot.Load(); p != nil {
		return *p
	}
	o.deflating.Lock()
	defer o.deflating.Unlock()
	if p := slot.Load(); p != nil {
		return *p
	}
	b := deflate.Compress(nil, o.Body(c))
	b = b[:len(b):len(b)]
	slot.Store(&b)
	return b
}
