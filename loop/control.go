package loop

import (
	"math"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// control is a transport's own outbound state, besides its stream's frames:
// the $welcome preamble, the pending pong and ping, and the close frame.
// Guarded by Conn.mu; the flusher writes it.
type control struct {
	preamble *frame.Outgoing // written before any stream frame, without seq

	pong      []byte // payload of the one pending pong
	pongReady bool
	ping      bool

	closeQueued, closeSent, peerClosed bool
	closeNow                           bool   // write the close frame without waiting for stream frames
	closeUpTo                          uint64 // stream frames up to this seq go out before the close frame
	closeCode                          uint16
	closeReason                        string
}

// appendControl appends the preamble, a pong and a ping, if pending.
func (o *control) appendControl(buf []byte, codec frame.Codec) []byte {
	if o.preamble != nil {
		body := o.preamble.Body(codec)
		op := wsproto.OpText
		if codec.Binary() {
			op = wsproto.OpBinary
		}
		buf = wsproto.AppendHeader(buf, op, codec.MessageLen(0, body))
		buf = codec.AppendMessage(buf, 0, body)
		o.preamble = nil
	}
	if o.pongReady {
		buf = wsproto.AppendFrame(buf, wsproto.OpPong, o.pong)
		o.pongReady = false
		o.pong = nil
	}
	if o.ping {
		buf = wsproto.AppendFrame(buf, wsproto.OpPing, nil)
		o.ping = false
	}
	return buf
}

func (o *control) appendClose(buf []byte) []byte {
	o.closeSent = true
	return wsproto.AppendClose(buf, o.closeCode, o.closeReason)
}

// Close starts the close handshake with code and reason: stream frames
// queued for this transport before the call are written first, then the
// close frame; the TCP connection is dropped when the peer answers or after
// Config.CloseWait. Later calls do nothing.
func (c *Conn) Close(code uint16, reason string) {
	c.mu.Lock()
	st := c.stream
	c.mu.Unlock()
	upTo := uint64(math.MaxUint64)
	if st != nil {
		upTo = st.Last()
	}
	c.closeWith(code, reason, false, upTo)
}

// closeDetached closes a transport its stream no longer writes to: the
// close frame goes out at once, even past bytes nbio still holds.
func (c *Conn) closeDetached(code uint16, reason string) {
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
	c.mu.Unlock()
	c.markDirty()
}

// queuePong keeps only the latest ping's payload: at most one pong is ever
// pending (RFC 6455 §5.5.3 allows answering only the most recent ping).
func (c *Conn) queuePong(payload []byte) {
	c.mu.Lock()
	c.ctl.pong = append(c.ctl.pong[:0], payload...)
	c.ctl.pongReady = true
	c.mu.Unlock()
	c.markDirty()
}

// queuePing asks the flusher to send a ping.
func (c *Conn) queuePing() {
	c.mu.Lock()
	c.ctl.ping = true
	c.mu.Unlock()
	c.markDirty()
}
