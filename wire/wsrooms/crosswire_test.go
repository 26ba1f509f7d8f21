package wsrooms_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/wstest"
)

// rlFrame is a server frame as a roomloop.json client reads it.
type rlFrame struct {
	Event, Room, From string
	Payload           json.RawMessage
	Bin               string
}

// nextApp reads a roomloop.json client's frames up to the next
// application frame.
func nextApp(t *testing.T, ws *websocket.Conn) rlFrame {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(wait)))
	for {
		var f rlFrame
		require.NoError(t, ws.ReadJSON(&f))
		if f.Event[0] != '$' {
			return f
		}
	}
}

// One room, three wires: a wsrooms.js client, a wspulse client and a
// roomloop.json client in room "lobby" see each other's messages.
// wsrooms payload bytes are roomloop bytes (a wspulse client gets them
// as a base64 JSON string); JSON payloads reach wsrooms as their bytes.
func TestCrossWireRoomWsroomsWspulseRoomloopJSON(t *testing.T) {
	_, addr := startRooms(t, nil)
	rl, status, reason := wstest.Dial(t, "ws://"+addr+"/ws", nil)
	require.Equal(t, 101, status, reason)
	wstest.WelcomeOf(t, rl)
	wstest.Send(t, rl, map[string]any{"event": "$join", "room": "lobby"})
	wstest.Next(t, rl, "$joined")

	js := dialJS(t, addr)
	js.join("lobby")
	require.Equal(t, emitted{room: "lobby", name: "open"}, js.next())

	pulse, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/wspulse?room=lobby&id=pulse", nil)
	require.NoError(t, err)
	defer pulse.Close()
	assert.Equal(t, emitted{room: "lobby", name: "new_member", payload: "pulse"}, js.next())
	require.NoError(t, pulse.SetReadDeadline(time.Now().Add(wait)))

	// wsrooms → roomloop, wspulse.
	require.NoError(t, js.send("lobby", "chat", "hi", ""))
	f := nextApp(t, rl)
	assert.Equal(t, rlFrame{Event: "chat", Room: "lobby", From: js.id(), Bin: base64.StdEncoding.EncodeToString([]byte("hi"))}, f)
	_, got, err := pulse.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, `{"event":"chat","payload":"aGk="}`, string(got))

	// wspulse → roomloop, wsrooms (and itself).
	require.NoError(t, pulse.WriteMessage(websocket.TextMessage, []byte(`{"id":"m1","event":"chat","payload":{"t":1}}`)))
	f = nextApp(t, rl)
	assert.Equal(t, "pulse", f.From)
	assert.JSONEq(t, `{"t":1}`, string(f.Payload))
	assert.Equal(t, emitted{room: "lobby", name: "chat", payload: `{"t":1}`, src: "pulse"}, js.next())
	_, got, err = pulse.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, `{"id":"m1","event":"chat","payload":{"t":1}}`, string(got))

	// roomloop → wsrooms, wspulse.
	require.NoError(t, rl.WriteMessage(websocket.TextMessage, []byte(`{"event":"chat","room":"lobby","payload":{"x":2}}`)))
	e := js.next()
	rlID := e.src
	assert.Equal(t, emitted{room: "lobby", name: "chat", payload: `{"x":2}`, src: rlID}, e)
	assert.NotEmpty(t, rlID)
	_, got, err = pulse.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, `{"event":"chat","payload":{"x":2}}`, string(got))

	// Nothing else reached the wsrooms client.
	assert.Empty(t, js.marker("mark"))
}
