package loop

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// Connection states, in the only order they advance.
const (
	stateHandshake   int32 = iota // reading the upgrade request
	stateAuthorizing              // Handler.Upgrade is running
	stateOpen                     // WebSocket established
	stateClosing                  // a close frame is queued or sent
	stateRejecting                // an HTTP refusal was sent; draining input
	stateClosed                   // the transport is gone
)

// Conn is one client connection. Its exported methods are safe for
// concurrent use.
type Conn struct {
	eng   *Engine
	id    uint64
	nc    *nbio.Conn
	shard *shard
	slot  int32 // index in shard.conns, guarded by shard.mu
	state atomic.Int32

	remote  net.Addr
	request atomic.Pointer[http.Request] // held until Handler.Open returns
	codec   frame.Codec
	value   atomic.Pointer[any]

	// Read side: touched by the epoll loop, and by the worker (or the
	// authorization timer) that finishes or refuses the upgrade. Guarded
	// by readMu.
	readMu   sync.Mutex
	parser   wsproto.Parser
	pending  []byte // handshake bytes, or bytes that arrived while authorizing
	readDone bool   // a protocol error or close frame ended reading

	// Deadlines in unix nanoseconds, read by the sweeper.
	lastRead     atomic.Int64 // last whole frame (or accept)
	nextPing     atomic.Int64
	deadline     atomic.Int64 // handshake, authorization or close-wait deadline; 0 none
	partialSince atomic.Int64 // when the current partial message began; 0 none

	// Write side.
	dirty          atomic.Bool   // queued on its shard's dirty list
	wantWritable   atomic.Bool   // waiting for nbio to drain before writing more
	unsent         atomic.Int64  // bytes handed to nbio not yet in the kernel
	dropPending    atomic.Bool   // drop TCP once unsent reaches 0
	dropReady      atomic.Bool   // unsent reached 0: the flusher drops TCP
	pingAfter      atomic.Uint64 // highest stream seq written before our last ping
	ipCounted      atomic.Bool   // counted in Engine.perIP (set once in onOpen)
	pendingCounted atomic.Bool   // counted in Engine.pendingIP until handshakeDone

	mu     sync.Mutex // guards ctl, in and stream
	ctl    control
	in     inbox
	stream *Stream // the session stream this transport writes, once attached
}

// ID returns a number unique among the engine's live connections.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// Request returns the upgrade request during Handler.Upgrade and
// Handler.Open, and nil afterwards: a connection does not keep its headers
// (over a kilobyte) for life. Its body is empty.
func (c *Conn) Request() *http.Request { return c.request.Load() }

// Codec returns the connection's codec (nil before Open).
func (c *Conn) Codec() frame.Codec { return c.codec }

// SetValue attaches v to the connection for the handler's own use.
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

// Value returns what SetValue attached, or nil.
func (c *Conn) Value() any {
	if p := c.value.Load(); p != nil {
		return *p
	}
	return nil
}

// Open reports whether the WebSocket is established and not closing.
func (c *Conn) Open() bool { return c.state.Load() == stateOpen }

// Stream returns the stream attached to this transport, or nil.
func (c *Conn) Stream() *Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stream
}

func nowNano() int64 { return time.Now().UnixNano() }

// dropWhenWritten closes the TCP connection once nbio has written all it
// holds (our close frame among it); onWritten finishes the job otherwise.
func (c *Conn) dropWhenWritten() {
	c.dropPending.Store(true)
	if c.unsent.Load() <= 0 && c.dropPending.CompareAndSwap(true, false) {
		c.drop()
	}
}
