package api_test

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// TestMalformedFramesKeepConnection: every malformed frame gets $error
// bad_request, the connection stays usable, and a bystander loses nothing.
func TestMalformedFramesKeepConnection(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	a := dial(t, ts, nil)
	by := dial(t, ts, nil)
	a.join("r")
	by.join("r")

	cases := []struct {
		name, frame, id string
	}{
		{"bad json", `{"event":"chat",`, ""},
		{"not an object", `[1,2,3]`, ""},
		{"wrong field type", `{"event":"chat","room":5,"id":"w"}`, "w"},
		{"empty event", `{"event":"","room":"r","id":"e"}`, "e"},
		{"reserved event", `{"event":"$welcome","id":"rv"}`, "rv"},
		{"room and to", `{"event":"chat","room":"r","to":"x","id":"rt"}`, "rt"},
		{"overlong room", `{"event":"$join","room":"` + strings.Repeat("r", 129) + `","id":"or"}`, "or"},
		{"control char in event", `{"event":"ch\u0001at","id":"cc"}`, "cc"},
		{"duplicate key", `{"event":"chat","room":"r","room":"s"}`, ""},
		{"empty message", ``, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a.sendRaw(websocket.TextMessage, []byte(tc.frame))
			m, p := a.expectError("bad_request")
			assert.NotEmpty(t, p.Message)
			if tc.id != "" {
				assert.Equal(t, tc.id, m.ID, "a valid id is echoed")
			}
		})
	}
	a.ping()
	a.send(map[string]any{"event": "chat", "room": "r", "payload": "after"})
	m := by.expect("chat")
	assert.JSONEq(t, `"after"`, string(m.Payload))
}

func TestWrongMessageTypeCloses1003(t *testing.T) {
	ts := startServer(t, nil)
	a := dial(t, ts, nil)
	a.sendRaw(websocket.BinaryMessage, []byte{1, 0})
	assert.Equal(t, websocket.CloseUnsupportedData, a.expectClose())
}

func TestOversizedMessageCloses1009(t *testing.T) {
	ts := startServer(t, &api.Options{MaxMessageSize: 1024})
	a := dial(t, ts, nil)
	a.sendRaw(websocket.TextMessage, bytes.Repeat([]byte("x"), 1025))
	assert.Equal(t, websocket.CloseMessageTooBig, a.expectClose())
}

// binClient speaks roomloop.bin.
type binClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialBinary(t *testing.T, ts *testServer) *binClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"roomloop.bin"}}
	ws, resp, err := d.Dial(ts.url, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, "roomloop.bin", ws.Subprotocol())
	t.Cleanup(func() { _ = ws.Close() })
	c := &binClient{t: t, ws: ws}
	typ, data, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, websocket.BinaryMessage, typ)
	f := decodeBin(t, data)
	require.Equal(t, "$welcome", f.event)
	return c
}

type binFrame struct {
	seq                       uint64
	event, room, to, from, id string
	payload                   []byte
}

func encodeBin(f binFrame) []byte {
	b := []byte{1}
	b = binary.AppendUvarint(b, 0)
	for _, s := range []string{f.event, f.room, f.to, f.from, f.id} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, f.payload...)
}

func decodeBin(t *testing.T, b []byte) binFrame {
	t.Helper()
	require.NotEmpty(t, b)
	require.Equal(t, byte(1), b[0])
	b = b[1:]
	var f binFrame
	var n int
	f.seq, n = binary.Uvarint(b)
	require.Positive(t, n)
	b = b[n:]
	for _, dst := range []*string{&f.event, &f.room, &f.to, &f.from, &f.id} {
		l, n := binary.Uvarint(b)
		require.Positive(t, n)
		b = b[n:]
		require.LessOrEqual(t, int(l), len(b))
		*dst = string(b[:l])
		b = b[l:]
	}
	f.payload = b
	return f
}

func (c *binClient) next() binFrame {
	c.t.Helper()
	_, data, err := c.ws.ReadMessage()
	require.NoError(c.t, err)
	return decodeBin(c.t, data)
}

func TestBinaryCodecAndCrossCodecPayloads(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	b := dialBinary(t, ts)
	j := dial(t, ts, nil)
	require.NoError(t, b.ws.WriteMessage(websocket.BinaryMessage, encodeBin(binFrame{event: "$join", room: "x"})))
	joined := b.next()
	assert.Equal(t, "$joined", joined.event)
	assert.Equal(t, uint64(1), joined.seq)
	j.join("x")

	// Raw bytes from a binary client reach a JSON client as base64 "bin".
	require.NoError(t, b.ws.WriteMessage(websocket.BinaryMessage,
		encodeBin(binFrame{event: "blob", room: "x", payload: []byte{0xff, 0x00, 0x01}})))
	m := j.expect("blob")
	assert.Equal(t, "/wAB", m.Bin)
	assert.Empty(t, m.Payload)

	// JSON from a JSON client reaches a binary client as its text.
	j.send(map[string]any{"event": "obj", "room": "x", "payload": map[string]int{"a": 1}})
	f := b.next()
	assert.Equal(t, "obj", f.event)
	assert.Equal(t, j.id, f.from)
	assert.JSONEq(t, `{"a":1}`, string(f.payload))
	assert.Equal(t, uint64(2), f.seq)

	// Lengths running past the end: $error, connection stays open.
	require.NoError(t, b.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 0, 50, 'a'}))
	e := b.next()
	assert.Equal(t, "$error", e.event)
	assert.Contains(t, string(e.payload), "bad_request")
	// Text on a binary connection: 1003.
	require.NoError(t, b.ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"x"}`)))
	_, _, err := b.ws.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.CloseUnsupportedData, ce.Code)
}

func TestUnknownSubprotocolRefused(t *testing.T) {
	ts := startServer(t, nil)
	d := websocket.Dialer{Subprotocols: []string{"mqtt", "graphql-ws"}}
	ws, resp, err := d.Dial(ts.url, nil)
	if ws != nil {
		_ = ws.Close()
	}
	require.Error(t, err)
	require.NotNil(t, resp)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
