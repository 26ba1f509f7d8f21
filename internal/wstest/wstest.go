// Package wstest holds helpers for tests that talk to a roomloop server
// over real WebSockets as a plain JSON client: dial with the refusal's
// status and reason, read until an event, and collect a server's log.
// Only tests import it.
package wstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/frame"
)

// wait bounds every dial and read.
const wait = 10 * time.Second

// LogBuffer collects a server's log; it is safe for concurrent writes.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Dial opens a WebSocket to url with header. On success it returns the
// connection (closed when the test ends) and 101; on a refusal, nil, the
// HTTP status and the reason the body gave.
func Dial(t *testing.T, url string, header http.Header) (*websocket.Conn, int, string) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: wait}
	ws, resp, err := d.Dial(url, header)
	if err != nil {
		require.NotNil(t, resp, "dial: %v", err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return nil, resp.StatusCode, strings.TrimSpace(string(body))
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	return ws, http.StatusSwitchingProtocols, ""
}

// DialQuery is Dial with query added to url.
func DialQuery(t *testing.T, url string, query neturl.Values, header http.Header) (*websocket.Conn, int, string) {
	t.Helper()
	if len(query) > 0 {
		url += "?" + query.Encode()
	}
	return Dial(t, url, header)
}

// Frame is a server frame as a JSON client reads it.
type Frame struct {
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// Next reads ws's frames until one of event arrives, and returns it.
func Next(t *testing.T, ws *websocket.Conn, event string) Frame {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(wait)))
	for {
		_, msg, err := ws.ReadMessage()
		require.NoError(t, err, "waiting for %s", event)
		var f Frame
		require.NoError(t, json.Unmarshal(msg, &f), "%s", msg)
		if f.Event == event {
			return f
		}
	}
}

// WelcomeOf reads ws's $welcome.
func WelcomeOf(t *testing.T, ws *websocket.Conn) frame.WelcomePayload {
	t.Helper()
	var w frame.WelcomePayload
	require.NoError(t, json.Unmarshal(Next(t, ws, "$welcome").Payload, &w))
	return w
}

// Refresh sends $refresh with tok and id, and returns the next frame: its
// answer ($refreshed or $error), whose id it checks.
func Refresh(t *testing.T, ws *websocket.Conn, id, tok string) Frame {
	t.Helper()
	Send(t, ws, map[string]any{"event": "$refresh", "id": id, "payload": map[string]any{"token": tok}})
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(wait)))
	var f Frame
	require.NoError(t, ws.ReadJSON(&f))
	assert.Equal(t, id, f.ID)
	return f
}

// CloseCode reads ws until the server closes it and returns the close
// code, failing if the connection ends without a close frame within
// timeout.
func CloseCode(t *testing.T, ws *websocket.Conn, timeout time.Duration) int {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(timeout)))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce, "the connection ended without a close frame")
			return ce.Code
		}
	}
}

// Send writes f to ws as JSON.
func Send(t *testing.T, ws *websocket.Conn, f map[string]any) {
	t.Helper()
	require.NoError(t, ws.WriteJSON(f))
}
