package api_test

// permessage-deflate (Options.Compression) end to end: gorilla/websocket
// clients with EnableCompression, raw clients that read the wire, and
// plain clients side by side in one room.

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/deflate"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// deflateOffer is what browsers and gorilla offer.
const deflateOffer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"

// chatPayload is a realistic chat message of about 1 KB.
func chatPayload(n int) map[string]any {
	return map[string]any{"user": "alice", "avatar": "https://cdn.example.com/u/alice.png",
		"text": strings.Repeat("the quick brown fox jumps over the lazy dog; ", 20), "n": n,
		"tags": []string{"general", "random", "announcements"}}
}

// dialDeflate connects a gorilla client that negotiates compression.
func dialDeflate(t *testing.T, ts *testServer) *client {
	t.Helper()
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: wait}
	ws, resp, err := d.Dial(ts.url, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Contains(t, resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { _ = ws.Close() })
	w := c.next()
	require.Equal(t, "$welcome", w.Event)
	return c
}

// wireFrame reads one server frame from r and returns its first byte and
// its payload, inflated if RSV1 is set (RFC 7692 7.2.2, with the standard
// library alone).
func wireFrame(t *testing.T, r *raw) (b0 byte, payload []byte) {
	t.Helper()
	require.NoError(t, r.nc.SetReadDeadline(time.Now().Add(wait)))
	var h [2]byte
	_, err := io.ReadFull(r.br, h[:])
	require.NoError(t, err)
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(r.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(r.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	require.NoError(t, err)
	require.Less(t, n, uint64(1<<20))
	p := make([]byte, n)
	_, err = io.ReadFull(r.br, p)
	require.NoError(t, err)
	if h[0]&0x40 != 0 {
		fr := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
		p, err = io.ReadAll(fr)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "a message ends with a sync flush")
	}
	return h[0], p
}

// wireMsg reads the next data frame, skipping pings.
func wireMsg(t *testing.T, r *raw) (compressed bool, m msg, size int) {
	t.Helper()
	for {
		b0, p := wireFrame(t, r)
		if wsproto.Opcode(b0&0x0f) == wsproto.OpPing {
			continue
		}
		require.Equal(t, wsproto.OpText, wsproto.Opcode(b0&0x0f))
		require.NoError(t, json.Unmarshal(p, &m), "%s", p)
		return b0&0x40 != 0, m, len(p)
	}
}

// rawJoin sends a $join from a raw client and reads up to its $joined.
func rawJoin(t *testing.T, r *raw, room string) {
	t.Helper()
	data, _ := json.Marshal(map[string]any{"event": "$join", "room": room})
	require.NoError(t, r.send(true, wsproto.OpText, data))
	for {
		if _, m, _ := wireMsg(t, r); m.Event == "$joined" {
			return
		}
	}
}

// TestCompressionGorilla: gorilla clients with EnableCompression send
// compressed messages, which the server inflates, and receive the room's
// frames compressed; a client without compression in the same room gets
// the same frames plain.
func TestCompressionGorilla(t *testing.T) {
	ts := startServer(t, &api.Options{Compression: true, DisablePresence: true})
	a, b := dialDeflate(t, ts), dialDeflate(t, ts)
	plain := dial(t, ts, nil)
	for _, c := range []*client{a, b, plain} {
		c.join("chat")
	}
	for i := range 20 {
		sender := []*client{a, plain}[i%2]
		sender.send(map[string]any{"event": "say", "room": "chat", "payload": chatPayload(i)})
		for _, c := range []*client{a, b, plain} {
			if c == sender {
				continue
			}
			m := c.expect("say")
			var p map[string]any
			m.payload(t, &p)
			assert.Equal(t, float64(i), p["n"])
			assert.Equal(t, chatPayload(i)["text"], p["text"])
		}
	}
	// Small frames and control frames keep working.
	a.ping()
	b.send(map[string]any{"event": "say", "room": "chat", "payload": "hi"})
	assert.Equal(t, `"hi"`, string(a.expect("say").Payload))
	plain.expect("say")
	noPanic(t, ts)
}

// TestCompressionBroadcastOnce: one frame into a room of compressed and
// plain members. On the wire, every compressed member gets an RSV1 frame
// smaller than the plain one, every plain member the plain frame, each
// with its own seq; and the body was compressed exactly once.
func TestCompressionBroadcastOnce(t *testing.T) {
	const compressedN, plainN = 12, 8
	ts := startServer(t, &api.Options{Compression: true, DisablePresence: true})
	var packedR []*raw
	for range compressedN {
		r, resp, _ := rawUpgrade(t, ts, deflateOffer)
		require.Equal(t, wsproto.DeflateResponse, resp.Header.Get("Sec-WebSocket-Extensions"))
		rawJoin(t, r, "hall")
		packedR = append(packedR, r)
	}
	var plainR []*raw
	for range plainN {
		r, resp, _ := rawUpgrade(t, ts)
		require.Empty(t, resp.Header.Get("Sec-WebSocket-Extensions"))
		rawJoin(t, r, "hall")
		plainR = append(plainR, r)
	}
	pub := dialDeflate(t, ts)
	pub.join("hall")

	before := deflate.Compressions()
	pub.send(map[string]any{"event": "say", "room": "hall", "payload": chatPayload(7)})
	var plainSize int
	for _, r := range plainR {
		compressed, m, size := wireMsg(t, r)
		assert.False(t, compressed, "a plain member gets no RSV1 frame")
		assert.Equal(t, "say", m.Event)
		plainSize = size
	}
	for _, r := range packedR {
		compressed, m, _ := wireMsg(t, r)
		assert.True(t, compressed, "a compressed member gets an RSV1 frame")
		assert.Equal(t, "say", m.Event)
		assert.NotZero(t, m.Seq)
		var p map[string]any
		require.NoError(t, json.Unmarshal(m.Payload, &p))
		assert.Equal(t, float64(7), p["n"])
	}
	assert.Equal(t, uint64(1), deflate.Compressions()-before, "one compression for the whole room")
	t.Logf("a %d-byte frame", plainSize)

	// Below CompressionMinSize nothing is compressed.
	pub.send(map[string]any{"event": "say", "room": "hall", "payload": "short"})
	for _, r := range packedR {
		compressed, m, _ := wireMsg(t, r)
		assert.False(t, compressed)
		assert.Equal(t, `"short"`, string(m.Payload))
	}
	noPanic(t, ts)
}

// TestCompressionBinaryCodec: a roomloop.bin client with compression
// gets a room frame compressed, its seq prefix (version byte, uvarint)
// before the shared body.
func TestCompressionBinaryCodec(t *testing.T) {
	ts := startServer(t, &api.Options{Compression: true, DisablePresence: true})
	d := websocket.Dialer{EnableCompression: true, Subprotocols: []string{"roomloop.bin"}, HandshakeTimeout: wait}
	ws, resp, err := d.Dial(ts.url, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer ws.Close()
	require.Contains(t, resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	read := func() []byte {
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(wait)))
		typ, data, err := ws.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, websocket.BinaryMessage, typ)
		return data
	}
	read() // $welcome
	join := frame.Frame{Event: "$join", Room: "bin"}
	require.NoError(t, ws.WriteMessage(websocket.BinaryMessage, frame.Binary.AppendMessage(nil, 0, frame.Binary.AppendBody(nil, &join))))
	require.Contains(t, string(read()), "$joined")
	pub := dial(t, ts, nil)
	pub.join("bin")
	before := deflate.Compressions()
	pub.send(map[string]any{"event": "say", "room": "bin", "payload": chatPayload(3)})
	for {
		m := read()
		if !bytes.Contains(m, []byte("say")) {
			continue
		}
		require.Equal(t, byte(1), m[0], "version byte")
		seq, n := binary.Uvarint(m[1:])
		require.Positive(t, n)
		assert.NotZero(t, seq)
		assert.Contains(t, string(m), "the quick brown fox")
		assert.Equal(t, uint64(1), deflate.Compressions()-before, "the binary body, compressed")
		return
	}
}

// TestCompressionOffByDefault: without Options.Compression the offer is
// declined and a gorilla client that asked for it talks plain.
func TestCompressionOffByDefault(t *testing.T) {
	ts := startServer(t, nil)
	d := websocket.Dialer{EnableCompression: true}
	ws, resp, err := d.Dial(ts.url, http.Header{})
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer ws.Close()
	assert.Empty(t, resp.Header.Get("Sec-WebSocket-Extensions"))
	_, _, err = ws.ReadMessage()
	require.NoError(t, err)
}

// TestHostileDeflateBomb (docs/hostile.md, deflate bomb): a client that
// negotiated compression sends a few KiB that inflate to 16 MiB. It is
// closed with 1009, the heap does not grow by more than the message
// limit allows, and the bystanders lose nothing.
func TestHostileDeflateBomb(t *testing.T) {
	ts := startServer(t, &api.Options{Compression: true})
	cm := newCalm(t, ts)
	var z bytes.Buffer
	fw, err := flate.NewWriter(&z, flate.BestSpeed)
	require.NoError(t, err)
	zeros := make([]byte, 64*kib)
	for range 256 {
		_, err = fw.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, fw.Flush())
	bomb := wsproto.AppendClientFrame(nil, true, wsproto.OpText,
		bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff}), [4]byte{5, 6, 7, 8})
	bomb[0] |= 0x40 // RSV1: compressed
	t.Logf("a %d-byte message that inflates to 16 MiB", len(bomb))
	for range 5 {
		r, resp, _ := rawUpgrade(t, ts, deflateOffer)
		require.Equal(t, wsproto.DeflateResponse, resp.Header.Get("Sec-WebSocket-Extensions"))
		before := heapInuse()
		require.NoError(t, r.write(bomb))
		r.expectClose(wsproto.CloseTooBig)
		grown := heapInuse() - before
		t.Logf("heap %+d KiB", grown/kib)
		assert.Less(t, grown, int64(mib))
	}
	cm.check("after the bombs")
	noPanic(t, ts)
}

// TestHostileCompressed runs the hostile suite again with compression
// negotiated by every client that can (gorilla clients, raw upgrades):
// every row must hold as it does without.
func TestHostileCompressed(t *testing.T) {
	compressedSuite.Store(true)
	defer compressedSuite.Store(false)
	before := deflate.Compressions()
	defer func() {
		n := deflate.Compressions() - before
		t.Logf("%d frame bodies compressed", n)
		assert.NotZero(t, n, "the suite sent frames compressed")
	}()
	for _, tc := range []struct {
		name string
		test func(*testing.T)
	}{
		{"Slowloris", TestHostileSlowloris},
		{"HeaderFlood", TestHostileHeaderFlood},
		{"MalformedUpgrades", TestHostileMalformedUpgrades},
		{"Offers", TestHostileOffers},
		{"Origins", TestHostileOrigins},
		{"SlowAuthorize", TestHostileSlowAuthorize},
		{"ConnectionFlood", TestHostileConnectionFlood},
		{"FrameLengths", TestHostileFrameLengths},
		{"SlowMessages", TestHostileSlowMessages},
		{"PingFlood", TestHostilePingFlood},
		{"IgnoresClose", TestHostileIgnoresClose},
		{"SpoofedFields", TestHostileSpoofedFields},
		{"RoomFlood", TestHostileRoomFlood},
		{"JoinStorm", TestHostileJoinStorm},
		{"Amplification", TestHostileAmplification},
		{"UniqueIDs", TestHostileUniqueIDs},
		{"ResumeGuessing", TestHostileResumeGuessing},
		{"SuspendBomb", TestHostileSuspendBomb},
		{"StalledReaders", TestHostileStalledReaders},
		{"Handlers", TestHostileHandlers},
		{"HalfOpen", TestHostileHalfOpen},
		{"ShutdownMany", TestHostileShutdownMany},
	} {
		t.Run(tc.name, tc.test)
	}
}

// TestCompressionMounted: a server mounted on a net/http server
// (ServeHTTP) negotiates compression on the upgrades it takes over too.
func TestCompressionMounted(t *testing.T) {
	srv, _ := newQuietServer(t, &api.Options{Compression: true, DisablePresence: true})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/chat"
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: wait}
	var cs []*client
	for range 2 {
		ws, resp, err := d.Dial(url, nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Contains(t, resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		c := &client{t: t, ws: ws}
		t.Cleanup(func() { _ = ws.Close() })
		c.expect("$welcome")
		c.join("m")
		cs = append(cs, c)
	}
	cs[0].send(map[string]any{"event": "say", "room": "m", "payload": chatPayload(1)})
	m := cs[1].expect("say")
	var p map[string]any
	m.payload(t, &p)
	assert.Equal(t, chatPayload(1)["text"], p["text"])
}
