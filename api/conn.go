package api

import (
	"net"
	"net/http"
	"slices"
	"sync"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
)

// Conn is one connected client session. Its methods are safe for
// concurrent use.
type Conn struct {
	srv    *Server
	lc     *loop.Conn
	id     string
	claims map[string]any

	mu    sync.Mutex // guards rooms and gone; taken before any rooms.Table lock
	rooms []string
	gone  bool // the session ended: no more joins

	initial []string // Identity.Rooms, joined by Open
}

// ID returns the public session id.
func (c *Conn) ID() string { return c.id }

// Claims returns the claims Authorize gave (nil if none). Do not modify.
func (c *Conn) Claims() map[string]any { return c.claims }

// Request returns the upgrade request in Authorize, CanJoin at connect and
// OnConnect; afterwards nil, so that idle clients do not keep their
// headers. Copy what a handler needs later into Identity.Claims.
func (c *Conn) Request() *http.Request { return c.lc.Request() }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.lc.RemoteAddr() }

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

// Send queues f for this client. The server sets its seq; f.From is sent
// as given (empty for server-originated frames). It never blocks: with a
// full queue it returns ErrSlowConsumer or ErrDropped per the server's
// policy, and ErrClosed once the connection is closing.
func (c *Conn) Send(f Frame) error {
	return c.sendOut(frame.NewOutgoing(f))
}

// Kick ends the session with close code 4001 and reason.
func (c *Conn) Kick(reason string) { c.lc.Close(CloseKicked, reason) }

func (c *Conn) sendOut(out *frame.Outgoing) error {
	return mapSendErr(c.lc.Send(out))
}

func mapSendErr(err error) error {
	switch err {
	case nil:
		return nil
	case loop.ErrSlowConsumer:
		return ErrSlowConsumer
	case loop.ErrDropped:
		return ErrDropped
	default:
		return ErrClosed
	}
}
