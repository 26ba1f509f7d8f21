package main

import (
	be "encoding/binary"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The binary mounts the wsrooms and wspulse wires at /wsrooms and
// /wspulse by default.
func TestWiresMountedByDefault(t *testing.T) {
	b := startControlled(t)

	rooms, _, err := websocket.DefaultDialer.Dial("ws://"+b.addr+"/wsrooms", nil)
	require.NoError(t, err)
	defer rooms.Close()
	require.NoError(t, rooms.SetReadDeadline(time.Now().Add(10*time.Second)))
	typ, msg, err := rooms.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, websocket.BinaryMessage, typ)
	require.GreaterOrEqual(t, len(msg), 12)
	assert.Equal(t, uint32(4), be.BigEndian.Uint32(msg))
	assert.Equal(t, "root", string(msg[4:8]))
	assert.Equal(t, "join_ack", string(msg[12:20]), "the first frame is root's join_ack")

	pulse, _, err := websocket.DefaultDialer.Dial("ws://"+b.addr+"/wspulse?room=r1&id=a", nil)
	require.NoError(t, err)
	defer pulse.Close()
	require.NoError(t, pulse.WriteMessage(websocket.TextMessage, []byte(`{"event":"hi"}`)))
	require.NoError(t, pulse.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, msg, err = pulse.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, `{"event":"hi"}`, string(msg))
}

// -wspulse-path moves the wspulse wire; an empty -wsrooms-path turns the
// wsrooms wire off.
func TestWirePathFlags(t *testing.T) {
	b := startControlled(t, "-wspulse-path", "/legacy", "-wsrooms-path", "", "-no-demo")
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+b.addr+"/legacy?room=r1", nil)
	require.NoError(t, err)
	ws.Close()
	for _, path := range []string{"/wsrooms", "/wspulse?room=r1"} {
		_, resp, err := websocket.DefaultDialer.Dial("ws://"+b.addr+path, nil)
		require.Error(t, err, path)
		require.NotNil(t, resp, path)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		resp.Body.Close()
	}
}
