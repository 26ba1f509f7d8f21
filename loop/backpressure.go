package loop

import (
	"errors"
	"sync"
	"syscall"

	"github.com/lesismal/nbio"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// Backpressure. A connection whose inbox is full (Config.MaxInflight
// messages waiting for the worker pool) is paused: the engine stops
// reading its socket, so the kernel's receive buffer fills, TCP's window
// closes and the peer's writes block. Reading resumes once its worker has
// taken the inbox down to half.
//
// nbio v1.6.12 has no call that takes a socket out of a poller's read
// interest, so the engine runs nbio edge-triggered (EPOLLET) and reads
// sockets itself (OnRead): the poller reports each arrival of bytes once,
// and a paused connection is simply not read. Nothing is lost: the bytes
// stay in the kernel, and resuming reads them on the worker that resumes
// it, since no new edge will come while the peer's writes are blocked.
//
// The parser stops at the message that fills the inbox (wsproto
// Parser.FeedSome); the rest of that read (at most one read buffer) is
// held and parsed first on resume, so frames keep their order. Pings,
// pongs and close frames behind it wait too. While paused, a connection
// is not timed out for silence (Config.PingTimeout): the silence is the
// engine's own doing, and the clock restarts when reading resumes.
// Instead, a connection whose worker takes nothing from its full inbox for
// Config.InboxTimeout (a handler blocked for good) is closed with 1008.
//
// Concurrency: the socket is read, and what is read is handled, only with
// readMu held, by the poller or by a worker resuming the connection, so
// bytes are handled in the order they arrive. stalledSince is set and
// cleared with both readMu and mu held, and updated with mu held.

// readBufSize is the most one read takes from a socket.
const readBufSize = 32 << 10

// readBufs recycles the read buffers; one is in use per socket being read.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// stallReason is the close reason for a connection paused too long.
const stallReason = "messages not handled in time"

// onRead runs on an epoll loop when bytes arrived on nc's socket.
func (e *Engine) onRead(nc *nbio.Conn) {
	c, _ := nc.Session().(*Conn)
	if c == nil {
		return
	}
	c.readMu.Lock()
	c.readSocket()
	c.readMu.Unlock()
}

// paused reports whether reading c is paused.
func (c *Conn) paused() bool { return c.stalledSince.Load() != 0 }

// readSocket reads the socket and handles what it reads until the socket
// is drained or the connection is paused. Called with readMu held.
func (c *Conn) readSocket() {
	pb := readBufs.Get().(*[]byte)
	defer readBufs.Put(pb)
	for !c.paused() {
		buf := (*pb)[:readBufSize]
		_, n, err := c.nc.ReadAndGetConn(&buf)
		if n > 0 {
			c.onBytes(buf[:n])
		}
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return
		case err != nil || n == 0:
			// A socket error or the peer's FIN: the poller sees the
			// hang-up and closes the socket (see socket.go).
			c.drop()
			return
		case n < readBufSize:
			return // drained: the next arrival is a new edge
		}
	}
}

// onBytes takes bytes read from the socket. Called with readMu held.
func (c *Conn) onBytes(data []byte) {
	switch {
	case c.tls != nil:
		c.tls.pipe.append(data)
		if c.tls.ready.Load() {
			c.readTLS()
		}
	case c.state.Load() == stateHandedOver:
		c.pipe.Load().append(data) // the HTTP server reads it
	default:
		c.handle(data)
	}
}

// pauseIfFull pauses reading c once its inbox holds MaxInflight messages,
// and reports whether it did. Called with readMu and mu held.
func (c *Conn) pauseIfFull() bool {
	if c.in.waiting() < c.eng.cfg.MaxInflight {
		return false
	}
	if !c.paused() {
		c.stalledSince.Store(nowNano())
		c.eng.counters.pauses.Add(1)
	}
	return true
}

// tookWhilePaused notes that the worker took a message from a paused
// connection's inbox, and reports whether reading may resume (the inbox
// is down to half). Called with mu held.
func (c *Conn) tookWhilePaused() (resume bool) {
	if !c.paused() {
		return false
	}
	c.stalledSince.Store(nowNano()) // progress: the deadline starts again
	return c.in.waiting() <= c.eng.cfg.MaxInflight/2
}

// resumeReading resumes reading a paused connection, if it is still
// paused and its inbox is down to half or it is closing: it handles what
// was held, then reads the socket. Called by a worker, with no lock held.
func (c *Conn) resumeReading() {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	c.mu.Lock()
	ok := c.paused() && (c.in.waiting() <= c.eng.cfg.MaxInflight/2 || c.state.Load() != stateOpen)
	if ok {
		c.stalledSince.Store(0)
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	c.lastRead.Store(nowNano()) // the silence was ours: its clock restarts
	if held := c.held; held != nil {
		c.held = nil
		c.handle(held)
	}
	if c.tls != nil && !c.paused() {
		c.readTLS() // what crypto/tls and its pipe hold
	}
	c.readSocket()
}

// resumeJob resumes reading a paused connection on a worker of its own:
// one that is closing, whose own worker may be blocked in its handler,
// reads the peer's answer to its close frame (messages are discarded).
type resumeJob struct{ c *Conn }

// checkStall closes c with 1008 if its worker has taken nothing from its
// full inbox for InboxTimeout, and reports whether it is paused. Called
// by the sweeper.
func (c *Conn) checkStall(now int64) (paused bool) {
	since := c.stalledSince.Load()
	if since == 0 {
		return false
	}
	if now-since > int64(c.eng.cfg.InboxTimeout) {
		c.eng.counters.stalls.Add(1)
		c.Close(wsproto.ClosePolicy, stallReason)
	}
	return true
}
