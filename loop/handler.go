package loop

import "net/http"

// Handler is what the engine calls. Every method runs on the worker pool,
// never on an epoll loop, so it may block (Upgrade is bounded by
// Config.AuthTimeout). For one connection the calls are serialized and in
// order: Upgrade, then Open, then Message for each message in arrival
// order, then Closed exactly once. A connection refused at Upgrade gets no
// further calls.
type Handler interface {
	// Upgrade decides whether to accept a valid upgrade request. It
	// returns the subprotocol to echo ("" for none), or an error: an
	// *HTTPError is written as it is, any other error as 500.
	// up.Request's context carries the Config.AuthTimeout deadline and
	// is cancelled when the client goes away.
	Upgrade(c *Conn, up *Upgrade) (protocol string, err error)
	// Open runs after the 101 response is written, before any Message.
	Open(c *Conn)
	// Message delivers one whole message: a binary message when binary
	// is true, else a text message (valid UTF-8). data is owned by the
	// callee.
	Message(c *Conn, binary bool, data []byte)
	// Closed reports the end of an opened connection, after its last
	// Message.
	Closed(c *Conn, info CloseInfo)
}

// Upgrade is a valid WebSocket upgrade request.
type Upgrade struct {
	// Request is the HTTP request. Its body is empty; RemoteAddr is the
	// peer's address.
	Request *http.Request
	// Protocols are the offered subprotocols, in the client's order.
	Protocols []string
}

// HTTPError refuses an upgrade with an HTTP status, a plain-text reason
// (the body) and extra headers.
type HTTPError struct {
	Status int
	Reason string
	Header http.Header
	// Detail is logged with the refusal, never sent: what an operator
	// needs to know (the offending origin, say).
	Detail string
}

// Error returns "HTTP <status>: <reason>".
func (e *HTTPError) Error() string {
	return "HTTP " + http.StatusText(e.Status) + ": " + e.Reason
}

// CloseInfo says how a connection ended.
type CloseInfo struct {
	// Reason and Code are of the close frame that ended the connection:
	// the peer's when PeerClosed, else the server's; 1006 when the
	// transport dropped without any close frame.
	Reason string
	Code   uint16
	// PeerClosed is true when the peer started the close handshake.
	PeerClosed bool
	// ServerClosed is true when the server sent a close frame first.
	ServerClosed bool
}

// CloseAbnormal is the code reported when no close frame was exchanged.
const CloseAbnormal = 1006

// Source supplies the data messages a connection writes, and learns what
// its peer has received. A connection writes from at most one source at a
// time (Conn.SetSource). Positions are the source's own numbering of its
// messages, rising by one per message; the engine only compares and
// hands them back. The engine calls AppendTo from the connection's
// flusher, one call at a time per connection, and the other methods from
// any goroutine: implementations are safe for concurrent use, never block,
// and never call back into the engine while holding their own locks.
type Source interface {
	// AppendTo appends to buf, as complete WebSocket frames (see
	// AppendHeader), the messages it holds for c that it has not written
	// to c yet, up to position upTo and up to about limit bytes (at least
	// one message when any is due). It returns the grown buffer, how many
	// messages it appended, and whether messages up to upTo remain to be
	// appended now. It appends nothing when c is not the connection it
	// writes to. A source may hold messages back until the peer confirms
	// earlier ones (Received): it then reports no more, and calls c.Wake
	// once it may go on.
	AppendTo(c *Conn, buf []byte, upTo uint64, limit int) (_ []byte, n int, more bool)
	// Position returns the position of the latest message queued.
	Position() uint64
	// Written returns the position of the latest message written to c
	// (0 when c is not the connection it writes to).
	Written(c *Conn) uint64
	// Received reports that the peer has received every message up to
	// position pos: it answered a ping sent after them (each ping a
	// source's connection sends carries the position written before it,
	// and its pong echoes it; a peer may forge one, which only costs it
	// its own replay, so a source caps pos at what it wrote to c).
	// Conn.Probe asks for such a ping at once.
	Received(pos uint64)
}
