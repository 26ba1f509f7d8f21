package loop

import (
	"errors"
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
// (On kqueue systems, macOS and the BSDs, nbio's poller is level-triggered
// whatever EpollMod says: reading works the same, but a paused connection
// with bytes waiting keeps its poller spinning until it resumes. Linux,
// the platform roomloop is deployed on, has no such cost.)
//
// The parser stops at the message that fills the inbox (wsproto
// Parser.FeedSome); the rest of that read (at most one read buffer) is
// held and parsed first on resume, so frames keep their order. Pings,
// pongs and close frames behind it wait too. While paused, a connection
// is not timed out for silence (Config.PingTimeout): the silence is the
// engine's own doing, and the clock restarts when reading resumes. It is
// pinged every quarter PingInterval, so that its peer keeps hearing from
// the server. A connection whose worker takes nothing from its full inbox
// for Config.InboxTimeout (a handler blocked for good) is closed with
// 1008; so that the peer's answer to any close frame is read, a paused
// connection that starts closing resumes reading (resumeJob), discarding
// messages.
//
// A turn of reading takes at most maxReadsPerTurn reads; a worker reads on
// (readJob), so a peer that sends without pause cannot hold its poller.
//
// Concurrency: the socket is read, and what is read is handled, only with
// readMu held (by the poller, a worker resuming the connection, or a
// readJob), so bytes are handled in the order they arrive; a poller may
// wait for a worker's turn on the same connection (at most 1 MiB read).
// stalledSince is set and cleared with both readMu and mu held, and
// updated with mu held.

// readBufSize is the most one read takes from a socket.
const readBufSize = 32 << 10

// readBufs recycles the read buffers; one is in use per socket being
// read. A channel rather than a sync.Pool: the race detector makes a
// sync.Pool drop a quarter of what it is given, which would allocate
// 32 KiB for every few reads under test.
var readBufs = make(chan *[]byte, 64)

func getReadBuf() *[]byte {
	select {
	case b := <-readBufs:
		return b
	default:
		b := make([]byte, readBufSize)
		return &b
	}
}

func putReadBuf(b *[]byte) {
	select {
	case readBufs <- b:
	default:
	}
}

// stallReason is the close reason for a connection paused too long.
const stallReason = "messages not handled in time"

// maxReadsPerTurn bounds the reads of one socket in one turn (1 MiB).
const maxReadsPerTurn = 32

// onRead runs on an epoll loop when bytes arrived on nc's socket.
func (e *Engine) onRead(nc *nbio.Conn) {
	switch s := nc.Session().(type) {
	case *Conn:
		s.readTurn()
	case *pollerProbe:
		s.readable()
	}
}

// readJob reads on a worker what a turn of reading left in the socket.
type readJob struct{ c *Conn }

// readTurn reads c's socket for one turn, and has a worker read on if
// bytes are left: no new edge would report them.
func (c *Conn) readTurn() {
	c.readMu.Lock()
	more := c.readSocket()
	c.readMu.Unlock()
	if more && c.flags.cas(flagReadQueued, false, true) {
		c.eng.submit(readJob{c})
	}
}

// run is a readJob's turn.
func (j readJob) run() {
	j.c.flags.store(flagReadQueued, false)
	j.c.readTurn()
}

// paused reports whether reading c is paused.
func (c *Conn) paused() bool { return c.stalledSince.Load() != 0 }

// readSocket reads the socket and handles what it reads until the socket
// is drained, the connection is paused, or maxReadsPerTurn reads, and
// reports whether bytes may be left (after maxReadsPerTurn full reads).
// Called with readMu held.
func (c *Conn) readSocket() (more bool) {
	pb := getReadBuf()
	defer putReadBuf(pb)
	for reads := 0; reads < maxReadsPerTurn; {
		if c.paused() {
			return false // resumeReading reads on
		}
		buf := (*pb)[:readBufSize]
		_, n, err := c.nc.ReadAndGetConn(&buf)
		if n > 0 {
			c.shard.bytesRead.Add(uint64(n))
			c.onBytes(buf[:n])
		}
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return false
		case err != nil || n == 0:
			// A socket error or the peer's FIN: the poller sees the
			// hang-up and closes the socket (see socket.go).
			c.drop()
			return false
		case n < readBufSize:
			return false // drained: the next arrival is a new edge
		}
		reads++
	}
	return true
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
		c.handle(*held)
	}
	if c.tls != nil && !c.paused() {
		c.readTLS() // what crypto/tls and its pipe hold
	}
	if c.readSocket() && c.flags.cas(flagReadQueued, false, true) {
		c.eng.submit(readJob{c})
	}
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
