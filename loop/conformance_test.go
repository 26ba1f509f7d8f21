package loop_test

// RFC 6455 conformance, after the categories of the Autobahn|Testsuite:
// hand-built frames over plain TCP against a real engine whose handler
// echoes every message back. Each case asserts what a client sees: the
// echoed message, the pong, or the close code (docs/protocol.md, Closing),
// and, where it matters, what the handler received.
//
// Covered: 1 framing, 2 pings/pongs, 3 reserved bits, 4 opcodes,
// 5 fragmentation, 6 UTF-8, 7 close handshake, 9 limits, 10 many-frame
// messages. Every category runs twice (eachConf): on a plain connection,
// and on one that negotiated permessage-deflate (Config.Compression) and
// sends its frames uncompressed, which the extension allows; categories
// 12 and 13 (compressed messages) are TestConformanceDeflate, in
// conformance_deflate_test.go.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/wsproto"
	"github.com/roomloop/roomloop/loop"
)

// confMask is the masking key of the suite's frames: not zero, so that a
// payload the server forgot to unmask shows.
var confMask = [4]byte{0x5a, 0x3c, 0xe1, 0x07}

// maxMsg is the default maximum message size the suite is written for.
const maxMsg = 64 << 10

// confWait bounds every wait for the server; passing cases take
// milliseconds.
const confWait = 5 * time.Second

// echoHandler accepts everyone on the binary codec and echoes each message
// through the connection's stream: the client gets one roomloop.bin frame
// per message, event "text" or "binary" (the message's opcode), payload the
// message. It records what it received per connection.
type echoHandler struct {
	e     *loop.Engine
	mu    sync.Mutex
	conns map[string]*echoState // by the client's address
}

type echoState struct {
	src       *echoSource
	attachErr error
	mu        sync.Mutex
	msgs      []wsMsg
	closed    chan loop.CloseInfo // Closed's info, once
}

type wsMsg struct {
	op   wsproto.Opcode
	data []byte
}

func (h *echoHandler) Upgrade(*loop.Conn, *loop.Upgrade) (string, error) {
	return "", nil
}

func (h *echoHandler) Open(c *loop.Conn) {
	s := &echoState{src: &echoSource{}, closed: make(chan loop.CloseInfo, 1)}
	c.SetValue(s)
	c.SetSource(s.src, nil)
	h.mu.Lock()
	h.conns[c.RemoteAddr().String()] = s
	h.mu.Unlock()
}

func (h *echoHandler) Message(c *loop.Conn, binary bool, data []byte) {
	s := c.Value().(*echoState)
	op := wsproto.OpText
	if binary {
		op = wsproto.OpBinary
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, wsMsg{op, data})
	s.mu.Unlock()
	s.src.push(op.String(), data)
	c.Wake()
}

func (h *echoHandler) Closed(c *loop.Conn, info loop.CloseInfo) {
	s := c.Value().(*echoState)
	s.closed <- info
}

// echoSource is a loop.Source that writes each echo once, as a
// roomloop.bin message numbered from 1 (the format decodeEcho reads).
type echoSource struct {
	mu      sync.Mutex
	queue   [][]byte // encoded messages not yet written
	last    uint64   // position of the latest message queued
	written uint64
}

func (s *echoSource) push(event string, payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last++
	m := binary.AppendUvarint([]byte{1}, s.last)
	m = binary.AppendUvarint(m, uint64(len(event)))
	m = append(m, event...)
	m = append(m, 0, 0, 0, 0) // room, to, from, id
	s.queue = append(s.queue, append(m, payload...))
}

func (s *echoSource) AppendTo(_ *loop.Conn, buf []byte, upTo uint64, limit int) ([]byte, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start, n := len(buf), 0
	for len(s.queue) > 0 && s.written < upTo {
		m := s.queue[0]
		if n > 0 && len(buf)-start+len(m) > limit {
			break
		}
		buf = append(loop.AppendHeader(buf, true, len(m)), m...)
		s.queue, s.written, n = s.queue[1:], s.written+1, n+1
	}
	return buf, n, len(s.queue) > 0 && s.written < upTo
}

func (s *echoSource) Position() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *echoSource) Written(*loop.Conn) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

func (s *echoSource) Received(uint64) {}

type confServer struct {
	e       *loop.Engine
	h       *echoHandler
	deflate bool // clients negotiate permessage-deflate
}

// eachConf runs test against a plain server, then against one with
// Compression on whose clients negotiate permessage-deflate.
func eachConf(t *testing.T, test func(t *testing.T, s *confServer)) {
	t.Run("plain", func(t *testing.T) { test(t, startConf(t, false)) })
	t.Run("deflate", func(t *testing.T) { test(t, startConf(t, true)) })
}

func startConf(t *testing.T, deflate bool) *confServer {
	t.Helper()
	h := &echoHandler{conns: make(map[string]*echoState)}
	e := loop.New(loop.Config{Compression: deflate}, h)
	h.e = e // before Start, which publishes h to the engine's goroutines
	require.NoError(t, e.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.Shutdown(ctx))
	})
	require.Equal(t, maxMsg, e.Config().MaxMessage, "the suite assumes the default message limit")
	return &confServer{e: e, h: h, deflate: deflate}
}

// wsClient is a raw client of the echo server.
type wsClient struct {
	*rawClient
	st  *echoState
	seq uint64 // seq of the last echo read
}

// dial opens a WebSocket and waits for the handler to open it.
func (s *confServer) dial(t *testing.T) *wsClient {
	t.Helper()
	var rc *rawClient
	if s.deflate {
		rc = upgradeRawExt(t, s.e, "permessage-deflate; client_max_window_bits", wsproto.DeflateResponse)
	} else {
		rc = upgradeRaw(t, s.e)
	}
	addr := rc.nc.LocalAddr().String()
	lookup := func() *echoState {
		s.h.mu.Lock()
		defer s.h.mu.Unlock()
		return s.h.conns[addr]
	}
	require.Eventually(t, func() bool { return lookup() != nil }, confWait, time.Millisecond, "Handler.Open")
	st := lookup()
	require.NoError(t, st.attachErr)
	return &wsClient{rawClient: rc, st: st}
}

// srvFrame is a frame read from the server.
type srvFrame struct {
	op      wsproto.Opcode
	payload []byte
}

func (f srvFrame) String() string {
	return fmt.Sprintf("%v frame %q", f.op, trunc(f.payload))
}

func trunc(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", b[:40], len(b))
	}
	return string(b)
}

// tryNext reads one server frame, which must be final, unmasked and have
// no RSV bit set (the server neither fragments nor negotiates extensions).
func (c *wsClient) tryNext(d time.Duration) (srvFrame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return srvFrame{}, err
	}
	if h[0]&0xf0 != 0x80 || h[1]&0x80 != 0 {
		return srvFrame{}, fmt.Errorf("server frame header %#02x %#02x: want FIN, no RSV, no mask", h[0], h[1])
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126, 127:
		ext := make([]byte, 2+6*(n-126))
		if _, err := io.ReadFull(c.br, ext); err != nil {
			return srvFrame{}, err
		}
		if n == 126 {
			n = uint64(binary.BigEndian.Uint16(ext))
		} else {
			n = binary.BigEndian.Uint64(ext)
		}
	}
	if n > 1<<20 {
		return srvFrame{}, fmt.Errorf("server frame of %d bytes", n)
	}
	f := srvFrame{op: wsproto.Opcode(h[0] & 0x0f), payload: make([]byte, n)}
	_, err := io.ReadFull(c.br, f.payload)
	return f, err
}

func (c *wsClient) next() srvFrame {
	c.t.Helper()
	f, err := c.tryNext(confWait)
	require.NoError(c.t, err)
	return f
}

// decodeEcho decodes the echo handler's roomloop.bin frame.
func decodeEcho(b []byte) (event string, seq uint64, payload []byte, err error) {
	if len(b) == 0 || b[0] != 1 {
		return "", 0, nil, errors.New("not a roomloop.bin message")
	}
	b = b[1:]
	seq, n := binary.Uvarint(b)
	if n <= 0 {
		return "", 0, nil, errors.New("bad seq")
	}
	b = b[n:]
	var fields [5]string // event, room, to, from, id
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return "", 0, nil, errors.New("bad field length")
		}
		fields[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	return fields[0], seq, b, nil
}

// checkEcho requires f to be the echo of the next message, op with want.
func (c *wsClient) checkEcho(f srvFrame, op wsproto.Opcode, want []byte) {
	c.t.Helper()
	require.Equal(c.t, wsproto.OpBinary, f.op, "want the echo of a %v message, got %v", op, f)
	event, seq, got, err := decodeEcho(f.payload)
	require.NoError(c.t, err)
	c.seq++
	assert.Equal(c.t, c.seq, seq, "echo seq")
	assert.Equal(c.t, op.String(), event, "echoed opcode")
	sameBytes(c.t, want, got)
}

func (c *wsClient) expectEcho(op wsproto.Opcode, want []byte) {
	c.t.Helper()
	c.checkEcho(c.next(), op, want)
}

func (c *wsClient) expectPong(want []byte) {
	c.t.Helper()
	f := c.next()
	require.Equal(c.t, wsproto.OpPong, f.op, "want a pong, got %v", f)
	sameBytes(c.t, want, f.payload)
}

// readClose reads up to the server's close frame, allowing only echoes of
// earlier messages before it (never a pong), and returns its code.
func (c *wsClient) readClose() (uint16, string) {
	c.t.Helper()
	for {
		f := c.next()
		if f.op == wsproto.OpClose {
			require.GreaterOrEqual(c.t, len(f.payload), 2, "the server's close frame carries a code")
			return wsproto.ParseClose(f.payload)
		}
		require.Equal(c.t, wsproto.OpBinary, f.op, "unexpected %v before the close frame", f)
		c.seq++
	}
}

// failsWith requires the server to fail the connection with code. It does
// not wait for TCP to end: after failing, the server discards input and
// lingers for Config.CloseWait before it drops the connection (dropping at
// once with unread input would reset it and could destroy the close frame).
func (c *wsClient) failsWith(code uint16) {
	c.t.Helper()
	got, reason := c.readClose()
	require.Equal(c.t, code, got, "close code (reason %q)", reason)
}

// answersClose requires the server to answer the client's close with a
// close of code and then end TCP with nothing after its close frame.
func (c *wsClient) answersClose(code uint16) {
	c.t.Helper()
	got, reason := c.readClose()
	require.Equal(c.t, code, got, "close code (reason %q)", reason)
	_ = c.nc.SetReadDeadline(time.Now().Add(confWait))
	rest, err := io.ReadAll(c.br)
	if !errors.Is(err, syscall.ECONNRESET) {
		require.NoError(c.t, err, "the server did not end TCP after the close handshake")
	}
	assert.Empty(c.t, rest, "bytes after the server's close frame")
}

// finish closes the client's end and returns the handler's CloseInfo and
// every message it received (final: Closed follows the last Message).
func (c *wsClient) finish() (loop.CloseInfo, []wsMsg) {
	c.t.Helper()
	_ = c.nc.Close()
	select {
	case info := <-c.st.closed:
		c.st.mu.Lock()
		defer c.st.mu.Unlock()
		return info, slices.Clone(c.st.msgs)
	case <-time.After(confWait):
		c.t.Fatal("Handler.Closed not called")
		return loop.CloseInfo{}, nil
	}
}

// failedWith closes the client's end after a failure and requires the
// handler to have seen the server's close with code and exactly the
// messages want.
func (c *wsClient) failedWith(code uint16, want ...string) {
	c.t.Helper()
	info, msgs := c.finish()
	assert.True(c.t, info.ServerClosed, "server-initiated close: %+v", info)
	assert.Equal(c.t, code, info.Code)
	assert.Equal(c.t, want, payloads(msgs), "messages the handler received")
}

// chop writes b in pieces of n bytes, each its own write (TCP_NODELAY is
// Go's default), pausing after small pieces so that the server reads
// them separately.
func (c *wsClient) chop(b []byte, n int) {
	c.t.Helper()
	for len(b) > 0 {
		k := min(n, len(b))
		c.write(b[:k])
		b = b[k:]
		if n < 64 {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// payloads returns the messages' payloads as strings (nil for none); a
// binary message is marked "bin:".
func payloads(msgs []wsMsg) []string {
	var out []string
	for _, m := range msgs {
		if m.op == wsproto.OpBinary {
			out = append(out, "bin:"+string(m.data))
		} else {
			out = append(out, string(m.data))
		}
	}
	return out
}

func sameBytes(t *testing.T, want, got []byte) {
	t.Helper()
	if len(want) <= 256 && len(got) <= 256 {
		assert.Equal(t, string(want), string(got))
		return
	}
	if !assert.Equal(t, len(want), len(got), "payload length") {
		return
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("payload differs first at byte %d of %d", i, len(want))
			return
		}
	}
}

// cframe returns a masked client frame.
func cframe(fin bool, op wsproto.Opcode, payload []byte) []byte {
	return wsproto.AppendClientFrame(nil, fin, op, payload, confMask)
}

// msg returns a masked, final text or binary frame.
func msg(op wsproto.Opcode, payload string) []byte {
	return cframe(true, op, []byte(payload))
}

// withRSV sets the reserved bits rsv (RSV1 RSV2 RSV3 as a 3-bit number)
// in a frame's first byte.
func withRSV(f []byte, rsv byte) []byte {
	f[0] |= rsv << 4
	return f
}

// header64 returns a masked frame header declaring n payload bytes in the
// 64-bit form (to follow with masked payload, or nothing).
func header64(b0 byte, n uint64) []byte {
	h := binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, n)
	return append(h, confMask[:]...)
}

// closeFrame returns a masked close frame with code and reason.
func closeFrame(code uint16, reason string) []byte {
	return cframe(true, wsproto.OpClose, append(binary.BigEndian.AppendUint16(nil, code), reason...))
}

// fragments returns p as masked frames of at most n bytes (at least one
// frame): op first, then continuations, the last final.
func fragments(op wsproto.Opcode, p []byte, n int) []byte {
	var out []byte
	for first := true; first || len(p) > 0; first = false {
		k := min(n, len(p))
		fop := wsproto.OpContinuation
		if first {
			fop = op
		}
		out = append(out, wsproto.AppendClientFrame(nil, k == len(p), fop, p[:k], confMask)...)
		p = p[k:]
	}
	return out
}

// pattern returns n payload bytes: printable ASCII for text, every byte
// value for binary.
func pattern(op wsproto.Opcode, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		if op == wsproto.OpText {
			p[i] = 'a' + byte(i%26)
		} else {
			p[i] = byte(i*31 + 7)
		}
	}
	return p
}

// 1. Framing: text and binary messages of every length form, whole and in
// 1-byte TCP chops; up to the 64 KiB limit echoed, more closed with 1009.
func TestConformanceFraming(t *testing.T) { eachConf(t, conformanceFraming) }

func conformanceFraming(t *testing.T, s *confServer) {
	sizes := []int{0, 1, 125, 126, 127, 128, 65535, 65536}
	for _, op := range []wsproto.Opcode{wsproto.OpText, wsproto.OpBinary} {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%v %d", op, n), func(t *testing.T) {
				c := s.dial(t)
				p := pattern(op, n)
				c.write(cframe(true, op, p))
				c.expectEcho(op, p)
				c.write(msg(op, "next"))
				c.expectEcho(op, []byte("next"))
			})
		}
		t.Run(fmt.Sprintf("%v 1-byte chops", op), func(t *testing.T) {
			// 64 KiB messages in small chops are in category 9.
			c := s.dial(t)
			for _, n := range sizes[:6] {
				p := pattern(op, n)
				c.chop(cframe(true, op, p), 1)
				c.expectEcho(op, p)
			}
		})
	}
	over := []struct {
		name  string
		frame []byte
	}{
		{"65537 bytes", cframe(true, wsproto.OpBinary, pattern(wsproto.OpBinary, maxMsg+1))},
		{"65537 bytes text", cframe(true, wsproto.OpText, pattern(wsproto.OpText, maxMsg+1))},
		{"1 MiB declared, header only", header64(0x82, 1<<20)},
		{"2^63 declared, header only", header64(0x81, 1<<63)},
		{"2^64-1 declared, header only", header64(0x82, 1<<64-1)},
	}
	for _, tc := range over {
		t.Run("over the limit/"+tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(tc.frame)
			c.failsWith(wsproto.CloseTooBig)
			c.failedWith(wsproto.CloseTooBig)
		})
	}
	t.Run("over the limit/1-byte chops of the header", func(t *testing.T) {
		c := s.dial(t)
		c.chop(header64(0x82, maxMsg+1), 1) // refused from its header
		c.failsWith(wsproto.CloseTooBig)
		c.failedWith(wsproto.CloseTooBig)
	})
}

// 2. Pings and pongs.
//
// Ping policy (loop/control.go, queuePong): a connection has at most one
// pong pending; a ping that arrives while one is pending replaces its
// payload, so a burst of pings is answered by one or more pongs, in order,
// the last carrying the most recent ping's payload (RFC 6455 §5.5.3 allows
// answering only the most recently processed ping). A ping sent after the
// previous pong arrived always gets its own pong. Autobahn's 2.10/2.11
// expect every ping of a burst answered, which the RFC does not require.
func TestConformancePings(t *testing.T) { eachConf(t, conformancePings) }

func conformancePings(t *testing.T, s *confServer) {
	binary125 := pattern(wsproto.OpBinary, 125)
	echoes := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"text", []byte("Hello, world!")},
		{"125 bytes", pattern(wsproto.OpText, 125)},
		{"binary 125 bytes", binary125},
		{"binary with zero and 0xff", []byte{0x00, 0xff, 0xfe, 0x00, 0x80}},
	}
	for _, tc := range echoes {
		t.Run("pong echoes payload/"+tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(cframe(true, wsproto.OpPing, tc.payload))
			c.expectPong(tc.payload)
		})
	}
	t.Run("pong echoes payload/1-byte chops", func(t *testing.T) {
		c := s.dial(t)
		c.chop(cframe(true, wsproto.OpPing, binary125), 1)
		c.expectPong(binary125)
	})
	for _, op := range []wsproto.Opcode{wsproto.OpPing, wsproto.OpPong} {
		t.Run(fmt.Sprintf("126-byte %v", op), func(t *testing.T) {
			c := s.dial(t)
			c.write(slices.Concat(cframe(true, op, pattern(wsproto.OpBinary, 126)), msg(wsproto.OpText, "after")))
			c.failsWith(wsproto.CloseProtocolError)
			c.failedWith(wsproto.CloseProtocolError)
		})
	}
	t.Run("unsolicited pong ignored", func(t *testing.T) {
		c := s.dial(t)
		c.write(slices.Concat(
			cframe(true, wsproto.OpPong, nil),
			cframe(true, wsproto.OpPong, []byte("unsolicited")),
			cframe(true, wsproto.OpPong, binary125),
			msg(wsproto.OpText, "after")))
		c.expectEcho(wsproto.OpText, []byte("after")) // and no pong, no close
		c.write(cframe(true, wsproto.OpPing, []byte("still here")))
		c.expectPong([]byte("still here"))
	})
	t.Run("10 pings one at a time", func(t *testing.T) {
		c := s.dial(t)
		for i := range 10 {
			p := []byte(fmt.Sprintf("ping %d", i))
			c.write(cframe(true, wsproto.OpPing, p))
			c.expectPong(p)
		}
	})
	t.Run("10 pings back to back", func(t *testing.T) {
		c := s.dial(t)
		var burst []byte
		for i := range 10 {
			burst = append(burst, cframe(true, wsproto.OpPing, []byte(fmt.Sprintf("ping %d", i)))...)
		}
		// The echo of a message sent after the pings follows their last
		// pong: that pong is queued before the message is delivered.
		c.write(append(burst, msg(wsproto.OpText, "end")...))
		var pongs []int
		for {
			f := c.next()
			if f.op != wsproto.OpPong {
				c.checkEcho(f, wsproto.OpText, []byte("end"))
				break
			}
			var i int
			_, err := fmt.Sscanf(string(f.payload), "ping %d", &i)
			require.NoError(t, err, "pong payload %q", f.payload)
			pongs = append(pongs, i)
		}
		t.Logf("10 pings in one write were answered by %d pong(s): %v", len(pongs), pongs)
		require.NotEmpty(t, pongs)
		assert.Equal(t, 9, pongs[len(pongs)-1], "the latest ping is answered")
		assert.True(t, slices.IsSorted(pongs) && len(slices.Compact(slices.Clone(pongs))) == len(pongs),
			"pongs answer distinct pings in order: %v", pongs)
	})
}

// 3. Reserved bits: any RSV bit gets 1002, on every kind of frame, but
// RSV1 on a data message's first frame once permessage-deflate is
// negotiated (it marks the message compressed: TestConformanceDeflate). A
// message before the bad frame is delivered; a ping after it is not
// answered.
func TestConformanceReservedBits(t *testing.T) { eachConf(t, conformanceReservedBits) }

func conformanceReservedBits(t *testing.T, s *confServer) {
	kinds := []struct {
		name  string
		frame func(rsv byte) []byte
	}{
		{"text", func(rsv byte) []byte { return withRSV(msg(wsproto.OpText, "bad"), rsv) }},
		{"binary", func(rsv byte) []byte { return withRSV(msg(wsproto.OpBinary, "bad"), rsv) }},
		{"empty text", func(rsv byte) []byte { return withRSV(msg(wsproto.OpText, ""), rsv) }},
		{"ping", func(rsv byte) []byte { return withRSV(msg(wsproto.OpPing, "bad"), rsv) }},
		{"pong", func(rsv byte) []byte { return withRSV(msg(wsproto.OpPong, "bad"), rsv) }},
		{"close", func(rsv byte) []byte { return withRSV(closeFrame(1000, ""), rsv) }},
		{"continuation", func(rsv byte) []byte {
			return slices.Concat(cframe(false, wsproto.OpText, []byte("a")),
				withRSV(cframe(true, wsproto.OpContinuation, []byte("b")), rsv))
		}},
	}
	for rsv := byte(1); rsv <= 7; rsv++ {
		for _, k := range kinds {
			if s.deflate && rsv == 4 && k.name != "ping" && k.name != "pong" && k.name != "close" && k.name != "continuation" {
				continue // a compressed message
			}
			t.Run(fmt.Sprintf("rsv=%03b %s", rsv, k.name), func(t *testing.T) {
				c := s.dial(t)
				c.write(slices.Concat(msg(wsproto.OpText, "before"), k.frame(rsv), msg(wsproto.OpPing, "after")))
				c.failsWith(wsproto.CloseProtocolError)
				c.failedWith(wsproto.CloseProtocolError, "before")
			})
		}
	}
}

// 4. Reserved opcodes 3-7 (data) and 0xB-0xF (control) get 1002, empty
// or not, and inside a fragmented message.
func TestConformanceOpcodes(t *testing.T) { eachConf(t, conformanceOpcodes) }

func conformanceOpcodes(t *testing.T, s *confServer) {
	for _, op := range []wsproto.Opcode{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		variants := []struct {
			name  string
			frame []byte
		}{
			{"empty", cframe(true, op, nil)},
			{"payload", cframe(true, op, []byte("reserved"))},
			{"not final", cframe(false, op, []byte("reserved"))},
			{"inside a message", slices.Concat(cframe(false, wsproto.OpText, []byte("a")),
				cframe(true, op, []byte("reserved")), cframe(true, wsproto.OpContinuation, []byte("b")))},
		}
		for _, v := range variants {
			t.Run(fmt.Sprintf("%#x %s", byte(op), v.name), func(t *testing.T) {
				c := s.dial(t)
				c.write(slices.Concat(msg(wsproto.OpText, "before"), v.frame, msg(wsproto.OpPing, "after")))
				c.failsWith(wsproto.CloseProtocolError)
				c.failedWith(wsproto.CloseProtocolError, "before")
			})
		}
	}
}

// 5. Fragmentation.
func TestConformanceFragmentation(t *testing.T) { eachConf(t, conformanceFragmentation) }

func conformanceFragmentation(t *testing.T, s *confServer) {
	text, bin := wsproto.OpText, wsproto.OpBinary
	cont := wsproto.OpContinuation
	frag := func(fin bool, op wsproto.Opcode, p string) []byte { return cframe(fin, op, []byte(p)) }

	ok := []struct {
		name   string
		frames []byte
		op     wsproto.Opcode
		want   string
	}{
		{"text in 2", slices.Concat(frag(false, text, "frag"), frag(true, cont, "ment")), text, "fragment"},
		{"binary in 2", slices.Concat(frag(false, bin, "frag"), frag(true, cont, "ment")), bin, "fragment"},
		{"text in 5", slices.Concat(frag(false, text, "f"), frag(false, cont, "r"), frag(false, cont, "ag"),
			frag(false, cont, "me"), frag(true, cont, "nt")), text, "fragment"},
		{"empty fragments", slices.Concat(frag(false, text, ""), frag(false, cont, ""), frag(false, cont, "frag"),
			frag(false, cont, ""), frag(true, cont, "")), text, "frag"},
		{"all empty", slices.Concat(frag(false, bin, ""), frag(false, cont, ""), frag(true, cont, "")), bin, ""},
	}
	for _, tc := range ok {
		t.Run("reassembled/"+tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(tc.frames)
			c.expectEcho(tc.op, []byte(tc.want))
			c.chop(tc.frames, 1)
			c.expectEcho(tc.op, []byte(tc.want))
		})
	}

	// Control frames may be injected between fragments (RFC 6455 §5.4):
	// the ping is answered at once, the message arrives intact after it.
	between := slices.Concat(frag(false, text, "frag"), frag(true, wsproto.OpPing, "ping payload"),
		frag(false, cont, "me"), frag(true, wsproto.OpPong, "unsolicited"), frag(true, cont, "nt"))
	t.Run("ping between fragments", func(t *testing.T) {
		c := s.dial(t)
		c.write(between)
		c.expectPong([]byte("ping payload"))
		c.expectEcho(text, []byte("fragment"))
	})
	t.Run("ping between fragments/1-byte chops", func(t *testing.T) {
		c := s.dial(t)
		c.chop(between, 1)
		c.expectPong([]byte("ping payload"))
		c.expectEcho(text, []byte("fragment"))
	})
	t.Run("ping between fragments/answered before the message ends", func(t *testing.T) {
		c := s.dial(t)
		c.write(slices.Concat(frag(false, bin, "frag"), frag(true, wsproto.OpPing, "now")))
		c.expectPong([]byte("now"))
		c.write(frag(true, cont, "ment"))
		c.expectEcho(bin, []byte("fragment"))
	})
	t.Run("close between fragments", func(t *testing.T) {
		c := s.dial(t)
		c.write(slices.Concat(frag(false, text, "frag"), closeFrame(1000, ""), frag(true, cont, "ment")))
		c.answersClose(1000)
		info, msgs := c.finish()
		assert.True(t, info.PeerClosed)
		assert.Empty(t, msgs, "the unfinished message is not delivered")
	})

	bad := []struct {
		name   string
		frames []byte
		more   []string // messages delivered after "before"
	}{
		{"fragmented ping", slices.Concat(frag(false, wsproto.OpPing, "frag"), frag(true, cont, "ment")), nil},
		{"fragmented ping, first only", frag(false, wsproto.OpPing, "frag"), nil},
		{"fragmented pong", slices.Concat(frag(false, wsproto.OpPong, "frag"), frag(true, cont, "ment")), nil},
		{"fragmented close", slices.Concat(cframe(false, wsproto.OpClose, []byte{0x03, 0xe8}), frag(true, cont, "x")), nil},
		{"fragmented ping inside a message", slices.Concat(frag(false, text, "a"),
			frag(false, wsproto.OpPing, "p"), frag(true, cont, "b")), nil},
		{"orphan final continuation", frag(true, cont, "orphan"), nil},
		{"orphan continuation, not final", slices.Concat(frag(false, cont, "orphan"), frag(true, cont, "x")), nil},
		{"empty orphan continuation", frag(true, cont, ""), nil},
		{"continuation after a whole message", slices.Concat(msg(text, "whole"), frag(true, cont, "orphan")),
			[]string{"whole"}},
		{"continuation after a finished fragmented message", slices.Concat(frag(false, text, "a"),
			frag(true, cont, "b"), frag(true, cont, "orphan")), []string{"ab"}},
		{"text inside a text message", slices.Concat(frag(false, text, "a"), frag(true, text, "b")), nil},
		{"text inside a text message, not final", slices.Concat(frag(false, text, "a"), frag(false, text, "b")), nil},
		{"binary inside a text message", slices.Concat(frag(false, text, "a"), frag(true, bin, "b")), nil},
		{"text inside a binary message", slices.Concat(frag(false, bin, "a"), frag(true, text, "b")), nil},
		{"binary inside a binary message", slices.Concat(frag(false, bin, "a"), frag(false, cont, "b"),
			frag(true, bin, "c")), nil},
		{"text inside a message after a pong", slices.Concat(frag(false, text, "a"), msg(wsproto.OpPong, ""),
			frag(true, text, "b")), nil},
	}
	for _, tc := range bad {
		t.Run("1002/"+tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(slices.Concat(msg(text, "before"), tc.frames, msg(wsproto.OpPing, "after")))
			c.failsWith(wsproto.CloseProtocolError) // no pong for "after"
			c.failedWith(wsproto.CloseProtocolError, append([]string{"before"}, tc.more...)...)
		})
	}
	t.Run("1002/text inside a message after a ping", func(t *testing.T) {
		c := s.dial(t)
		c.write(slices.Concat(frag(false, text, "a"), msg(wsproto.OpPing, "p"), frag(true, text, "b")))
		c.expectPong([]byte("p"))
		c.failsWith(wsproto.CloseProtocolError)
		c.failedWith(wsproto.CloseProtocolError)
	})
}

// 6. UTF-8 in text messages.
func TestConformanceUTF8(t *testing.T) { eachConf(t, conformanceUTF8) }

func conformanceUTF8(t *testing.T, s *confServer) {
	valid := []string{
		"",
		"Hello-µ@ßöäüàá-UTF-8!!",
		"κόσμε",
		"\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\ufffd", "\ufeff", "\ufffe", "\uffff",
		"\U00010000", "\U0001ffff", "\U0010ffff",
		"a€𝄞κ\x7f\x00",
	}
	for _, v := range valid {
		t.Run(fmt.Sprintf("valid %+q", v), func(t *testing.T) {
			// Whole, in two fragments split at every byte (inside code
			// points too), one fragment per byte, and in 1-byte chops.
			c := s.dial(t)
			p := []byte(v)
			c.write(cframe(true, wsproto.OpText, p))
			c.expectEcho(wsproto.OpText, p)
			for i := 0; i <= len(p); i++ {
				c.write(slices.Concat(cframe(false, wsproto.OpText, p[:i]), cframe(true, wsproto.OpContinuation, p[i:])))
				c.expectEcho(wsproto.OpText, p)
			}
			c.write(fragments(wsproto.OpText, p, 1))
			c.expectEcho(wsproto.OpText, p)
			c.chop(cframe(true, wsproto.OpText, p), 1)
			c.expectEcho(wsproto.OpText, p)
		})
	}

	invalid := []string{
		"\xff", "\xfe", "\x80", "\xbf", "κόσμε\x80",
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xe0\x9f\xbf", "\xf0\x80\x80\xaf", "\xf0\x8f\xbf\xbf", // overlong
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80", // surrogates
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80", // beyond U+10FFFF
		"\xce", "κόσμ\xce", "\xe2\x82", "\xf0\x9d\x84", // truncated at the end
		"\xc2a", "\xe2\x82a", "κόσμε\xed\xa0\x80edited",
	}
	for _, v := range invalid {
		t.Run(fmt.Sprintf("invalid %+q", v), func(t *testing.T) {
			for _, split := range []struct {
				name  string
				write func(c *wsClient, p []byte)
			}{
				{"whole", func(c *wsClient, p []byte) { c.write(cframe(true, wsproto.OpText, p)) }},
				{"per-byte fragments", func(c *wsClient, p []byte) { c.write(fragments(wsproto.OpText, p, 1)) }},
				{"1-byte chops", func(c *wsClient, p []byte) { c.chop(cframe(true, wsproto.OpText, p), 1) }},
			} {
				t.Run(split.name, func(t *testing.T) {
					c := s.dial(t)
					c.write(msg(wsproto.OpText, "before"))
					split.write(c, []byte(v))
					c.failsWith(wsproto.CloseInvalidPayload)
					c.failedWith(wsproto.CloseInvalidPayload, "before")
				})
			}
		})
	}

	// Fail fast (Autobahn 6.4): the server closes on the fragment, or the
	// part of a frame, that holds the bad byte; the rest is never sent.
	fast := []struct {
		name  string
		bytes []byte
	}{
		{"bad fragment, message unfinished", slices.Concat(
			cframe(false, wsproto.OpText, []byte("κόσμε")),
			cframe(false, wsproto.OpContinuation, []byte("\xce\xbd\xed\xa0\x80edited")))},
		{"bad first fragment", cframe(false, wsproto.OpText, []byte("κόσμε\xf4\x90\x80\x80"))},
		{"bad code point across fragments", slices.Concat(
			cframe(false, wsproto.OpText, []byte("κόσμε\xed")),
			cframe(false, wsproto.OpContinuation, []byte("\xa0\x80")))},
		{"bad byte in an unfinished frame", cframe(true, wsproto.OpText,
			[]byte("κόσμε\xf4\x90\x80\x80edited"+strings.Repeat("x", 100)))[:6+len("κόσμε")+2]},
		{"bad byte in an unfinished fragment", slices.Concat(
			cframe(false, wsproto.OpText, []byte("κόσμε")),
			cframe(true, wsproto.OpContinuation, []byte("\xed\xa0\x80"+strings.Repeat("x", 1000)))[:8+2])},
	}
	for _, tc := range fast {
		t.Run("fail fast/"+tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(tc.bytes)
			c.failsWith(wsproto.CloseInvalidPayload)
			c.failedWith(wsproto.CloseInvalidPayload)
		})
	}
	t.Run("fail fast/1-byte chops", func(t *testing.T) {
		c := s.dial(t)
		payload := []byte("κόσμε\xed\xa0\x80" + strings.Repeat("x", 1000))
		whole := cframe(true, wsproto.OpText, payload)
		hlen := len(whole) - len(payload)
		c.chop(whole[:hlen+len("κόσμε")+2], 1) // up to the byte that cannot follow \xed
		c.failsWith(wsproto.CloseInvalidPayload)
		c.failedWith(wsproto.CloseInvalidPayload)
	})
}

// 7. The close handshake.
func TestConformanceClose(t *testing.T) { eachConf(t, conformanceClose) }

func conformanceClose(t *testing.T, s *confServer) {
	t.Run("empty close answered", func(t *testing.T) {
		c := s.dial(t)
		c.write(cframe(true, wsproto.OpClose, nil))
		c.answersClose(wsproto.CloseNormal) // the server's answer carries 1000
		info, _ := c.finish()
		assert.True(t, info.PeerClosed)
		assert.EqualValues(t, 1005, info.Code, "no status received")
	})
	reasons := []struct {
		name   string
		reason string
	}{
		{"no reason", ""},
		{"reason", "Hello World!"},
		{"123-byte reason", strings.Repeat("*", 123)},
		{"123-byte UTF-8 reason", strings.Repeat("κόσμε", 11) + strings.Repeat("*", 2)},
	}
	for _, tc := range reasons {
		t.Run("1000/"+tc.name, func(t *testing.T) {
			require.LessOrEqual(t, len(tc.reason), 123)
			c := s.dial(t)
			c.write(closeFrame(1000, tc.reason))
			c.answersClose(1000)
			info, _ := c.finish()
			assert.Equal(t, loop.CloseInfo{Code: 1000, Reason: tc.reason, PeerClosed: true}, info)
		})
	}
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		t.Run(fmt.Sprintf("valid code %d echoed", code), func(t *testing.T) {
			c := s.dial(t)
			c.write(closeFrame(code, "bye"))
			c.answersClose(code)
			info, _ := c.finish()
			assert.Equal(t, loop.CloseInfo{Code: code, Reason: "bye", PeerClosed: true}, info)
		})
	}
	bad := []struct {
		name    string
		payload []byte
		code    uint16
	}{
		{"1-byte payload", []byte{0x03}, wsproto.CloseProtocolError},
		{"124-byte reason", closePayload(1000, strings.Repeat("*", 124)), wsproto.CloseProtocolError},
		{"125-byte payload of an invalid code", closePayload(999, strings.Repeat("*", 123)), wsproto.CloseProtocolError},
		// RFC 6455 §8.1 lets the server pick 1002 or 1007 here: it picks
		// 1007, invalid payload data.
		{"invalid UTF-8 reason", closePayload(1000, "κόσμε\xed\xa0\x80edited"), wsproto.CloseInvalidPayload},
		{"truncated UTF-8 reason", closePayload(1000, "\xce"), wsproto.CloseInvalidPayload},
	}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		bad = append(bad, struct {
			name    string
			payload []byte
			code    uint16
		}{fmt.Sprintf("invalid code %d", code), closePayload(code, ""), wsproto.CloseProtocolError})
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(slices.Concat(msg(wsproto.OpText, "before"), cframe(true, wsproto.OpClose, tc.payload),
				msg(wsproto.OpPing, "after")))
			c.failsWith(tc.code)
			c.failedWith(tc.code, "before")
		})
	}
	// Data after a close frame is ignored (Autobahn 7.1.2-7.1.5): no echo,
	// no pong, no second close; only the answer to the first close.
	after := []struct {
		name   string
		frames []byte
	}{
		{"text", msg(wsproto.OpText, "late")},
		{"ping", msg(wsproto.OpPing, "late")},
		{"second close", closeFrame(1001, "again")},
		{"continuation of an open message", cframe(true, wsproto.OpContinuation, []byte("late"))},
		{"invalid frames", slices.Concat([]byte{0x81, 0x01, 'x'}, withRSV(msg(wsproto.OpText, "x"), 7),
			cframe(true, 5, nil), cframe(true, wsproto.OpText, []byte{0xff}))},
	}
	for _, tc := range after {
		t.Run("after close/"+tc.name, func(t *testing.T) {
			c := s.dial(t)
			first := msg(wsproto.OpText, "before")
			if strings.HasPrefix(tc.name, "continuation") {
				first = cframe(false, wsproto.OpText, []byte("open"))
			}
			c.write(slices.Concat(first, closeFrame(1000, ""), tc.frames))
			c.answersClose(1000)
			info, msgs := c.finish()
			assert.Equal(t, loop.CloseInfo{Code: 1000, PeerClosed: true}, info)
			if strings.HasPrefix(tc.name, "continuation") {
				assert.Empty(t, msgs)
			} else {
				assert.Equal(t, []string{"before"}, payloads(msgs))
			}
		})
	}
	unmasked := []struct {
		name  string
		frame []byte
	}{
		{"text", []byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}},
		{"binary", []byte{0x82, 0x00}},
		{"ping", []byte{0x89, 0x01, 'p'}},
		{"pong", []byte{0x8a, 0x00}},
		{"close", []byte{0x88, 0x02, 0x03, 0xe8}},
		{"continuation", slices.Concat(cframe(false, wsproto.OpText, []byte("a")), []byte{0x80, 0x01, 'b'})},
		{"16-bit length", append([]byte{0x82, 126, 0x00, 0x80}, make([]byte, 128)...)},
	}
	for _, tc := range unmasked {
		t.Run("unmasked "+tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(slices.Concat(msg(wsproto.OpText, "before"), tc.frame))
			c.failsWith(wsproto.CloseProtocolError)
			c.failedWith(wsproto.CloseProtocolError, "before")
		})
	}
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// 9. Limits and performance: a message of up to 64 KiB is accepted however
// it is fragmented and however TCP chops it; more gets 1009. Round trips
// are logged, never asserted.
func TestConformanceLimits(t *testing.T) { eachConf(t, conformanceLimits) }

func conformanceLimits(t *testing.T, s *confServer) {
	p := pattern(wsproto.OpBinary, maxMsg)
	for _, n := range []int{16, 64, 256, 1024, 4096, 16384, 65536} {
		t.Run(fmt.Sprintf("64 KiB in %d-byte fragments", n), func(t *testing.T) {
			c := s.dial(t)
			frames := fragments(wsproto.OpBinary, p, n)
			start := time.Now()
			c.write(frames)
			c.expectEcho(wsproto.OpBinary, p)
			t.Logf("%d frames: round trip %v", maxMsg/n, time.Since(start))
		})
	}
	t.Run("64 KiB text in 64-byte fragments", func(t *testing.T) {
		c := s.dial(t)
		text := []byte(strings.Repeat("κόσμε€𝄞!", maxMsg/20)) // fragments split code points
		c.write(fragments(wsproto.OpText, text, 64))
		c.expectEcho(wsproto.OpText, text)
	})
	for _, n := range []int{64, 100, 1000, 4096, 65535, 1 << 17} {
		t.Run(fmt.Sprintf("64 KiB in %d-byte chops", n), func(t *testing.T) {
			c := s.dial(t)
			start := time.Now()
			c.chop(cframe(true, wsproto.OpBinary, p), n)
			c.expectEcho(wsproto.OpBinary, p)
			t.Logf("round trip %v", time.Since(start))
		})
	}
	t.Run("64 KiB in 256-byte fragments and 1000-byte chops", func(t *testing.T) {
		c := s.dial(t)
		c.chop(fragments(wsproto.OpBinary, p, 256), 1000)
		c.expectEcho(wsproto.OpBinary, p)
	})
	t.Run("round trips", func(t *testing.T) {
		c := s.dial(t)
		f := cframe(true, wsproto.OpBinary, p)
		var rtts []time.Duration
		for range 20 {
			start := time.Now()
			c.write(f)
			c.expectEcho(wsproto.OpBinary, p)
			rtts = append(rtts, time.Since(start))
		}
		slices.Sort(rtts)
		t.Logf("64 KiB echo round trip over %d: min %v, median %v, max %v", len(rtts), rtts[0], rtts[len(rtts)/2], rtts[len(rtts)-1])
	})
	over := []struct {
		name  string
		bytes []byte
	}{
		{"64 KiB + 1 in one frame", cframe(true, wsproto.OpBinary, pattern(wsproto.OpBinary, maxMsg+1))},
		// Refused at the header of the fragment that crosses the limit,
		// without waiting for the rest of the message.
		{"64 KiB + 1 in two fragments", slices.Concat(cframe(false, wsproto.OpBinary, p),
			cframe(false, wsproto.OpContinuation, []byte{1}))},
		{"64 KiB + 1 in 1000-byte fragments", fragments(wsproto.OpBinary, pattern(wsproto.OpBinary, maxMsg+1), 1000)},
		{"crossing fragment declared, header only", slices.Concat(cframe(false, wsproto.OpText, []byte("a")),
			header64(0x00, maxMsg))},
		// Config.Frames.MaxFrames (default 4096) bounds the frames of one
		// message: 4096 are fine (above), the 4097th gets 1009.
		{"4097 fragments", fragments(wsproto.OpBinary, pattern(wsproto.OpBinary, 4097), 1)},
	}
	for _, tc := range over {
		t.Run("1009/"+tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(slices.Concat(msg(wsproto.OpText, "before"), tc.bytes))
			c.failsWith(wsproto.CloseTooBig)
			c.failedWith(wsproto.CloseTooBig, "before")
		})
	}
	t.Run("1009/64 KiB + 1 in 1000-byte chops", func(t *testing.T) {
		c := s.dial(t)
		c.chop(cframe(true, wsproto.OpBinary, pattern(wsproto.OpBinary, maxMsg+1)), 1000)
		c.failsWith(wsproto.CloseTooBig)
		c.failedWith(wsproto.CloseTooBig)
	})
	t.Run("4096 fragments accepted", func(t *testing.T) {
		c := s.dial(t)
		q := pattern(wsproto.OpBinary, 4096)
		c.write(fragments(wsproto.OpBinary, q, 1))
		c.expectEcho(wsproto.OpBinary, q)
	})
}

// 10. A message reassembled from many frames.
func TestConformanceManyFrames(t *testing.T) { eachConf(t, conformanceManyFrames) }

func conformanceManyFrames(t *testing.T, s *confServer) {
	// 10000 bytes of 4-, 3- and 2-byte code points in 10-byte fragments:
	// most boundaries fall inside a code point.
	text := []byte(strings.Repeat("κ€𝄞", 1111) + "a")
	require.Len(t, text, 10000)
	t.Run("text in 1000 fragments", func(t *testing.T) {
		c := s.dial(t)
		start := time.Now()
		c.write(fragments(wsproto.OpText, text, 10))
		c.expectEcho(wsproto.OpText, text)
		t.Logf("round trip %v", time.Since(start))
	})
	t.Run("binary in 1000 fragments", func(t *testing.T) {
		c := s.dial(t)
		p := pattern(wsproto.OpBinary, 65000)
		c.write(fragments(wsproto.OpBinary, p, 65))
		c.expectEcho(wsproto.OpBinary, p)
	})
	t.Run("1000 fragments, half of them empty", func(t *testing.T) {
		c := s.dial(t)
		p := pattern(wsproto.OpBinary, 500)
		var frames []byte
		for i := range 1000 {
			op := wsproto.OpContinuation
			if i == 0 {
				op = wsproto.OpBinary
			}
			var part []byte
			if i%2 == 1 {
				part = p[i/2 : i/2+1]
			}
			frames = append(frames, cframe(i == 999, op, part)...)
		}
		c.write(frames)
		c.expectEcho(wsproto.OpBinary, p)
	})
	t.Run("1000 fragments with a ping every 100", func(t *testing.T) {
		c := s.dial(t)
		var frames []byte
		for i := range 1000 {
			op := wsproto.OpContinuation
			if i == 0 {
				op = wsproto.OpText
			}
			frames = append(frames, cframe(i == 999, op, text[10*i:10*i+10])...)
			if i%100 == 50 {
				ping := []byte(fmt.Sprintf("ping %d", i))
				c.write(append(frames, cframe(true, wsproto.OpPing, ping)...))
				c.expectPong(ping)
				frames = nil
			}
		}
		c.write(frames)
		c.expectEcho(wsproto.OpText, text)
	})
	t.Run("messages back to back", func(t *testing.T) {
		c := s.dial(t)
		var all []byte
		for i := range 50 {
			all = append(all, fragments(wsproto.OpText, []byte(fmt.Sprintf("message %d: %s", i, text[:99])), 7)...)
		}
		c.write(all)
		for i := range 50 {
			c.expectEcho(wsproto.OpText, []byte(fmt.Sprintf("message %d: %s", i, text[:99])))
		}
	})
}
