package loop

import (
	"context"
	"crypto/tls"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// A TLS connection runs Go's crypto/tls over the bytes the event loop
// reads. The handshake runs on a goroutine of its own (crypto/tls reads
// it with blocking calls), bounded by HandshakeTimeout; from then on the
// connection needs no goroutine: the poller hands each read to the pipe
// and decrypts what crypto/tls can, which asks for more by a
// temporary error that leaves its partial record in place. Writes are
// encrypted on the writer's goroutine and go out as raw writes.
type tlsConn struct {
	conn  *tls.Conn
	pipe  *pipe
	ready atomic.Bool // the handshake succeeded: the poller decrypts
}

// errWouldBlock tells crypto/tls that no more bytes are there yet. It is
// temporary: crypto/tls keeps the partial record and reads again later.
var errWouldBlock = &wouldBlock{}

type wouldBlock struct{}

func (*wouldBlock) Error() string   { return "loop: no more TLS bytes yet" }
func (*wouldBlock) Timeout() bool   { return true }
func (*wouldBlock) Temporary() bool { return true }

// startTLS wraps c in TLS and starts its handshake.
func (c *Conn) startTLS(cfg *tls.Config) {
	p := newPipe(c, true)
	c.tls = &tlsConn{conn: tls.Server(p, cfg), pipe: p}
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
		c.eng.log.Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
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
// connection's bytes, until the connection is paused: the rest then stays
// encrypted in the pipe and crypto/tls until reading resumes. Called with
// readMu held, once the handshake is done.
func (c *Conn) readTLS() {
	if c.state.Load() == stateHandedOver {
		return // the HTTP server reads it
	}
	pb := tlsBufs.Get().(*[]byte)
	defer tlsBufs.Put(pb)
	for !c.paused() {
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
