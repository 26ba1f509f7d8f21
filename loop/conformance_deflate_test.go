package loop_test

import (
	"bytes"
	"compress/flate"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/wsproto"
	"github.com/roomloop/roomloop/loop"
)

// clientDeflate compresses p as a permessage-deflate client does, with
// the standard library alone: one DEFLATE stream, sync flushed, without
// the trailing 0x00 0x00 0xff 0xff.
func clientDeflate(t *testing.T, p []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestSpeed)
	require.NoError(t, err)
	_, err = w.Write(p)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	return bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// packed returns a final compressed message frame: RSV1, op, payload.
func packed(t *testing.T, op wsproto.Opcode, payload []byte) []byte {
	return withRSV(cframe(true, op, clientDeflate(t, payload)), 4)
}

// Categories 12 and 13 of the Autobahn|Testsuite, permessage-deflate,
// against a server with Config.Compression: compressed messages (one
// frame, fragmented, empty, at the limit) are inflated and delivered;
// RSV1 anywhere but a data message's first frame is 1002; a compressed
// message that is not DEFLATE or not UTF-8 once inflated is 1007; one
// that inflates past MaxMessage is 1009 (a bomb); uncompressed messages
// still work in between.
func TestConformanceDeflate(t *testing.T) {
	s := startConf(t, true)
	text := []byte(strings.Repeat("Hello, compressed world! ", 40))
	t.Run("one frame", func(t *testing.T) {
		c := s.dial(t)
		c.write(slices.Concat(packed(t, wsproto.OpText, text), msg(wsproto.OpText, "plain"),
			packed(t, wsproto.OpBinary, []byte{0, 1, 2, 3})))
		c.expectEcho(wsproto.OpText, text)
		c.expectEcho(wsproto.OpText, []byte("plain"))
		c.expectEcho(wsproto.OpBinary, []byte{0, 1, 2, 3})
	})
	t.Run("empty", func(t *testing.T) {
		c := s.dial(t)
		// Browsers send an empty message as the single byte 0x00.
		c.write(slices.Concat(withRSV(cframe(true, wsproto.OpText, []byte{0}), 4), packed(t, wsproto.OpText, nil)))
		c.expectEcho(wsproto.OpText, nil)
		c.expectEcho(wsproto.OpText, nil)
	})
	t.Run("fragmented, ping between", func(t *testing.T) {
		c := s.dial(t)
		z := clientDeflate(t, text)
		third := len(z) / 3
		c.write(slices.Concat(
			withRSV(cframe(false, wsproto.OpText, z[:third]), 4),
			cframe(false, wsproto.OpContinuation, z[third:2*third]),
			msg(wsproto.OpPing, "mid"),
			cframe(true, wsproto.OpContinuation, z[2*third:])))
		c.expectPong([]byte("mid"))
		c.expectEcho(wsproto.OpText, text)
	})
	t.Run("chopped into bytes", func(t *testing.T) {
		c := s.dial(t)
		c.chop(packed(t, wsproto.OpBinary, text), 7)
		c.expectEcho(wsproto.OpBinary, text)
	})
	t.Run("at the limit", func(t *testing.T) {
		c := s.dial(t)
		c.write(packed(t, wsproto.OpBinary, make([]byte, maxMsg)))
		c.expectEcho(wsproto.OpBinary, make([]byte, maxMsg))
	})
	t.Run("bomb", func(t *testing.T) {
		c := s.dial(t)
		bomb := packed(t, wsproto.OpBinary, make([]byte, 16<<20))
		t.Logf("%d bytes that inflate to 16 MiB", len(bomb))
		c.write(slices.Concat(msg(wsproto.OpText, "before"), bomb, msg(wsproto.OpPing, "after")))
		c.failsWith(wsproto.CloseTooBig)
		c.failedWith(wsproto.CloseTooBig, "before")
	})
	t.Run("one over the limit", func(t *testing.T) {
		c := s.dial(t)
		c.write(packed(t, wsproto.OpBinary, make([]byte, maxMsg+1)))
		c.failsWith(wsproto.CloseTooBig)
	})
	bad := []struct {
		name  string
		frame []byte
		code  uint16
	}{
		{"RSV1 on a continuation", slices.Concat(withRSV(cframe(false, wsproto.OpText, clientDeflate(t, text)), 4),
			withRSV(cframe(true, wsproto.OpContinuation, nil), 4)), wsproto.CloseProtocolError},
		{"RSV1 on a ping", withRSV(msg(wsproto.OpPing, "x"), 4), wsproto.CloseProtocolError},
		{"RSV1 on a close", withRSV(closeFrame(1000, ""), 4), wsproto.CloseProtocolError},
		{"RSV1 and RSV2", withRSV(cframe(true, wsproto.OpText, clientDeflate(t, text)), 6), wsproto.CloseProtocolError},
		{"not DEFLATE", withRSV(cframe(true, wsproto.OpBinary, []byte{0xff, 0xff, 0xff}), 4), wsproto.CloseInvalidPayload},
		{"invalid UTF-8 inflated", packed(t, wsproto.OpText, []byte("ok \xff\xfe")), wsproto.CloseInvalidPayload},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dial(t)
			c.write(slices.Concat(msg(wsproto.OpText, "before"), tc.frame, msg(wsproto.OpPing, "after")))
			c.failsWith(tc.code)
			c.failedWith(tc.code, "before")
		})
	}
}

// Negotiation (RFC 7692 section 7): the first acceptable permessage-deflate
// offer is answered with no context takeover either way; offers the
// server cannot honour (a window under 15 bits) or that are malformed are
// declined, and the next one tried; a server without Compression declines
// all; and without the extension, RSV1 stays a 1002.
func TestConformanceDeflateNegotiation(t *testing.T) {
	s := startConf(t, true)
	const accept = wsproto.DeflateResponse
	offers := []struct{ offer, want string }{
		{"permessage-deflate", accept},
		{"permessage-deflate; client_max_window_bits", accept},
		{"permessage-deflate; client_max_window_bits=10; server_no_context_takeover", accept},
		{"permessage-deflate; client_no_context_takeover; server_no_context_takeover", accept},
		{`permessage-deflate; server_max_window_bits="15"`, accept + "; server_max_window_bits=15"},
		{"permessage-deflate; server_max_window_bits=10", ""},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", accept},
		{"permessage-deflate; server_max_window_bits", ""},
		{"permessage-deflate; client_max_window_bits=16", ""},
		{"permessage-deflate; client_max_window_bits=08", ""},
		{"permessage-deflate; server_no_context_takeover=1", ""},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover", ""},
		{"permessage-deflate; unknown", ""},
		{"x-webkit-deflate-frame, PerMessage-Deflate", accept},
		{strings.Repeat("permessage-deflate; a=b, ", 160) + "permessage-deflate", ""},
	}
	for _, o := range offers {
		t.Run(o.offer[:min(len(o.offer), 60)], func(t *testing.T) {
			c := upgradeRawExt(t, s.e, o.offer, o.want)
			c.send(wsproto.OpPing, []byte("ok"))
			op, p, err := c.readFrame(confWait)
			require.NoError(t, err)
			require.Equal(t, wsproto.OpPong, op)
			require.Equal(t, "ok", string(p))
		})
	}
	t.Run("not offered: RSV1 is 1002", func(t *testing.T) {
		c := &wsClient{rawClient: upgradeRaw(t, s.e)}
		c.write(packed(t, wsproto.OpText, text1k))
		c.failsWith(wsproto.CloseProtocolError)
	})
	t.Run("off: every offer declined", func(t *testing.T) {
		h := &echoHandler{conns: make(map[string]*echoState)}
		e := loop.New(loop.Config{}, h)
		require.NoError(t, e.Start("127.0.0.1:0"))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, e.Shutdown(ctx))
		})
		c := &wsClient{rawClient: upgradeRawExt(t, e, "permessage-deflate; client_max_window_bits", "")}
		c.write(packed(t, wsproto.OpText, text1k))
		c.failsWith(wsproto.CloseProtocolError)
	})
}

var text1k = []byte(strings.Repeat("0123456789abcdef", 64))
