package load

import (
	"bytes"
	"compress/flate"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compressMsg compresses msg as a permessage-deflate sender does: a
// sync-flushed DEFLATE stream of its own without the trailing 0x00 0x00
// 0xff 0xff.
func compressMsg(t *testing.T, level int, msg []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, level)
	require.NoError(t, err)
	_, err = w.Write(msg)
	require.NoError(t, err)
	require.NoError(t, w.Flush())
	out := b.Bytes()
	require.True(t, bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}))
	return out[:len(out)-4]
}

// stored returns raw as one non-final stored DEFLATE block.
func stored(raw string) []byte {
	n := len(raw)
	return append([]byte{0x00, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)}, raw...)
}

// TestInflate: every level's messages inflate to what was sent, each on
// its own and appended to dst; a stored prefix before a compressed body
// (how roomloop sends a seq before a shared body) inflates whole.
func TestInflate(t *testing.T) {
	msg := []byte(`{"seq":7,"event":"say","room":"chat","payload":{"text":"` + strings.Repeat("merge the branch please ", 30) + `"}}`)
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly} {
		z := compressMsg(t, level, msg)
		out, err := inflate([]byte("prefix:"), z, len(msg))
		require.NoError(t, err, "level %d", level)
		assert.Equal(t, "prefix:"+string(msg), string(out), "level %d", level)
	}
	body := compressMsg(t, flate.BestSpeed, msg[len(`{"seq":7`):])
	out, err := inflate(nil, append(stored(`{"seq":7`), body...), 1<<20)
	require.NoError(t, err)
	assert.Equal(t, string(msg), string(out))
	out, err = inflate(nil, compressMsg(t, flate.BestSpeed, nil), 10)
	require.NoError(t, err)
	assert.Empty(t, out)
}

// TestInflateNoContext: each message inflates with a fresh window. The
// second message of one stream that kept its context (context takeover,
// which the load generator's offer rules out) refers back to the first
// and does not inflate on its own.
func TestInflateNoContext(t *testing.T) {
	first := []byte(strings.Repeat("the deploy looks good ", 20))
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestSpeed)
	require.NoError(t, err)
	_, _ = w.Write(first)
	require.NoError(t, w.Flush())
	n := b.Len()
	_, _ = w.Write(first) // all back-references into the first message
	require.NoError(t, w.Flush())
	second := b.Bytes()[n : b.Len()-4]

	out, err := inflate(nil, b.Bytes()[:n-4], 1<<20)
	require.NoError(t, err)
	assert.Equal(t, first, out)
	_, err = inflate(nil, second, 1<<20)
	assert.ErrorIs(t, err, errInflate, "a message that refers to an earlier one")
}

// TestInflateBad: garbage, a truncated message and a message past the
// limit fail.
func TestInflateBad(t *testing.T) {
	msg := []byte(strings.Repeat("latency numbers ", 100))
	z := compressMsg(t, flate.BestSpeed, msg)
	_, err := inflate(nil, z, len(msg)-1)
	assert.ErrorIs(t, err, errInflate, "past the limit")
	_, err = inflate(nil, z[:len(z)/2], len(msg))
	assert.ErrorIs(t, err, errInflate, "truncated")
	_, err = inflate(nil, []byte{0xff, 0xff, 0xff, 0xff, 0x00}, 100)
	assert.ErrorIs(t, err, errInflate, "garbage")
	out, err := inflate(nil, z, len(msg))
	require.NoError(t, err, "the pool's decompressors still work")
	assert.Equal(t, msg, out)
}

// TestDeflateAccepted: the upgrade response's extensions are checked
// against the offer.
func TestDeflateAccepted(t *testing.T) {
	head := func(ext string) []byte {
		return []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" + ext + "\r\n")
	}
	for _, tc := range []struct {
		name, ext       string
		offered, accept bool
		fails           bool
	}{
		{"accepted", "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n", true, true, false},
		{"header name in lower case", "sec-websocket-extensions: permessage-deflate;server_no_context_takeover\r\n", true, true, false},
		{"declined", "", true, false, false},
		{"not offered", "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n", false, false, true},
		{"context kept", "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n", true, false, true},
		{"another extension", "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n", true, false, true},
	} {
		got, err := deflateAccepted(head(tc.ext), tc.offered)
		if tc.fails {
			assert.Error(t, err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.accept, got, tc.name)
	}
}

// TestFrameRSV1: a compressed frame is inflated only where compression
// was negotiated; anywhere else RSV1 is a protocol error that drops the
// connection, as are RSV1 on a continuation and RSV2.
func TestFrameRSV1(t *testing.T) {
	msg := `{"seq":1,"event":"say","room":"r","payload":{"text":"` + strings.Repeat("coffee ", 40) + `"}}`
	z := compressMsg(t, flate.BestSpeed, []byte(msg))
	var got []string
	p := &Pool{cfg: Config{Handler: func(c *Conn, m *Msg) { got = append(got, string(m.Raw)) }}, welcome: make(chan struct{}, 1)}

	c := p.newConn(&fakeSock{}, 0, 0)
	c.deflate = true
	c.frame(0xC1, z) // FIN, RSV1, text
	require.Equal(t, []string{msg}, got)
	// Fragmented: RSV1 on the first frame only.
	c.frame(0x41, z[:len(z)/2])
	c.frame(0x80, z[len(z)/2:])
	require.Len(t, got, 2)
	assert.Equal(t, msg, got[1])
	assert.Equal(t, int64(2), p.stats.Inflated.Load())
	assert.Equal(t, int64(1), p.stats.SeqErrors.Load(), "the second message repeats seq 1")
	assert.Zero(t, p.stats.Malformed.Load())
	assert.False(t, c.Closed())

	for _, b0 := range []byte{0xC1, 0xA1} { // RSV1 not negotiated; RSV2
		c := p.newConn(&fakeSock{}, 0, 0)
		c.frame(b0, z)
		assert.True(t, c.Closed(), "b0 %#x", b0)
	}
	c = p.newConn(&fakeSock{}, 0, 0)
	c.deflate = true
	c.frame(0x01, []byte(`{"seq":`))
	c.frame(0xC0, []byte(`1}`)) // RSV1 on a continuation
	assert.True(t, c.Closed())
	assert.Equal(t, int64(3), p.stats.Malformed.Load())
	assert.Len(t, got, 2)
}

// TestInflateCache: messages that share a compressed body after their
// own stored prefix (roomloop's seq) inflate byte for byte through the
// cache, which inflates the body once; a message without a prefix
// (gorilla's) is cached whole; a body that refers back into its prefix
// (valid, but not standalone) still inflates, uncached; a message past
// the limit and garbage fail.
func TestInflateCache(t *testing.T) {
	var z zcache
	body := `,"event":"say","room":"chat","payload":{"text":"` + strings.Repeat("review the build ", 20) + `"}}`
	shared := compressMsg(t, flate.BestSpeed, []byte(body))
	for _, seq := range []string{"1", "22", "333", "1"} {
		out, err := z.inflate([]byte("x"), append(stored(`{"seq":`+seq), shared...), 1<<20)
		require.NoError(t, err)
		assert.Equal(t, `x{"seq":`+seq+body, string(out))
	}
	assert.Equal(t, int64(1), z.misses, "one body inflated")

	whole := compressMsg(t, flate.BestSpeed, []byte(`{"event":"say"`+body[len(`,"event":"say"`):]))
	for range 3 {
		out, err := z.inflate(nil, whole, 1<<20)
		require.NoError(t, err)
		assert.Equal(t, `{"event":"say"`+body[len(`,"event":"say"`):], string(out))
	}
	assert.Equal(t, int64(2), z.misses)

	prefix := strings.Repeat("abcdefgh", 8)
	var b bytes.Buffer
	w, err := flate.NewWriterDict(&b, flate.DefaultCompression, []byte(prefix)) // refers back into the prefix
	require.NoError(t, err)
	_, _ = w.Write([]byte(prefix))
	require.NoError(t, w.Flush())
	refers := append(stored(prefix), b.Bytes()[:b.Len()-4]...)
	_, err = inflate(nil, b.Bytes()[:b.Len()-4], 1<<20)
	require.Error(t, err, "the body does not stand alone")
	out, err := z.inflate(nil, refers, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, prefix+prefix, string(out))

	_, err = z.inflate(nil, append(stored(`{"seq":1`), shared...), len(body))
	assert.ErrorIs(t, err, errInflate, "past the limit")
	_, err = z.inflate(nil, []byte{0xff, 0xff, 0xff, 0xff, 0x00}, 100)
	assert.ErrorIs(t, err, errInflate, "garbage")
}
