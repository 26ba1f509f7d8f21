package loop

import (
	"encoding/binary"
	"math"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// control is a transport's own outbound state, besides its source's
// messages: the preface, the pending pong and ping, and the close frame. Guarded by
// Conn.mu; the flusher writes it.
type control struct {
	preface []byte // written before anything else (SetSource)
	pong    []byte // payload of the one pending pong
	pingPos uint64 // the source position the pending ping follows (its payload); 0 none

	closeUpTo   uint64 // source messages up to this position go out before the close frame
	closeReason string
	closeCode   uint16

	pongReady, ping                    bool
	closeQueued, closeSent, peerClosed bool
	closeNow                           bool // write the close frame without waiting for the source
}

// appendControl appends the preface, a pong and a ping, if pending; a
// ping carries the source position it follows (8 bytes, big-endian), or
// nothing when it follows none.
func (o *control) appendControl(buf []byte) []byte {
	if o.preface != nil {
		buf = append(buf, o.preface...)
		o.preface = nil
	}
	if o.pongReady {
		buf = wsproto.AppendFrame(buf, wsproto.OpPong, o.pong)
		o.pongReady = false
		o.pong = nil
	}
	if o.ping && !o.closeSent { // nothing follows a close frame
		var payload []byte
		if o.pingPos > 0 {
			payload = binary.BigEndian.AppendUint64(make([]byte, 0, 8), o.pingPos)
		}
		buf = wsproto.AppendFrame(buf, wsproto.OpPing, payload)
		o.ping, o.pingPos = false, 0
	}
	return buf
}

func (o *control) appendClose(buf []byte) []byte {
	o.closeSent = true
	return wsproto.AppendClose(buf, o.closeCode, o.closeReason)
}

// Close starts the close handshake with code and reason: the source's
// messages queued before the call are written first, then the close
// frame; the TCP connection is dropped when the peer answers or after
// Config.CloseWait. Later calls do nothing.
func (c *Conn) Close(code uint16, reason string) {
	upTo := uint64(math.MaxUint64)
	if src := c.source(); src != nil {
		upTo = src.Position()
	}
	c.closeWith(code, reason, false, upTo)
}

// Abort starts the close handshake at once: the close frame goes out
// ahead of anything the source still holds for c (which stays with the
// source), even past bytes not yet taken by the socket. For a connection
// its source no longer writes to. Later calls, and calls after Close, do
// nothing.
func (c *Conn) Abort(code uint16, reason string) {
	c.closeWith(code, reason, true, 0)
}

func (c *Conn) closeWith(code uint16, reason string, now bool, upTo uint64) {
	c.mu.Lock()
	if c.ctl.closeQueued || c.state.Load() != stateOpen {
		c.mu.Unlock()
		return
	}
	c.ctl.closeQueued = true
	c.ctl.closeNow = now
	c.ctl.closeUpTo = upTo
	c.ctl.closeCode, c.ctl.closeReason = code, reason
	c.state.Store(stateClosing)
	c.deadline.Store(nowNano() + int64(c.eng.cfg.CloseWait))
	paused := c.paused()
	c.mu.Unlock()
	c.Wake()
	if paused {
		// Read the peer's answer to the close frame; what it sent before
		// is discarded. Its own worker may be blocked in a handler.
		c.eng.submit(resumeJob{c})
	}
}

// queuePong keeps only the latest ping's payload: at most one pong is ever
// pending (RFC 6455 §5.5.3 allows answering only the most recent ping).
func (c *Conn) queuePong(payload []byte) {
	c.mu.Lock()
	c.ctl.pong = append(c.ctl.pong[:0], payload...)
	c.ctl.pongReady = true
	c.mu.Unlock()
	c.Wake()
}

// queuePing asks the flusher to send a ping.
func (c *Conn) queuePing() {
	c.mu.Lock()
	c.ctl.ping = true
	c.mu.Unlock()
	c.Wake()
}

// AppendHeader appends the header of an unmasked, final WebSocket data
// frame carrying a whole message of n bytes: binary or text. A Source
// appends it before each message.
func AppendHeader(dst []byte, binary bool, n int) []byte {
	op := wsproto.OpText
	if binary {
		op = wsproto.OpBinary
	}
	return wsproto.AppendHeader(dst, op, n)
}

// AppendDeflatedHeader is AppendHeader for a message of n bytes
// compressed with permessage-deflate (RSV1 set), for a connection whose
// Deflate reports true.
func AppendDeflatedHeader(dst []byte, binary bool, n int) []byte {
	op := wsproto.OpText
	if binary {
		op = wsproto.OpBinary
	}
	return wsproto.AppendCompressedHeader(dst, op, n)
}

// HeaderLen returns the length of the header AppendHeader or
// AppendDeflatedHeader write for a message of n bytes.
func HeaderLen(n int) int { return wsproto.HeaderLen(n) }
