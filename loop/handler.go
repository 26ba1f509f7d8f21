package loop

import (
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// Handler is what the engine calls. Every method runs on the worker pool,
// never on an epoll loop, so it may block (Upgrade is bounded by
// Config.AuthTimeout). For one connection the calls are serialized and in
// order: Upgrade, then Open, then Message for each message in arrival
// order, then Closed exactly once. A connection refused at Upgrade gets no
// further calls.
type Handler interface {
	// Upgrade decides whether to accept a valid upgrade request. It returns
	// the codec for the connection and whether to echo its name as the
	// subprotocol, or an error: a *wsproto.HTTPError is written as is, any
	// other error as 500.
	Upgrade(c *Conn, up *wsproto.Upgrade) (codec frame.Codec, echo bool, err error)
	// Open runs after the 101 response is written, before any Message.
	Open(c *Conn)
	// Message delivers one whole message. data is owned by the callee.
	Message(c *Conn, op wsproto.Opcode, data []byte)
	// Closed reports the end of an opened connection, after its last
	// Message.
	Closed(c *Conn, info CloseInfo)
}

// CloseInfo says how a connection ended.
type CloseInfo struct {
	// Code and Reason are of the close frame that ended the connection:
	// the peer's when PeerClosed, else the server's; 1006 when the
	// transport dropped without any close frame.
	Code   uint16
	Reason string
	// PeerClosed is true when the peer started the close handshake.
	PeerClosed bool
	// ServerClosed is true when the server sent a close frame first.
	ServerClosed bool
}

// CloseAbnormal is the code reported when no close frame was exchanged.
const CloseAbnormal = 1006
