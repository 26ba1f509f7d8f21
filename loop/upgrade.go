package loop

import (
	"context"
	"net/http"
	"time"

	"github.com/lesismal/nbio"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// beginUpgrade hands a complete, valid upgrade request to the worker pool
// for Handler.Upgrade. The request's context (a child of parent) ends at
// the authorization deadline, when the client goes away (onClose), or
// once the upgrade is decided and opened (releaseRequest). Called with
// readMu held.
func (c *Conn) beginUpgrade(parent context.Context, up *wsproto.Upgrade) {
	if !c.state.CompareAndSwap(stateHandshake, stateAuthorizing) {
		return // refused meanwhile (shutdown)
	}
	cfg := &c.eng.cfg
	c.deadline.Store(time.Now().Add(cfg.AuthTimeout + cfg.CloseWait).UnixNano())
	ctx, cancel := context.WithTimeout(parent, cfg.AuthTimeout)
	r := up.Request.WithContext(ctx)
	r.RemoteAddr = c.RemoteAddr().String()
	c.mu.Lock()
	c.hs.request = r
	c.hs.cancel = cancel
	c.in.running = true // the upgrade job owns the connection's worker turn
	c.mu.Unlock()
	j := &upgradeJob{c: c, key: up.Key, up: &Upgrade{Request: r, Protocols: up.Protocols}}
	if cfg.Compression {
		j.deflate = up.Deflate
	}
	c.eng.submit(j)
}

// adoption is an upgrade request that ServeHTTP took over.
type adoption struct {
	parent context.Context
	up     *wsproto.Upgrade
}

// ServeHTTP takes over a WebSocket upgrade request from a net/http server
// (or any router built on it), at whatever path it is mounted: the
// connection is hijacked and handed to the event loop, which authorizes,
// upgrades and serves it as if it had accepted it itself, with no
// goroutine of its own. Requests that are not valid upgrades are answered
// with an HTTP error (400, 405 or 426) and a plain-text reason.
//
// Only plain TCP connections can be taken over: a request that came over
// TLS terminated by the HTTP server is refused with 500 (terminate TLS in
// the engine with Config.TLSConfig, or in a proxy). The engine starts its
// event loop on first use; after Shutdown every request gets 503.
//
// Authorize-time hooks see the request with the values of its context
// (set by middleware), a deadline of Config.AuthTimeout, and cancellation
// when the client goes away.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.adopting.RLock()
	defer e.adopting.RUnlock()
	if e.draining.Load() || e.run() != nil {
		writeRefusal(w, &wsproto.HTTPError{Status: http.StatusServiceUnavailable, Reason: "server shutting down"})
		return
	}
	up, err := wsproto.CheckUpgrade(r, "")
	if err != nil {
		e.refuseRequest(w, r, err)
		return
	}
	if r.TLS != nil {
		e.log.Error("cannot take over a WebSocket whose TLS the HTTP server terminates; set the server's TLSConfig instead, or terminate TLS in a proxy",
			"remote", r.RemoteAddr)
		writeRefusal(w, &wsproto.HTTPError{Status: http.StatusInternalServerError,
			Reason: "this server cannot take over TLS connections"})
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		e.log.Error("cannot take over a WebSocket: the ResponseWriter is not an http.Hijacker (HTTP/2?)", "remote", r.RemoteAddr)
		writeRefusal(w, &wsproto.HTTPError{Status: http.StatusInternalServerError,
			Reason: "this server cannot take over the connection"})
		return
	}
	netConn, rw, err := hj.Hijack()
	if err != nil {
		e.log.Error("hijacking an upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ = rw.Reader.Peek(n)
		early = append([]byte(nil), early...)
	}
	_ = netConn.SetDeadline(time.Time{})
	nc, err := nbio.NBConn(netConn) // a duplicate of its descriptor; netConn is closed
	if err != nil {
		_ = netConn.Close()
		e.log.Error("cannot take over a WebSocket connection", "remote", r.RemoteAddr, "err", err)
		return
	}
	// The request's own context ends when this handler returns: keep its
	// values (set by middleware), and end with the engine instead.
	c := &Conn{hs: &handshakeState{pending: early,
		adopted: &adoption{parent: valuesOf{Context: e.ctx, values: r.Context()}, up: up}}}
	nc.SetSession(c)
	if _, err := e.nb.AddConn(nc); err != nil {
		_ = nc.Close()
		e.log.Error("cannot serve a taken-over connection", "remote", r.RemoteAddr, "err", err)
	}
}

// refuseRequest answers, and logs, an upgrade request of an HTTP server
// that fails wsproto's checks.
func (e *Engine) refuseRequest(w http.ResponseWriter, r *http.Request, err error) {
	he, _ := toWire(err)
	e.counters.refuse(he.Status)
	e.refusals.log(r.RemoteAddr, he.Status, he.Reason, "")
	writeRefusal(w, he)
}

// writeRefusal answers a request that was not taken over.
func writeRefusal(w http.ResponseWriter, he *wsproto.HTTPError) {
	for k, v := range he.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(he.Status)
	_, _ = w.Write([]byte(he.Reason + "\n"))
}

// valuesOf is a context that ends with its Context and holds the values
// of another.
type valuesOf struct {
	context.Context
	values context.Context
}

func (v valuesOf) Value(key any) any { return v.values.Value(key) }
