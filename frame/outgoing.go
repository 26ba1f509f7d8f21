package frame

import "sync/atomic"

// Outgoing is a server→client frame whose body is encoded at most once per
// codec and shared by every recipient; each recipient's message is then
// Codec.AppendMessage with its own seq.
//
// An Outgoing is safe for concurrent use. The Frame passed to NewOutgoing,
// including its Payload, must not be modified afterwards.
type Outgoing struct {
	f       Frame
	control bool
	bodies  [MaxCodecs]atomic.Pointer[[]byte]
}

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
