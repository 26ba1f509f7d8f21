package loop

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// Connection states, in the only order they advance.
const (
	stateHandshake   int32 = iota // reading the upgrade request
	stateAuthorizing              // Handler.Upgrade is running
	stateOpen                     // WebSocket established
	stateClosing                  // a close frame is queued or sent
	stateRejecting                // an HTTP refusal was sent; draining input
	stateHandedOver               // Config.HTTPHandler's server reads it through a pipe
	stateClosed                   // the transport is gone
)

// Conn is one client connection. Its exported methods are safe for
// concurrent use.
type Conn struct {
	eng   *Engine
	nc    *nbio.Conn
	shard *shard
	slot  int32 // index in shard.conns, guarded by shard.mu
	state atomic.Int32

	tls *tlsConn // nil for a plain connection
	// pipe is the connection's pipe, if it has one: under TLS, or once
	// handed to the HTTP server.
	pipe  atomic.Pointer[pipe]
	value atomic.Pointer[any]
	// hs is the handshake's own state, nil once the upgrade is decided
	// (releaseRequest), so that an open connection does not carry it.
	// Set and cleared with both readMu and mu held; read with either.
	hs *handshakeState

	// Read side: touched by the epoll loop, and by the worker (or the
	// authorization timer) that finishes or refuses the upgrade. Guarded
	// by readMu.
	readMu sync.Mutex
	parser wsproto.Parser
	held   *[]byte // bytes read and not parsed while paused (see backpressure.go); nil: none

	// Deadlines in unix nanoseconds, read by the sweeper.
	lastRead     atomic.Int64 // last whole frame (or accept)
	nextPing     atomic.Int64
	deadline     atomic.Int64 // handshake, authorization or close-wait deadline; 0 none
	partialSince atomic.Int64 // when the current partial message began; 0 none
	// stalledSince is nonzero while reading is paused: when the inbox
	// filled, or when its worker last took a message since (see
	// backpressure.go).
	stalledSince atomic.Int64

	// Write side.
	unsent atomic.Int64 // bytes handed to nbio not yet in the kernel
	flags  connFlags    // the connection's atomic booleans (flags.go)
	sndbuf atomic.Int32 // the socket's send buffer (SO_SNDBUF) when last read; 0 not yet
	// readDone: a protocol error or close frame ended reading. Guarded
	// by readMu (it sits here to fill sndbuf's word).
	readDone bool

	mu  sync.Mutex // guards ctl, in, src, hs.request and hs.cancel
	ctl control
	in  inbox
	src Source // what the connection writes, once set
}

// handshakeState is what a connection needs only until its upgrade is
// decided: 56 bytes an open connection does not keep.
type handshakeState struct {
	// request is the upgrade request, from the start of Handler.Upgrade
	// until Handler.Open returns. Guarded by Conn.mu.
	request *http.Request
	// pending holds handshake bytes, or bytes that arrived while
	// authorizing. Guarded by Conn.readMu.
	pending []byte
	// adopted is the upgrade ServeHTTP took over, until onOpen starts
	// it. Guarded by Conn.readMu.
	adopted *adoption
	// cancel ends the upgrade request's context: when the upgrade is
	// decided, or when the client goes away first. Guarded by Conn.mu.
	cancel context.CancelFunc
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Request returns the upgrade request during Handler.Upgrade and
// Handler.Open, and nil afterwards: a connection does not keep its headers
// (over a kilobyte) for life. Its body is empty.
func (c *Conn) Request() *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hs == nil {
		return nil
	}
	return c.hs.request
}

// SetValue attaches v to the connection for the handler's own use.
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

// Value returns what SetValue attached, or nil.
func (c *Conn) Value() any {
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// SetSource makes src the source of the data messages c writes (nil:
// none) and schedules a flush. A non-nil preface (complete WebSocket
// frames, such as a greeting) is written before anything src holds, and
// is written even if the source is replaced or removed before that; a nil
// preface leaves one still pending in place.
func (c *Conn) SetSource(src Source, preface []byte) {
	c.mu.Lock()
	c.src = src
	if preface != nil {
		c.ctl.preface = preface
	}
	c.mu.Unlock()
	c.Wake()
}

// Deflate reports whether permessage-deflate was negotiated for c and,
// if so, the smallest data message to write compressed
// (Config.CompressionMinSize). A Source writes such messages with
// AppendDeflatedHeader; control frames are never compressed. It is set
// before Handler.Open and does not change.
func (c *Conn) Deflate() (minSize int, ok bool) {
	return c.eng.cfg.CompressionMinSize, c.flags.load(flagDeflate)
}

// source returns the connection's source, or nil.
func (c *Conn) source() Source {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.src
}

// Wake tells the connection that its source has messages to write: its
// flusher writes them on its next flush. It never blocks.
func (c *Conn) Wake() {
	if c.flags.cas(flagDirty, false, true) {
		c.shard.push(c)
	}
}

func nowNano() int64 { return time.Now().UnixNano() }

// dropWhenWritten closes the TCP connection once nbio has written all it
// holds (our close frame among it); onWritten finishes the job otherwise.
func (c *Conn) dropWhenWritten() {
	c.flags.store(flagDropPending, true)
	if c.unsent.Load() <= 0 && c.flags.cas(flagDropPending, true, false) {
		c.drop()
	}
}
