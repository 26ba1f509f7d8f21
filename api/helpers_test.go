package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wstest"
)

// wait is how long a test waits for a frame it expects.
const wait = 5 * time.Second

// logBuffer collects a server's log.
type logBuffer = wstest.LogBuffer

type testServer struct {
	*api.Server
	url      string
	logs     *logBuffer
	presence bool // $presence diffs are on
}

// compressedSuite makes startServer turn Options.Compression on, and the
// suite's clients (testDialer, upgradeHead) offer permessage-deflate:
// TestHostileCompressed runs the hostile suite so.
var compressedSuite atomic.Bool

// testDialer is the gorilla dialer of the suite's clients: it negotiates
// compression in a compressed run.
func testDialer() *websocket.Dialer {
	if compressedSuite.Load() {
		return &websocket.Dialer{EnableCompression: true, HandshakeTimeout: wait}
	}
	return websocket.DefaultDialer
}

// startServer runs a server on 127.0.0.1:0 and shuts it down when the test
// ends.
func startServer(t *testing.T, opts *api.Options) *testServer {
	t.Helper()
	if opts == nil {
		opts = &api.Options{}
	}
	if compressedSuite.Load() {
		opts.Compression = true
	}
	if opts.RateLimits == (api.RateLimits{}) {
		// Most tests flood on purpose; rate-limit tests set their own.
		opts.RateLimits = api.NoRateLimits()
	}
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := api.New(opts)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	ts := &testServer{Server: srv, url: "ws://" + srv.Addr().String() + "/ws", logs: logs, presence: !opts.DisablePresence}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return ts
}

// msg is a server frame as a JSON client sees it.
type msg struct {
	Seq     uint64          `json:"seq"`
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	To      string          `json:"to"`
	From    string          `json:"from"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
	Bin     string          `json:"bin"`
}

func (m msg) payload(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(m.Payload, v), "payload %s", m.Payload)
}

// client is a JSON-codec test client on gorilla/websocket.
type client struct {
	t       *testing.T
	ws      *websocket.Conn
	id      string
	lastSeq uint64
}

// dial connects and reads $welcome.
func dial(t *testing.T, ts *testServer, header http.Header) *client {
	t.Helper()
	ws, resp, err := testDialer().Dial(ts.url, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	require.NoError(t, err)
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { _ = ws.Close() })
	w := c.next()
	require.Equal(t, "$welcome", w.Event)
	require.Zero(t, w.Seq, "$welcome carries no seq")
	var wp frame.WelcomePayload
	w.payload(t, &wp)
	require.NotEmpty(t, wp.Session)
	c.id = wp.Session
	return c
}

// dialRefused expects the upgrade to fail with status and returns the body.
func dialRefused(t *testing.T, ts *testServer, header http.Header, status int) string {
	t.Helper()
	ws, resp, err := testDialer().Dial(ts.url, header)
	if ws != nil {
		_ = ws.Close()
	}
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	require.NotNil(t, resp)
	defer resp.Body.Close()
	require.Equal(t, status, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body))
}

func (c *client) send(v any) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteJSON(v))
}

func (c *client) sendRaw(typ int, data []byte) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteMessage(typ, data))
}

// next reads one frame and checks its seq continues the stream.
func (c *client) next() msg {
	c.t.Helper()
	require.NoError(c.t, c.ws.SetReadDeadline(time.Now().Add(wait)))
	typ, data, err := c.ws.ReadMessage()
	require.NoError(c.t, err)
	require.Equal(c.t, websocket.TextMessage, typ)
	var m msg
	require.NoError(c.t, json.Unmarshal(data, &m), "frame %s", data)
	if m.Event != "$welcome" {
		require.Equal(c.t, c.lastSeq+1, m.Seq, "seq of %s", data)
		c.lastSeq = m.Seq
	}
	return m
}

// expect reads the next frame and requires its event.
func (c *client) expect(event string) msg {
	c.t.Helper()
	m := c.next()
	require.Equal(c.t, event, m.Event, "frame %+v payload %s", m, m.Payload)
	return m
}

// expectError reads an $error and returns its payload.
func (c *client) expectError(code string) (msg, frame.ErrorPayload) {
	c.t.Helper()
	m := c.expect("$error")
	var p frame.ErrorPayload
	m.payload(c.t, &p)
	require.Equal(c.t, code, p.Code, "message %q", p.Message)
	return m, p
}

// join joins room and returns the $joined payload.
func (c *client) join(room string) frame.JoinedPayload {
	c.t.Helper()
	c.send(map[string]any{"event": "$join", "room": room})
	m := c.expect("$joined")
	require.Equal(c.t, room, m.Room)
	var j frame.JoinedPayload
	m.payload(c.t, &j)
	return j
}

// ping round-trips an application $ping: proof the connection still works
// and everything sent before it was handled.
func (c *client) ping() {
	c.t.Helper()
	c.send(map[string]any{"event": "$ping", "id": "p"})
	m := c.expect("$pong")
	require.Equal(c.t, "p", m.ID)
}

// expectClose reads until the connection closes and returns the close code.
func (c *client) expectClose() int {
	c.t.Helper()
	require.NoError(c.t, c.ws.SetReadDeadline(time.Now().Add(wait)))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		require.ErrorAs(c.t, err, &ce, "connection ended without a close frame")
		return ce.Code
	}
}

// quietFor requires that no frame arrives within d.
func (c *client) quietFor(d time.Duration) {
	c.t.Helper()
	require.NoError(c.t, c.ws.SetReadDeadline(time.Now().Add(d)))
	_, data, err := c.ws.ReadMessage()
	require.Error(c.t, err, "unexpected frame %s", data)
	// A read deadline breaks a gorilla conn for reading; callers use it last.
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// closeNormally does the client's side of a close handshake (1000) and
// waits for the server's answer.
func (c *client) closeNormally() {
	c.t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	require.NoError(c.t, c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)))
	code := c.expectClose()
	require.Equal(c.t, websocket.CloseNormalClosure, code)
}

// expectPresence reads the next frame, which must be a $presence diff of
// room, and returns its lists.
func (c *client) expectPresence(room string) frame.PresencePayload {
	c.t.Helper()
	m := c.expect("$presence")
	require.Equal(c.t, room, m.Room)
	var p frame.PresencePayload
	m.payload(c.t, &p)
	return p
}

// expectDiff reads the next frame, which must be the $presence diff of
// room with exactly joined and left (nil: none).
func (c *client) expectDiff(room string, joined, left []string) {
	c.t.Helper()
	p := c.expectPresence(room)
	require.ElementsMatch(c.t, joined, p.Joined, "joined")
	require.ElementsMatch(c.t, left, p.Left, "left")
}
