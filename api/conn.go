package api

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
	"github.com/roomloop/roomloop/resume"
)

// Conn is one client session. It outlives the client's connections: when a
// connection drops, the session is suspended for Options.ResumeWindow,
// keeping its rooms and queueing its frames, and a new connection can
// resume it. Its methods are safe for concurrent use.
type Conn struct {
	srv    *Server
	id     string
	user   string                         // Identity.User: who may resume it
	claims atomic.Pointer[map[string]any] // Identity.Claims; replaced by a resume or refresh
	token  string                         // resume token; "" when resumption is off or by id
	ep     *endpoint                      // the wire it speaks on an Endpoint; nil: roomloop's
	stream *resume.Stream

	handling sync.Mutex // held while one client frame is handled; taken before mu

	mu        sync.Mutex // guards the fields below; taken before any rooms.Table lock
	lc        *loop.Conn // the connection now; nil while suspended
	rooms     []string
	gone      bool    // the session ended: no more joins
	adopting  bool    // arriving from another node (cluster): not yet attached
	moving    bool    // being handed over to another node: its stream goes with it
	suspended int64   // when it was suspended, in unix nanoseconds; 0 while attached
	expiry    *expiry // Identity.Expires and its timer; nil: never expires
	dedupe    resume.Dedupe

	limits *buckets // rate limits, allocated on first use; guarded by handling

	ctx atomic.Pointer[sessionContext] // made by the first Context call
}

// sessionContext is a session's context and its cancel function.
type sessionContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// Context returns a context that ends when the session ends (its client
// closed, was kicked, or did not resume in time) or when the server starts
// shutting down. Handlers pass it to work they start for the session. It
// costs nothing until first asked for.
func (c *Conn) Context() context.Context {
	if p := c.ctx.Load(); p != nil {
		return p.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.ctx.Load(); p != nil {
		return p.ctx
	}
	ctx, cancel := context.WithCancel(c.srv.ctx)
	if c.gone {
		cancel()
	}
	c.ctx.Store(&sessionContext{ctx, cancel})
	return ctx
}

// endContext ends the session's context, if it was made. Called once the
// session has ended (c.gone set under c.mu).
func (c *Conn) endContext() {
	c.mu.Lock()
	p := c.ctx.Load()
	c.mu.Unlock()
	if p != nil {
		p.cancel()
	}
}

// ID returns the public session id.
func (c *Conn) ID() string { return c.id }

// Claims returns the claims Authorize gave (nil if none), or those of the
// latest resume or $refresh. Do not modify.
func (c *Conn) Claims() map[string]any {
	if p := c.claims.Load(); p != nil {
		return *p
	}
	return nil
}

// Request returns the upgrade request in Authorize, CanJoin at connect and
// OnConnect/OnResume; afterwards nil, so that idle clients do not keep
// their headers. Copy what a handler needs later into Identity.Claims.
func (c *Conn) Request() *http.Request {
	if lc := c.transport(); lc != nil {
		return lc.Request()
	}
	return nil
}

// RemoteAddr returns the address of the client's current connection, or
// nil while the session is suspended.
func (c *Conn) RemoteAddr() net.Addr {
	if lc := c.transport(); lc != nil {
		return lc.RemoteAddr()
	}
	return nil
}

// Connected reports whether the session has a connection now (false while
// it is suspended or after it ended).
func (c *Conn) Connected() bool { return c.transport() != nil }

func (c *Conn) transport() *loop.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lc
}

// Rooms returns a copy of the rooms the client is in.
func (c *Conn) Rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.rooms)
}

// InRoom reports whether the client is in room.
func (c *Conn) InRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(c.rooms, room)
}

// Send queues f for this session. The server sets its seq; f.From is sent
// as given (empty for server-originated frames). It never blocks. While the
// session is suspended the frame waits for a resume. With a full queue it
// returns ErrSlowConsumer or ErrDropped per the server's policy, and
// ErrClosed once the session has ended. A frame that is not fit to send
// (no event, or a payload that disagrees with its Kind) is refused with
// ErrInvalidFrame.
func (c *Conn) Send(f Frame) error {
	if err := checkFrame(&f); err != nil {
		return err
	}
	return c.sendOut(frame.NewOutgoing(f))
}

// Kick ends the session at once with close code 4001 and reason: it
// leaves its rooms and cannot be resumed. Frames queued for its connection
// before the call are still written, then the close frame.
func (c *Conn) Kick(reason string) {
	c.srv.endSession(c, CloseInfo{Code: CloseKicked, Reason: reason, ServerClosed: true})
}

func (c *Conn) sendOut(out *frame.Outgoing) error {
	return mapSendErr(c.stream.Send(out))
}

func mapSendErr(err error) error {
	switch err {
	case nil:
		return nil
	case resume.ErrSlowConsumer:
		return ErrSlowConsumer
	case resume.ErrDropped:
		return ErrDropped
	default:
		return ErrClosed
	}
}
