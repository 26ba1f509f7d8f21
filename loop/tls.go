package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A TLS connection runs Go's crypto/tls over the bytes the event loop
// reads. The handshake runs on a goroutine of its own (crypto/tls reads
// it with blocking calls), bounded by HandshakeTimeout; from then on the
// connection needs no goroutine: the poller hands each read to the
// tlsPipe and decrypts what crypto/tls can, which asks for more by a
// temporary error that leaves its partial record in place. Writes are
// encrypted on the writer's goroutine and go out as raw writes.
type tlsConn struct {
	conn  *tls.Conn
	pipe  *tlsPipe
	ready atomic.Bool // the handshake succeeded: the poller decrypts
}

// errWouldBlock tells crypto/tls that no more bytes are there yet. It is
// temporary: crypto/tls keeps the partial record and reads again later.
var errWouldBlock = &wouldBlock{}

type wouldBlock struct{}

func (*wouldBlock) Error() string   { return "loop: no more TLS bytes yet" }
func (*wouldBlock) Timeout() bool   { return true }
func (*wouldBlock) Temporary() bool { return true }

// tlsPipe is the net.Conn under crypto/tls: Read takes the bytes the
// poller appended, Write is a raw write to the socket. In blocking mode
// (the handshake, and a connection handed to the HTTP server) Read waits
// for bytes, up to its read deadline; otherwise it reports errWouldBlock.
type tlsPipe struct {
	c *Conn

	mu       sync.Mutex
	wake     chan struct{} // closed and replaced when bytes arrive or the pipe closes
	buf      []byte        // ciphertext not yet read; nil when empty
	blocking bool
	closed   bool
	deadline time.Time
}

func newTLSPipe(c *Conn) *tlsPipe {
	return &tlsPipe{c: c, wake: make(chan struct{}), blocking: true}
}

// append adds ciphertext the poller read.
func (p *tlsPipe) append(b []byte) {
	p.mu.Lock()
	p.buf = append(p.buf, b...)
	p.signal()
	p.mu.Unlock()
}

// signal wakes a blocked Read. Called with p.mu held.
func (p *tlsPipe) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// setBlocking switches between the modes.
func (p *tlsPipe) setBlocking(b bool) {
	p.mu.Lock()
	p.blocking = b
	p.signal()
	p.mu.Unlock()
}

func (p *tlsPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.buf) == 0 {
		switch {
		case p.closed:
			return 0, io.EOF
		case !p.blocking:
			return 0, errWouldBlock
		}
		wake := p.wake
		var timeout <-chan time.Time
		if !p.deadline.IsZero() {
			d := time.Until(p.deadline)
			if d <= 0 {
				return 0, errWouldBlock // a timeout, as net.Conn reports it
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		p.mu.Unlock()
		select {
		case <-wake:
		case <-timeout:
		}
		p.mu.Lock()
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil // an idle connection keeps no buffer
	}
	return n, nil
}

func (p *tlsPipe) Write(b []byte) (int, error) {
	p.c.writeRaw(b)
	return len(b), nil
}

// Close ends the pipe: a blocked Read returns, and the socket is dropped.
func (p *tlsPipe) Close() error {
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
func (p *tlsPipe) closeRead() {
	p.mu.Lock()
	p.closed = true
	p.signal()
	p.mu.Unlock()
}

func (p *tlsPipe) LocalAddr() net.Addr                { return p.c.nc.LocalAddr() }
func (p *tlsPipe) RemoteAddr() net.Addr               { return p.c.remote }
func (p *tlsPipe) SetWriteDeadline(t time.Time) error { return nil } // writes never block
func (p *tlsPipe) SetDeadline(t time.Time) error      { return p.SetReadDeadline(t) }
func (p *tlsPipe) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	p.deadline = t
	p.signal()
	p.mu.Unlock()
	return nil
}

// startTLS wraps c in TLS and starts its handshake.
func (c *Conn) startTLS(cfg *tls.Config) {
	pipe := newTLSPipe(c)
	c.tls = &tlsConn{conn: tls.Server(pipe, cfg), pipe: pipe}
	go c.tlsHandshake()
}

// tlsHandshake runs the handshake, then lets the poller decrypt, and
// decrypts what arrived meanwhile. A failed handshake drops the socket.
func (c *Conn) tlsHandshake() {
	t := c.tls
	ctx, cancel := context.WithTimeout(c.eng.ctx, c.eng.cfg.HandshakeTimeout)
	err := t.conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		c.eng.log.Debug("TLS handshake failed", "remote", c.remote.String(), "err", err)
		c.drop()
		return
	}
	t.pipe.setBlocking(false)
	_ = t.conn.SetReadDeadline(time.Time{})
	t.ready.Store(true)
	c.readMu.Lock()
	c.readTLS()
	c.readMu.Unlock()
}

// tlsBufs recycles the plaintext buffers of readTLS.
var tlsBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// readTLS decrypts what the pipe holds and handles the plaintext as any
// connection's bytes. Called with readMu held, once the handshake is done.
func (c *Conn) readTLS() {
	if c.state.Load() == stateHandedOver {
		return // the HTTP server reads it
	}
	pb := tlsBufs.Get().(*[]byte)
	defer tlsBufs.Put(pb)
	for {
		n, err := c.tls.conn.Read(*pb)
		if n > 0 {
			c.handle((*pb)[:n])
			if c.state.Load() == stateHandedOver {
				return
			}
		}
		var wb *wouldBlock
		switch {
		case err == nil:
		case errors.As(err, &wb):
			return
		default: // close_notify, a bad record, an alert: the peer is done
			c.drop()
			return
		}
	}
}
