package loop

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// pipe is a net.Conn over a connection the event loop keeps serving: the
// poller appends what it reads (append), and Read takes it; Write is a raw
// write to the socket. It sits under crypto/tls on a TLS connection, and
// under the HTTP server on a connection handed to Config.HTTPHandler.
//
// In blocking mode (a TLS handshake, a handed-over connection) Read waits
// for bytes up to its read deadline, and Write waits while more than
// pipeWriteAhead bytes are not yet in the kernel (woken by Conn.written),
// so a peer that does not read holds back its writer instead of growing
// memory; a peer that reads nothing for Config.PingTimeout is dropped.
// Otherwise Read reports errWouldBlock when empty and Write never waits:
// the flusher writes through it and must not block. The poller drops a
// peer that sends more than pipeMaxUnread bytes the reader has not taken
// in blocking mode: an HTTP request to Config.HTTPHandler has no inbox,
// so it is not paused (see backpressure.go) but bounded this way. Once a
// handed-over connection upgrades to a WebSocket, it is paused like any.
// In non-blocking mode (TLS after its handshake) the pipe holds at most
// what one read took while the connection is paused.
type pipe struct {
	c *Conn

	mu       sync.Mutex
	wake     chan struct{} // closed and replaced on any change a waiter needs
	buf      []byte        // bytes read and not taken; nil when empty
	blocking bool
	closed   bool
	readBy   time.Time // read deadline; zero: none
	writeBy  time.Time // write deadline; zero: none
}

// Bounds of a pipe in blocking mode.
const (
	pipeMaxUnread  = 1 << 20   // bytes the reader has not taken
	pipeWriteAhead = 256 << 10 // bytes written and not yet in the kernel
	pipeChunk      = 64 << 10  // the most one raw write takes
)

func newPipe(c *Conn, blocking bool) *pipe {
	p := &pipe{c: c, wake: make(chan struct{}), blocking: blocking}
	c.pipe.Store(p)
	return p
}

// signal wakes every waiter. Called with p.mu held.
func (p *pipe) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// wakeWriters wakes a Write waiting for the socket to drain. It takes
// only p.mu, a leaf: Conn.written calls it with nbio's lock held.
func (p *pipe) wakeWriters() {
	p.mu.Lock()
	p.signal()
	p.mu.Unlock()
}

// append adds bytes the poller read. Called on the poller, with the
// connection's readMu held. A reader that lets too much pile up loses
// the connection.
func (p *pipe) append(b []byte) {
	p.mu.Lock()
	over := p.blocking && len(p.buf)+len(b) > pipeMaxUnread
	if !over {
		p.buf = append(p.buf, b...)
	}
	p.signal()
	p.mu.Unlock()
	if over {
		p.c.eng.log.Debug("dropping a connection whose reader fell behind", "remote", p.c.RemoteAddr().String())
		p.c.drop()
	}
}

// take returns and removes the bytes not read yet.
func (p *pipe) take() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buf
	p.buf = nil
	return b
}

// setBlocking switches between the modes.
func (p *pipe) setBlocking(b bool) {
	p.mu.Lock()
	p.blocking = b
	p.signal()
	p.mu.Unlock()
}

// wait waits, with p.mu held (released meanwhile), until signalled or
// until the deadline; it reports false at the deadline.
func (p *pipe) wait(deadline time.Time) bool {
	wake := p.wake
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return false
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	p.mu.Unlock()
	defer p.mu.Lock()
	select {
	case <-wake:
		return true
	case <-timeout:
		return false
	}
}

func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 {
		switch {
		case p.closed:
			return 0, io.EOF
		case !p.blocking:
			return 0, errWouldBlock
		case !p.wait(p.readBy):
			return 0, os.ErrDeadlineExceeded
		}
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil // an idle connection keeps no buffer
	}
	return n, nil
}

func (p *pipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	blocking := p.blocking
	p.mu.Unlock()
	if !blocking {
		p.c.writeRaw(b)
		return len(b), nil
	}
	written := 0
	for written < len(b) {
		if err := p.waitWritable(); err != nil {
			return written, err
		}
		n := min(len(b)-written, pipeChunk)
		p.c.writeRaw(b[written : written+n])
		written += n
	}
	return written, nil
}

// waitWritable waits until the socket has taken all but pipeWriteAhead
// of what was written, the write deadline passes, or the pipe closes. A
// peer that takes nothing for PingTimeout is dropped.
func (p *pipe) waitWritable() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	stalled := time.Now().Add(p.c.eng.cfg.PingTimeout)
	for p.c.unsent.Load() > pipeWriteAhead {
		if p.closed {
			return net.ErrClosed
		}
		deadline := stalled
		if !p.writeBy.IsZero() && p.writeBy.Before(deadline) {
			deadline = p.writeBy
		}
		if !p.wait(deadline) {
			if time.Now().Before(stalled) {
				return os.ErrDeadlineExceeded
			}
			p.c.drop()
			return net.ErrClosed
		}
	}
	if p.closed {
		return net.ErrClosed
	}
	return nil
}

// Close ends the pipe: a waiting Read or Write returns, and the socket is
// dropped once what was written has gone out.
func (p *pipe) Close() error {
	p.mu.Lock()
	first := !p.closed
	p.closed = true
	p.signal()
	p.mu.Unlock()
	if first {
		p.c.dropWhenWritten()
	}
	return nil
}

// closeRead ends the pipe when the socket is gone, without dropping it
// again.
func (p *pipe) closeRead() {
	p.mu.Lock()
	p.closed = true
	p.signal()
	p.mu.Unlock()
}

func (p *pipe) LocalAddr() net.Addr  { return p.c.nc.LocalAddr() }
func (p *pipe) RemoteAddr() net.Addr { return p.c.RemoteAddr() }

func (p *pipe) SetDeadline(t time.Time) error      { return p.setDeadlines(&t, &t) }
func (p *pipe) SetReadDeadline(t time.Time) error  { return p.setDeadlines(&t, nil) }
func (p *pipe) SetWriteDeadline(t time.Time) error { return p.setDeadlines(nil, &t) }

// setDeadlines sets the deadlines given (nil: unchanged) and wakes the
// waiters to look at them.
func (p *pipe) setDeadlines(read, write *time.Time) error {
	p.mu.Lock()
	if read != nil {
		p.readBy = *read
	}
	if write != nil {
		p.writeBy = *write
	}
	p.signal()
	p.mu.Unlock()
	return nil
}
