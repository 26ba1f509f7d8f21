package loop

import (
	"context"
	"errors"
	"time"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// handle takes bytes read from the connection (decrypted, under TLS).
// Called with readMu held.
func (c *Conn) handle(data []byte) {
	switch c.state.Load() {
	case stateHandshake:
		c.readHandshake(data)
	case stateAuthorizing:
		c.holdEarly(data)
	case stateOpen, stateClosing:
		c.feed(data)
	}
}

// readHandshake accumulates the upgrade request; once it is complete it
// is parsed and handed to the worker pool for the Upgrade hook.
func (c *Conn) readHandshake(data []byte) {
	cfg := &c.eng.cfg
	hs := c.hs
	hs.pending = append(hs.pending, data...)
	end, err := wsproto.HeadEnd(hs.pending, cfg.headLimits())
	if err != nil {
		hs.pending = nil // not kept while the refusal lingers
		c.reject(err)
		return
	}
	if end < 0 {
		return
	}
	req, err := wsproto.ReadRequest(hs.pending[:end])
	if err == nil && cfg.HTTPHandler != nil && !(wsproto.IsUpgrade(req) && req.URL.Path == cfg.upgradePath(req.URL.Path)) {
		c.handOver() // not this engine's: HTTPHandler's
		return
	}
	var up *wsproto.Upgrade
	if err == nil {
		up, err = wsproto.CheckUpgrade(req, cfg.upgradePath(req.URL.Path))
	}
	if err != nil {
		hs.pending = nil
		c.reject(err)
		return
	}
	hs.pending = append([]byte(nil), hs.pending[end:]...)
	if len(hs.pending) == 0 {
		hs.pending = nil
	}
	c.beginUpgrade(c.eng.ctx, up)
}

// holdEarly keeps bytes a client sent before its upgrade was answered, up
// to one maximal message; they are parsed once the upgrade succeeds.
// Once the upgrade is refused (hs released) they are dropped.
func (c *Conn) holdEarly(data []byte) {
	hs := c.hs
	if hs == nil {
		return // refused: the refusal follows, and nothing is parsed
	}
	if len(hs.pending)+len(data) > c.eng.cfg.MaxMessage+16 {
		hs.pending = nil
		c.reject(&wsproto.HTTPError{Status: 400, Reason: "data sent before the upgrade was answered"})
		return
	}
	hs.pending = append(hs.pending, data...)
}

// takeEarly returns and forgets the bytes held during the handshake.
// Called with readMu held.
func (c *Conn) takeEarly() []byte {
	if c.hs == nil {
		return nil
	}
	early := c.hs.pending
	c.hs.pending = nil
	return early
}

// releaseRequest forgets the upgrade request (Request returns nil from
// here on), ends its context and frees the handshake's state: the
// upgrade is decided (opened or refused). Called without readMu and mu;
// it takes both, as every change of Conn.hs does.
func (c *Conn) releaseRequest() {
	c.readMu.Lock()
	c.mu.Lock()
	var cancel context.CancelFunc
	if c.hs != nil {
		cancel = c.hs.cancel
	}
	c.hs = nil
	c.mu.Unlock()
	c.readMu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// forgetEarly drops the bytes held for a refused upgrade: they will never
// be parsed, and the refusal lingers up to CloseWait.
func (c *Conn) forgetEarly() {
	c.readMu.Lock()
	_ = c.takeEarly()
	c.readMu.Unlock()
}

// hold keeps a copy of data after the bytes held already. Called with
// readMu held.
func (c *Conn) hold(data []byte) {
	if c.held == nil {
		c.held = new([]byte)
	}
	*c.held = append(*c.held, data...)
}

// feed parses WebSocket frames. When a message fills the inbox, parsing
// stops there and the rest of data is held until reading resumes (see
// backpressure.go). Called with readMu held.
func (c *Conn) feed(data []byte) {
	if c.readDone {
		return
	}
	if c.paused() {
		// Not reached by the readers, which stop while paused; kept so that
		// bytes can never overtake the ones held.
		c.hold(data)
		return
	}
	n, err := c.parser.FeedSome(data, (*reader)(c))
	if err == nil && n < len(data) {
		c.hold(data[n:])
	}
	if err != nil {
		c.readDone = true
		var ce *wsproto.CloseError
		if errors.As(err, &ce) {
			c.Close(ce.Code, ce.Reason)
		} else {
			c.Close(wsproto.CloseProtocolError, "protocol error")
		}
		return
	}
	if c.parser.Partial() {
		if c.partialSince.Load() == 0 {
			c.partialSince.Store(time.Now().UnixNano())
		}
	} else if c.partialSince.Load() != 0 {
		c.partialSince.Store(0)
	}
}

// reader receives parsed frames for a Conn on its epoll loop.
type reader Conn

// OnMessage queues a whole message for the worker pool.
func (r *reader) OnMessage(op wsproto.Opcode, payload []byte) {
	c := (*Conn)(r)
	c.lastRead.Store(time.Now().UnixNano())
	if c.state.Load() != stateOpen {
		return // closing: data after our close frame is discarded
	}
	data := make([]byte, len(payload))
	copy(data, payload)
	if c.deliver(op == wsproto.OpBinary, data) {
		c.parser.Pause() // the inbox is full: parse no further for now
	}
}

// OnControl answers pings, notes pongs and completes close handshakes.
func (r *reader) OnControl(op wsproto.Opcode, payload []byte) {
	c := (*Conn)(r)
	c.lastRead.Store(time.Now().UnixNano())
	switch op {
	case wsproto.OpPing:
		if c.state.Load() == stateOpen {
			c.queuePong(payload)
		}
	case wsproto.OpPong:
		c.ponged(payload)
	case wsproto.OpClose:
		c.readDone = true
		code, reason := wsproto.ParseClose(payload)
		c.peerClose(code, reason)
	}
}

// peerClose handles the peer's close frame: answer it (echoing its code)
// unless we already sent ours, and drop TCP once both are exchanged.
func (c *Conn) peerClose(code uint16, reason string) {
	c.mu.Lock()
	if c.in.closed {
		c.mu.Unlock()
		return
	}
	o := &c.ctl
	o.peerClosed = true
	if o.closeQueued {
		c.in.info = CloseInfo{Code: o.closeCode, Reason: o.closeReason, ServerClosed: true}
	} else {
		c.in.info = CloseInfo{Code: code, Reason: reason, PeerClosed: true}
		o.closeQueued, o.closeNow = true, true
		o.closeCode, o.closeReason = echoCode(code), ""
		c.state.Store(stateClosing)
		c.deadline.Store(nowNano() + int64(c.eng.cfg.CloseWait))
	}
	sent := o.closeSent
	c.mu.Unlock()
	if sent {
		c.dropWhenWritten()
		return
	}
	c.Wake()
}

// echoCode is the code to answer a peer's close with: its own, or 1000
// when it sent none.
func echoCode(code uint16) uint16 {
	if code == 1005 || code == 0 {
		return wsproto.CloseNormal
	}
	return code
}
