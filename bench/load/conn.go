package load

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"

	"github.com/lesismal/nbio"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// Conn is one client connection. Its receive state is touched only by the
// nbio poller that owns it (or before the connection is added to it);
// Send and Close are safe for concurrent use.
type Conn struct {
	pool    *Pool
	nc      sock                   // *nbio.Conn, or a *tls.Conn (Config.TLS)
	session atomic.Pointer[string] // from $welcome
	token   atomic.Pointer[string] // resume token from $welcome
	closed  atomic.Bool
	code    atomic.Uint32 // first close code received from the server; 0 none

	// Receive state, owned by the poller; rmu orders the first feed (on
	// the dialing goroutine) before the poller's.
	rmu     sync.Mutex
	buf     []byte // an incomplete frame
	msg     []byte // a fragmented message being assembled
	frag    bool
	fragZ   bool   // the fragmented message is compressed (RSV1 on its first frame)
	zbuf    []byte // the last inflated message
	lastSeq uint64
	seen    atomic.Uint64 // lastSeq, for other goroutines

	// deflate: the server accepted permessage-deflate (Config.Deflate);
	// set before the connection is read, then only read.
	deflate bool

	cf *cfState // centrifuge's protocol (Config.Centrifuge); nil for roomloop's

	// Index is the connection's position in its OpenN batch; scenarios use
	// it to pick roles.
	Index int
	// N and T are scratch state for scenarios (a counter and a time).
	N, T atomic.Int64
}

// sock is a client connection's socket.
type sock interface {
	Write(b []byte) (int, error)
	Close() error
}

// Session returns the session id from $welcome ("" before it arrived).
func (c *Conn) Session() string {
	if p := c.session.Load(); p != nil {
		return *p
	}
	return ""
}

// Token returns the resume token from $welcome ("" before it arrived, or
// when the server has resumption off).
func (c *Conn) Token() string {
	if p := c.token.Load(); p != nil {
		return *p
	}
	return ""
}

// CloseCode returns the code of the first close frame the server sent on
// this connection, 0 if none arrived.
func (c *Conn) CloseCode() uint16 { return uint16(c.code.Load()) }

// Closed reports whether the connection has ended or is closing.
func (c *Conn) Closed() bool { return c.closed.Load() }

// Deflate reports whether the server accepted the connection's
// permessage-deflate offer (Config.Deflate).
func (c *Conn) Deflate() bool { return c.deflate }

// LastSeq returns the highest seq this connection has processed (after a
// resume, counting from the resumed seq). Safe to call from anywhere,
// handlers included.
func (c *Conn) LastSeq() uint64 { return c.seen.Load() }

// Reset ends the connection abortively: the kernel sends a TCP reset
// instead of a FIN, and no close frame is sent.
func (c *Conn) Reset() {
	c.closed.Store(true)
	switch nc := c.nc.(type) {
	case *nbio.Conn:
		_ = nc.SetLinger(1, 0)
	case *tls.Conn:
		if tc, ok := nc.NetConn().(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	_ = c.nc.Close()
}

// WritePing writes a masked WebSocket ping frame with payload.
func (c *Conn) WritePing(payload []byte) error {
	return c.write(wsproto.OpPing, payload)
}

// Send writes msg as one masked text frame (against centrifuge, as the
// command it translates to: see centrifuge.go).
func (c *Conn) Send(msg []byte) error {
	if c.cf != nil {
		return c.cfSend(msg)
	}
	return c.write(wsproto.OpText, msg)
}

// write writes one masked frame.
func (c *Conn) write(op wsproto.Opcode, payload []byte) error {
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	b := wsproto.AppendClientFrame(make([]byte, 0, len(payload)+14), true, op, payload, mask)
	_, err := c.nc.Write(b)
	return err
}

// Close sends a close frame (1000) and lets the server end the TCP
// connection; Pool.Close drops whatever is left.
func (c *Conn) Close() {
	if c.closed.Swap(true) {
		return
	}
	_ = c.write(wsproto.OpClose, []byte{0x03, 0xE8})
}

// feed parses server frames from data (a read from the socket).
func (c *Conn) feed(data []byte) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.feedLocked(data)
}

// feedLocked is feed with c.rmu held.
func (c *Conn) feedLocked(data []byte) {
	c.pool.stats.WireBytes.Add(int64(len(data)))
	aliased := false
	if len(c.buf) > 0 {
		c.buf = append(c.buf, data...)
		data, aliased = c.buf, true
	}
	for len(data) >= 2 {
		b0, b1 := data[0], data[1]
		if b1&0x80 != 0 {
			c.pool.stats.Malformed.Add(1) // a masked server frame
			c.drop()
			return
		}
		n, hl := uint64(b1&0x7F), 2
		switch n {
		case 126:
			if len(data) < 4 {
				break
			}
			n, hl = uint64(binary.BigEndian.Uint16(data[2:])), 4
		case 127:
			if len(data) < 10 {
				break
			}
			n, hl = binary.BigEndian.Uint64(data[2:]), 10
		}
		if (b1&0x7F == 126 && hl != 4) || (b1&0x7F == 127 && hl != 10) || uint64(len(data)-hl) < n {
			break
		}
		c.frame(b0, data[hl:hl+int(n)])
		data = data[hl+int(n):]
	}
	switch {
	case len(data) == 0:
		if cap(c.buf) > 64<<10 {
			c.buf = nil
		} else {
			c.buf = c.buf[:0]
		}
	case aliased:
		c.buf = c.buf[:copy(c.buf, data)]
	default:
		c.buf = append(c.buf[:0], data...)
	}
}

// frame handles one complete frame. RSV1 marks the first frame of a
// compressed message, and only where permessage-deflate was negotiated;
// any other reserved bit is a protocol error, which drops the connection.
func (c *Conn) frame(b0 byte, payload []byte) {
	fin, op, rsv := b0&0x80 != 0, wsproto.Opcode(b0&0x0F), b0&0x70
	if rsv != 0 && (rsv != 0x40 || !c.deflate || (op != wsproto.OpText && op != wsproto.OpBinary)) {
		c.pool.stats.Malformed.Add(1)
		c.drop()
		return
	}
	switch op {
	case wsproto.OpPing:
		c.pool.stats.Pings.Add(1)
		_ = c.write(wsproto.OpPong, payload)
	case wsproto.OpPong:
	case wsproto.OpClose:
		if len(payload) >= 2 {
			code := binary.BigEndian.Uint16(payload)
			c.code.CompareAndSwap(0, uint32(code))
			c.pool.stats.closeCode(code)
		}
		if !c.closed.Swap(true) {
			_ = c.write(wsproto.OpClose, payload[:min(len(payload), 2)])
		}
		c.drop()
	case wsproto.OpText, wsproto.OpBinary:
		if !fin {
			c.msg, c.frag, c.fragZ = append(c.msg[:0], payload...), true, rsv != 0
			return
		}
		c.whole(payload, rsv != 0)
	case wsproto.OpContinuation:
		c.msg = append(c.msg, payload...)
		if fin {
			c.frag = false
			c.whole(c.msg, c.fragZ)
			if cap(c.msg) > 64<<10 {
				c.msg = nil
			}
		}
	default:
		c.pool.stats.Malformed.Add(1)
	}
}

// whole handles one whole data message as received, inflating it first
// when it came compressed (through the pool's cache, Config.InflateCache,
// if on); a message that does not inflate counts as malformed.
func (c *Conn) whole(b []byte, compressed bool) {
	if compressed {
		var out []byte
		var err error
		if z := c.pool.zcache; z != nil {
			out, err = z.inflate(c.zbuf[:0], b, maxInflated)
		} else {
			out, err = inflate(c.zbuf[:0], b, maxInflated)
		}
		if err != nil {
			c.pool.stats.Malformed.Add(1)
			return
		}
		c.pool.stats.Inflated.Add(1)
		c.zbuf, b = out, out
		defer func() {
			if cap(c.zbuf) > 64<<10 {
				c.zbuf = nil
			}
		}()
	}
	c.message(b)
}

// message handles one whole text message.
func (c *Conn) message(b []byte) {
	if c.cf != nil {
		c.cfMessage(b)
		return
	}
	var m Msg
	if !parseMsg(b, &m) {
		c.pool.stats.Malformed.Add(1)
		return
	}
	c.pool.stats.Received.Add(1)
	c.handle(&m)
}

// handle handles one parsed message: $welcome here, everything else
// through the pool's handler, after checking seq.
func (c *Conn) handle(m *Msg) {
	if m.Seq == 0 {
		if string(m.Event) == "$welcome" {
			s := Str(m.Payload, `"session":`)
			c.session.Store(&s)
			tok := Str(m.Payload, `"resume":`)
			c.token.Store(&tok)
			if !bytes.Contains(m.Payload, []byte(`"resumed":true`)) {
				c.lastSeq = 0 // a new session counts from 1
				c.seen.Store(0)
			}
			if h := c.pool.cfg.OnWelcome; h != nil {
				h(c, m)
			}
			c.pool.welcomed(c)
			return
		}
		if !c.pool.cfg.NoSeq {
			c.pool.stats.SeqErrors.Add(1)
		}
	} else {
		if m.Seq != c.lastSeq+1 {
			c.pool.stats.SeqErrors.Add(1)
		}
		c.lastSeq = m.Seq
	}
	if h := c.pool.cfg.Handler; h != nil {
		h(c, m)
	}
	c.seen.Store(c.lastSeq) // processed
}

// drop closes the TCP connection.
func (c *Conn) drop() {
	c.closed.Store(true)
	_ = c.nc.Close()
}
