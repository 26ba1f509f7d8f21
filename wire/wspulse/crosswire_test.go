package wspulse_test

import (
	"encoding/json"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wstest"
	"github.com/roomloop/roomloop/wire/wspulse"
)

// One room, two wires: a roomloop.json client and a wspulse client in
// room r1 hear each other's frames, JSON payloads as they are; the
// roomloop client hears the wspulse client arrive in $presence.
func TestWspulseAndRoomloopJSONClientsShareARoom(t *testing.T) {
	srv := startPulse(t, nil)
	rl, status, reason := wstest.Dial(t, "ws://"+srv.addr+"/ws", nil)
	require.Equal(t, 101, status, reason)
	wstest.WelcomeOf(t, rl)
	wstest.Send(t, rl, map[string]any{"event": "$join", "room": "r1"})
	wstest.Next(t, rl, "$joined")

	p := dialPulse(t, pulseURL(srv.addr, "room=r1&id=pulse"), false)
	var presence frame.PresencePayload
	require.NoError(t, json.Unmarshal(wstest.Next(t, rl, "$presence").Payload, &presence))
	assert.Equal(t, []string{"pulse"}, presence.Joined)

	p.send(`{"id":"m1","event":"chat","payload":{"t":1}}`)
	require.NoError(t, rl.SetReadDeadline(deadline()))
	var got struct {
		Event, Room, From string
		Payload           json.RawMessage
	}
	require.NoError(t, rl.ReadJSON(&got))
	assert.Equal(t, "chat", got.Event)
	assert.Equal(t, "r1", got.Room)
	assert.Equal(t, "pulse", got.From)
	assert.JSONEq(t, `{"t":1}`, string(got.Payload))
	assert.Equal(t, `{"id":"m1","event":"chat","payload":{"t":1}}`, p.expect())

	require.NoError(t, rl.WriteMessage(websocket.TextMessage, []byte(`{"event":"chat","room":"r1","id":"x1","payload":{"x":2}}`)))
	wstest.Next(t, rl, "$ack")
	assert.Equal(t, `{"event":"chat","payload":{"x":2}}`, p.expect())
}

// A wire mounted by subprotocol is picked on roomloop's own path (as on
// a router's one path with ServeHTTP), and its subprotocol echoed; a
// client offering none there still speaks roomloop.json.
func TestWspulseBySubprotocolOnRoomloopPath(t *testing.T) {
	srv := startPulse(t, &api.Options{Endpoints: []api.Endpoint{
		{Subprotocol: "wspulse.v1", Wire: wspulse.New(wspulse.Options{})}}})
	d := websocket.Dialer{Subprotocols: []string{"wspulse.v1"}}
	ws, resp, err := d.Dial("ws://"+srv.addr+"/ws?room=r1&id=p", nil)
	require.NoError(t, err)
	defer ws.Close()
	assert.Equal(t, "wspulse.v1", resp.Header.Get("Sec-WebSocket-Protocol"))
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"hi"}`)))
	require.NoError(t, ws.SetReadDeadline(deadline()))
	_, got, err := ws.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, `{"event":"hi"}`, string(got))

	rl, status, reason := wstest.Dial(t, "ws://"+srv.addr+"/ws", nil)
	require.Equal(t, 101, status, reason)
	wstest.WelcomeOf(t, rl)
}
