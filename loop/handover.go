package loop

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
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
	}
	go func() { defer close(h.done); _ = h.srv.Serve(h.ln) }()
	return h
}

// serveHandedOver routes a request on a handed-over connection: a later
// upgrade at Path on a kept-alive connection comes back to the engine.
func (e *Engine) serveHandedOver(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == e.cfg.Path && r.Header.Get("Upgrade") != "" {
		e.ServeHTTP(w, r)
		return
	}
	e.cfg.HTTPHandler.ServeHTTP(w, r)
}

// shutdown ends the server's requests within ctx.
func (h *httpServer) shutdown(ctx context.Context) {
	if err := h.srv.Shutdown(ctx); err != nil {
		_ = h.srv.Close()
	}
	<-h.done
}

// handOver gives c's socket, and every byte read from it so far, to the
// engine's HTTP server. Called on c's poller with readMu held: the event
// loop forgets its own descriptor there, and the HTTP server reads a
// duplicate of it.
func (c *Conn) handOver() {
	if c.tls != nil {
		c.handOverTLS()
		return
	}
	dup, err := -1, error(syscall.EBADF)
	c.withFD(func(fd int) { dup, err = syscall.Dup(fd) })
	if err != nil {
		c.pending = nil
		c.reject(&HTTPError{Status: http.StatusServiceUnavailable, Reason: "server busy"})
		return
	}
	f := os.NewFile(uintptr(dup), "handed-over")
	nc, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		c.pending = nil
		c.reject(&HTTPError{Status: http.StatusServiceUnavailable, Reason: "server busy"})
		return
	}
	read := c.pending
	c.pending = nil
	c.state.Store(stateClosed)
	_ = c.nc.Close() // on the poller itself: see socket.go
	if !c.eng.http.ln.give(&prefixConn{Conn: nc, prefix: read}) {
		_ = nc.Close()
	}
}

// handOverTLS gives c to the engine's HTTP server without taking it out of
// the event loop: the server reads the decrypted stream through crypto/tls,
// whose pipe now blocks, and the poller keeps appending to the pipe. A
// later upgrade on that connection cannot come back to the engine (it is
// refused with 500): a browser opens a new connection for a WebSocket.
func (c *Conn) handOverTLS() {
	read := c.pending
	c.pending = nil
	c.state.Store(stateHandedOver)
	c.deadline.Store(0)
	c.handshakeDone()
	c.tls.pipe.setBlocking(true)
	if !c.eng.http.ln.give(&prefixConn{Conn: c.tls.conn, prefix: read}) {
		c.drop()
	}
}

// prefixConn is a connection whose first bytes were read already.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// SyscallConn lets ServeHTTP take the connection over again (an upgrade
// after earlier requests on it), once its prefix has been read.
func (p *prefixConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := p.Conn.(syscall.Conn)
	if len(p.prefix) > 0 || !ok {
		return nil, syscall.EINVAL
	}
	return sc.SyscallConn()
}

// handoverListener is a net.Listener of handed-over connections.
type handoverListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newHandoverListener() *handoverListener {
	return &handoverListener{conns: make(chan net.Conn, handOverBacklog), closed: make(chan struct{})}
}

// give hands nc to the HTTP server without blocking; false once the
// listener is closed, or while handOverBacklog connections wait for the
// server's accept loop.
func (l *handoverListener) give(nc net.Conn) bool {
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.conns <- nc:
		return true
	default:
		return false
	}
}

// handOverBacklog bounds the connections waiting for the HTTP server.
const handOverBacklog = 1024

func (l *handoverListener) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *handoverListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *handoverListener) Addr() net.Addr { return handoverAddr{} }

type handoverAddr struct{}

func (handoverAddr) Network() string { return "handover" }
func (handoverAddr) String() string  { return "handover" }
