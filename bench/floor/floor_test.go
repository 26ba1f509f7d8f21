package floor_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/bench/floor"
)

type frame struct {
	Seq     uint64 `json:"seq"`
	Event   string `json:"event"`
	Room    string `json:"room"`
	Payload struct {
		Session string `json:"session"`
		Count   int    `json:"count"`
	} `json:"payload"`
}

func read(t *testing.T, ws *websocket.Conn) frame {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, data, err := ws.ReadMessage()
	require.NoError(t, err)
	var f frame
	require.NoError(t, json.Unmarshal(data, &f), "%s", data)
	return f
}

func dial(t *testing.T, s *floor.Server) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+s.Addr().String()+"/ws", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	w := read(t, ws)
	require.Equal(t, "$welcome", w.Event)
	require.Zero(t, w.Seq)
	require.NotEmpty(t, w.Payload.Session)
	return ws
}

// TestJoinCountsAndSeqs: $joined carries seq 1, 2, … per connection and
// the room's member count; rooms empty as their members close.
func TestJoinCountsAndSeqs(t *testing.T) {
	s := floor.New()
	require.NoError(t, s.Start("127.0.0.1:0"))
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	a, b := dial(t, s), dial(t, s)
	require.NoError(t, a.WriteMessage(websocket.TextMessage, []byte(`{"event":"$join","room":"r"}`)))
	j := read(t, a)
	require.Equal(t, "$joined", j.Event)
	require.Equal(t, uint64(1), j.Seq)
	require.Equal(t, "r", j.Room)
	require.Equal(t, 1, j.Payload.Count)

	require.NoError(t, b.WriteMessage(websocket.TextMessage, []byte(`{"event":"$join","room":"r"}`)))
	require.Equal(t, 2, read(t, b).Payload.Count)
	require.NoError(t, a.WriteMessage(websocket.TextMessage, []byte(`{"event":"$join","room":"q\"2"}`)))
	j = read(t, a)
	require.Equal(t, uint64(2), j.Seq)
	require.Equal(t, "q\"2", j.Room)
	require.Equal(t, 2, s.Rooms())

	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	require.Eventually(t, func() bool { return s.Rooms() == 0 }, 10*time.Second, 5*time.Millisecond)
}
