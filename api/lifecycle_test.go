package api_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// TestShutdownAfterFailedStart: Shutdown of a server whose Start failed
// (its address was taken) returns cleanly.
func TestShutdownAfterFailedStart(t *testing.T) {
	ts := startServer(t, nil)
	srv := api.New(nil)
	err := srv.Start(ts.Addr().String()) // taken
	require.Error(t, err)
	assert.NoError(t, srv.Shutdown(context.Background()))
}

// TestKickWritesQueuedFramesFirst: frames queued before a Kick arrive
// before the close frame, even to a client with a tiny receive buffer.
func TestKickWritesQueuedFramesFirst(t *testing.T) {
	ts := startServer(t, &api.Options{QueueBytes: 16 << 20, QueueFrames: 1024})
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		nc, err := net.Dial(network, addr)
		if err == nil {
			_ = nc.(*net.TCPConn).SetReadBuffer(64 << 10)
		}
		return nc, err
	}}
	ws, resp, err := d.Dial(ts.url, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer ws.Close()
	_, data, err := ws.ReadMessage()
	require.NoError(t, err)
	require.Contains(t, string(data), "$welcome")
	var w struct{ Payload struct{ Session string } }
	require.NoError(t, jsonUnmarshal(data, &w))

	// More than the socket buffers hold, so the server meets a full socket.
	const frames = 150
	payload := []byte(`"` + strings.Repeat("p", 32000) + `"`)
	for range frames {
		require.NoError(t, ts.Send(w.Payload.Session, api.Frame{Event: "f", Kind: 1, Payload: payload}))
	}
	require.NoError(t, ts.Kick(w.Payload.Session, "bye"))
	// Deliberate: give the flusher time to meet the full socket before the
	// client reads (if it has not by then, the test is weaker, not flaky).
	time.Sleep(200 * time.Millisecond)
	got := 0
	for {
		_ = ws.SetReadDeadline(time.Now().Add(wait))
		_, data, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, int(api.CloseKicked), ce.Code)
			break
		}
		if bytes.Contains(data, []byte(`"event":"f"`)) {
			got++
		}
	}
	assert.Equal(t, frames, got)
}
