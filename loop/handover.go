package loop

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// httpServer serves Config.HTTPHandler on the connections the engine
// hands over: those whose first request is not an upgrade at its path.
// It is a net/http server fed by a listener of handed-over connections.
type httpServer struct {
	srv  *http.Server
	ln   *handoverListener
	done chan struct{}
}

func newHTTPServer(e *Engine) *httpServer {
	h := &httpServer{ln: newHandoverListener(), done: make(chan struct{})}
	cfg := &e.cfg
	h.srv = &http.Server{
		Handler:           http.HandlerFunc(e.serveHandedOver),
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		IdleTimeout:       2 * cfg.PingInterval,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return e.ctx },
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			return context.WithValue(ctx, handedConnKey{}, nc)
		},
	}
	go func() { defer close(h.done); _ = h.srv.Serve(h.ln) }()
	return h
}

// serveHandedOver routes a request on a handed-over connection: an
// upgrade at Path (a WebSocket after earlier requests on a kept-alive
// connection) comes back to the engine; the rest is HTTPHandler's.
func (e *Engine) serveHandedOver(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != e.cfg.upgradePath(r.URL.Path) || !wsproto.IsUpgrade(r) {
		// net/http sees our wrapper, not a *tls.Conn: tell the handler
		// what TLS carried the request, as net/http would.
		if hc, ok := r.Context().Value(handedConnKey{}).(*handedConn); ok && hc.c.tls != nil {
			st := hc.c.tls.conn.ConnectionState()
			r = r.WithContext(r.Context())
			r.TLS = &st
		}
		e.cfg.HTTPHandler.ServeHTTP(w, r)
		return
	}
	up, err := wsproto.CheckUpgrade(r, e.cfg.upgradePath(r.URL.Path))
	if err != nil {
		e.refuseRequest(w, r, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeRefusal(w, &wsproto.HTTPError{Status: http.StatusInternalServerError, Reason: "cannot take the connection back"})
		return
	}
	nc, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	hc, ok := nc.(*handedConn)
	if !ok { // cannot happen: the server only has connections we gave it
		_ = nc.Close()
		return
	}
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		early = append(early, b...)
	}
	early = append(early, hc.prefix...)
	hc.c.takeBack(valuesOf{Context: e.ctx, values: r.Context()}, up, early)
}

// shutdown ends the server's requests within ctx.
func (h *httpServer) shutdown(ctx context.Context) {
	if err := h.srv.Shutdown(ctx); err != nil {
		_ = h.srv.Close()
	}
	<-h.done
}

// handOver gives c to the engine's HTTP server, with every byte read from
// it so far, without taking it out of the event loop: the server reads
// through a pipe the poller keeps feeding (decrypted by crypto/tls on a
// TLS connection), and writes through it. Called on c's poller with
// readMu held.
func (c *Conn) handOver() {
	read := c.takeEarly()
	c.deadline.Store(0) // the HTTP server's timeouts apply now
	c.handshakeDone()
	hc := &handedConn{c: c}
	if c.tls != nil {
		c.tls.pipe.setBlocking(true)
		hc.Conn, hc.prefix = c.tls.conn, read // already decrypted
	} else {
		p := newPipe(c, true)
		p.append(read)
		hc.Conn = p
	}
	c.state.Store(stateHandedOver)
	if !c.eng.http.ln.give(hc) {
		c.drop()
	}
}

// takeBack returns a handed-over connection to the engine for a WebSocket
// upgrade that came after earlier requests on it; early holds the bytes
// the HTTP server read past that request.
func (c *Conn) takeBack(parent context.Context, up *wsproto.Upgrade, early []byte) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if !c.state.CompareAndSwap(stateHandedOver, stateHandshake) {
		return // gone meanwhile
	}
	if c.tls != nil {
		c.tls.pipe.setBlocking(false)
	} else {
		early = append(early, c.pipe.Load().take()...)
		c.pipe.Store(nil)
	}
	c.mu.Lock()
	if c.hs == nil {
		c.hs = new(handshakeState)
	}
	c.mu.Unlock()
	c.hs.pending = early
	c.beginUpgrade(parent, up)
	if c.tls != nil {
		c.readTLS() // what crypto/tls and its pipe still hold
	}
}

// handedConnKey keys the handedConn of a request in its context.
type handedConnKey struct{}

// handedConn is a connection the HTTP server serves: c's pipe, or the TLS
// connection over it, with the plaintext read before the hand-over first.
type handedConn struct {
	net.Conn
	c      *Conn
	prefix []byte
}

func (h *handedConn) Read(b []byte) (int, error) {
	if len(h.prefix) > 0 {
		n := copy(b, h.prefix)
		h.prefix = h.prefix[n:]
		return n, nil
	}
	return h.Conn.Read(b)
}

// handoverListener is a net.Listener of handed-over connections.
type handoverListener struct {
	conns    chan net.Conn
	closed   chan struct{}
	mu       sync.Mutex // orders give and Close
	isClosed bool
}

func newHandoverListener() *handoverListener {
	return &handoverListener{conns: make(chan net.Conn, handOverBacklog), closed: make(chan struct{})}
}

// handOverBacklog bounds the connections waiting for the HTTP server.
const handOverBacklog = 1024

// give hands nc to the HTTP server without blocking; false once the
// listener is closed, or while handOverBacklog connections wait for the
// server's accept loop.
func (l *handoverListener) give(nc net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		return false
	}
	select {
	case l.conns <- nc:
		return true
	default:
		return false
	}
}

func (l *handoverListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops the listener and closes the connections still waiting.
func (l *handoverListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.isClosed {
		return nil
	}
	l.isClosed = true
	close(l.closed)
	for {
		select {
		case nc := <-l.conns:
			_ = nc.Close()
		default:
			return nil
		}
	}
}

func (l *handoverListener) Addr() net.Addr { return handoverAddr{} }

type handoverAddr struct{}

func (handoverAddr) Network() string { return "handover" }
func (handoverAddr) String() string  { return "handover" }
