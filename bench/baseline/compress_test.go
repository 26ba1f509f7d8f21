package baseline

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawDeflate upgrades a raw TCP connection offering permessage-deflate
// and returns it with a reader of its frames.
func rawDeflate(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: roomloop.json\r\n"+
		"Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	return nc, br
}

// rawMessage reads one unfragmented server frame and returns whether it
// had RSV1 and its payload, inflated if so.
func rawMessage(t *testing.T, br *bufio.Reader) (bool, string) {
	t.Helper()
	var h, ext [2]byte
	_, err := io.ReadFull(br, h[:])
	require.NoError(t, err)
	require.NotZero(t, h[0]&0x80, "FIN")
	n := int(h[1] & 0x7f)
	if n == 126 {
		_, err = io.ReadFull(br, ext[:])
		require.NoError(t, err)
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	p := make([]byte, n)
	_, err = io.ReadFull(br, p)
	require.NoError(t, err)
	if h[0]&0x40 == 0 {
		return false, string(p)
	}
	out, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff}))))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF) // a sync-flushed stream has no final block
	return true, string(out)
}

// TestCompressionPrepared: with Options.Compression, a member that
// offered permessage-deflate reads its welcome and a room broadcast
// compressed on the wire and without a seq; a gorilla client negotiates
// compression and gets the same broadcast; a client that offered nothing
// gets it plain.
func TestCompressionPrepared(t *testing.T) {
	s := New(&Options{Compression: true})
	require.NoError(t, s.Start("127.0.0.1:0"))
	defer func() { _ = s.Close() }()

	nc, raw := rawDeflate(t, s)
	z, welcome := rawMessage(t, raw)
	assert.True(t, z, "the welcome is compressed")
	assert.True(t, strings.HasPrefix(welcome, `{"event":"$welcome"`), welcome)
	join := []byte(`{"event":"$join","room":"r"}`)
	_, err := nc.Write(append([]byte{0x81, 0x80 | byte(len(join)), 0, 0, 0, 0}, join...)) // mask 0
	require.NoError(t, err)
	_, joined := rawMessage(t, raw)
	assert.True(t, strings.HasPrefix(joined, `{"event":"$joined","room":"r"`), joined)

	d := websocket.Dialer{EnableCompression: true}
	g, resp, err := d.Dial("ws://"+s.Addr().String()+"/ws", nil)
	require.NoError(t, err)
	defer func() { _ = g.Close() }()
	assert.Contains(t, resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	var m map[string]any
	read(t, g, &m)
	assert.Equal(t, "$welcome", m["event"])
	plain, _ := dial(t, s)
	for _, c := range []*websocket.Conn{g, plain} {
		send(t, c, `{"event":"$join","room":"r"}`)
		read(t, c, &m)
		assert.Equal(t, "$joined", m["event"])
		assert.NotContains(t, m, "seq")
	}

	text := strings.Repeat("latency numbers look good, merge the branch ", 20)
	send(t, g, `{"event":"chat","room":"r","payload":{"text":"`+text+`"}}`)
	z, body := rawMessage(t, raw)
	assert.True(t, z, "the broadcast is compressed")
	assert.True(t, strings.HasPrefix(body, `{"event":"chat","room":"r","from":"s-`), body)
	assert.Contains(t, body, text)
	got := read(t, plain, &m)
	assert.True(t, strings.HasPrefix(got, `{"event":"chat","room":"r","from":"s-`), got)
	assert.Equal(t, text, m["payload"].(map[string]any)["text"])
}
