package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/httpapi"
)

const key = "s3cret-key"

// env is a roomloop server on 127.0.0.1:0 and the API over it on an
// HTTP server of its own.
type env struct {
	srv *api.Server
	url string // the API's base URL
}

func newEnv(t *testing.T, opts httpapi.Options) *env {
	t.Helper()
	srv := api.New(&api.Options{Path: "/ws", Authorize: func(r *http.Request) (api.Identity, error) {
		return api.Identity{User: r.Header.Get("X-User")}, nil
	}})
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(10 * time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	if opts.APIKey == "" {
		opts.APIKey = key
	}
	hs := httptest.NewServer(httpapi.New(srv, opts))
	t.Cleanup(hs.Close)
	return &env{srv: srv, url: hs.URL}
}

// frameJSON is a server frame as roomloop.json carries it.
type frameJSON struct {
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	Payload json.RawMessage `json:"payload"`
}

// client is a real WebSocket client of the server.
type client struct {
	t       *testing.T
	ws      *websocket.Conn
	session string
}

func (e *env) dial(t *testing.T) *client { return e.dialAs(t, "") }

// dialAs connects as user ("": none).
func (e *env) dialAs(t *testing.T, user string) *client {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"roomloop.json"}, HandshakeTimeout: 5 * time.Second}
	var h http.Header
	if user != "" {
		h = http.Header{"X-User": {user}}
	}
	ws, resp, err := d.Dial("ws://"+e.srv.Addr().String()+"/ws", h)
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	c := &client{t: t, ws: ws}
	f := c.read()
	require.Equal(t, "$welcome", f.Event)
	var w struct{ Session string }
	require.NoError(t, json.Unmarshal(f.Payload, &w))
	c.session = w.Session
	return c
}

// read returns the next frame that is not presence.
func (c *client) read() frameJSON {
	c.t.Helper()
	for {
		require.NoError(c.t, c.ws.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, msg, err := c.ws.ReadMessage()
		require.NoError(c.t, err)
		var f frameJSON
		require.NoError(c.t, json.Unmarshal(msg, &f))
		if f.Event != "$presence" {
			return f
		}
	}
}

// join puts c into room through the API and waits for its $joined.
func (e *env) join(t *testing.T, c *client, room string) {
	t.Helper()
	st, body := e.call(t, "POST", "/api/join", map[string]any{"session": c.session, "room": room})
	require.Equal(t, 200, st, body)
	f := c.read()
	require.Equal(t, "$joined", f.Event)
	require.Equal(t, room, f.Room)
}

// do sends a request with the API key and returns status and body.
func (e *env) do(t *testing.T, method, path, contentType, auth string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp, string(b)
}

// call sends v as JSON with the key.
func (e *env) call(t *testing.T, method, path string, v any) (int, string) {
	t.Helper()
	var body []byte
	if v != nil {
		var err error
		body, err = json.Marshal(v)
		require.NoError(t, err)
	}
	ct := "application/json"
	if method == "GET" {
		ct = ""
	}
	resp, b := e.do(t, method, path, ct, "Bearer "+key, body)
	return resp.StatusCode, b
}

func errCode(t *testing.T, body string) string {
	t.Helper()
	var v struct {
		Error struct{ Code, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	require.NotEmpty(t, v.Error.Message, body)
	return v.Error.Code
}

func TestPublishReachesRoomButExcluded(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	a, b := e.dial(t), e.dial(t)
	e.join(t, a, "lobby")
	e.join(t, b, "lobby")

	st, body := e.call(t, "POST", "/api/publish", map[string]any{
		"room": "lobby", "event": "news", "payload": map[string]int{"n": 1}, "exclude": []string{b.session}})
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"delivered":1}`, body)
	f := a.read()
	assert.Equal(t, "news", f.Event)
	assert.Equal(t, "lobby", f.Room)
	assert.JSONEq(t, `{"n":1}`, string(f.Payload))

	// b was excluded: its next frame is the one after.
	st, body = e.call(t, "POST", "/api/publish", map[string]any{"room": "lobby", "event": "after"})
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"delivered":2}`, body)
	assert.Equal(t, "after", b.read().Event)
	assert.Equal(t, "after", a.read().Event)
}

func TestPublishIdempotencyKeyAppliesOnce(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	a := e.dial(t)
	e.join(t, a, "r")
	req := map[string]any{"room": "r", "event": "once", "idempotency_key": "k1"}
	st, body := e.call(t, "POST", "/api/publish", req)
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"delivered":1}`, body)
	st, body = e.call(t, "POST", "/api/publish", req)
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"delivered":1,"duplicate":true}`, body)
	st, body = e.call(t, "POST", "/api/publish", map[string]any{"room": "r", "event": "marker"})
	require.Equal(t, 200, st, body)

	assert.Equal(t, "once", a.read().Event)
	assert.Equal(t, "marker", a.read().Event, "the repeat was applied again")
}

// TestIdempotencyKeyConcurrent: of concurrent publishes with one key,
// exactly one applies.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	a := e.dial(t)
	e.join(t, a, "r")
	const n = 8
	bodies := make(chan string, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			st, body := e.call(t, "POST", "/api/publish", map[string]any{"room": "r", "event": "once", "idempotency_key": "k"})
			assert.Equal(t, 200, st, body)
			bodies <- body
		})
	}
	wg.Wait()
	close(bodies)
	first := 0
	for b := range bodies {
		if !strings.Contains(b, "duplicate") {
			first++
		}
	}
	assert.Equal(t, 1, first)
	st, body := e.call(t, "POST", "/api/publish", map[string]any{"room": "r", "event": "marker"})
	require.Equal(t, 200, st, body)
	assert.Equal(t, "once", a.read().Event)
	assert.Equal(t, "marker", a.read().Event)
}

func TestIdempotencyKeysBounded(t *testing.T) {
	e := newEnv(t, httpapi.Options{IdempotencyKeys: 2})
	pub := func(k string) string {
		st, body := e.call(t, "POST", "/api/publish", map[string]any{"room": "r", "event": "e", "idempotency_key": k})
		require.Equal(t, 200, st, body)
		return body
	}
	pub("a")
	pub("b")
	assert.Contains(t, pub("a"), "duplicate") // a is now the most recent
	pub("c")                                  // forgets b
	assert.Contains(t, pub("a"), "duplicate")
	assert.NotContains(t, pub("b"), "duplicate")
}

func TestIdempotencyWindow(t *testing.T) {
	e := newEnv(t, httpapi.Options{IdempotencyWindow: time.Nanosecond})
	for range 2 {
		st, body := e.call(t, "POST", "/api/publish", map[string]any{"room": "r", "event": "e", "idempotency_key": "k"})
		require.Equal(t, 200, st, body)
		assert.NotContains(t, body, "duplicate")
	}
}

func TestSend(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	a := e.dial(t)
	st, body := e.call(t, "POST", "/api/send", map[string]any{"session": a.session, "event": "dm", "payload": "hi"})
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"delivered":1}`, body)
	f := a.read()
	assert.Equal(t, "dm", f.Event)
	assert.JSONEq(t, `"hi"`, string(f.Payload))

	st, body = e.call(t, "POST", "/api/send", map[string]any{"session": "nobody", "event": "dm"})
	assert.Equal(t, 404, st)
	assert.Equal(t, "no_such_session", errCode(t, body))
}

func TestSendUserKickUser(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	a1, a2, b := e.dialAs(t, "ann"), e.dialAs(t, "ann"), e.dialAs(t, "bob")
	st, body := e.call(t, "POST", "/api/send_user", map[string]any{"user": "ann", "event": "dm", "payload": 1})
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"delivered":2}`, body)
	assert.Equal(t, "dm", a1.read().Event)
	assert.Equal(t, "dm", a2.read().Event)
	st, body = e.call(t, "POST", "/api/send_user", map[string]any{"user": "nobody", "event": "dm"})
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"delivered":0}`, body)

	st, body = e.call(t, "POST", "/api/kick_user", map[string]any{"user": "ann", "reason": "banned"})
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"kicked":2}`, body)
	for _, c := range []*client{a1, a2} {
		require.NoError(t, c.ws.SetReadDeadline(time.Now().Add(5*time.Second)))
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, 4001, ce.Code)
				break
			}
		}
	}
	// bob is untouched.
	st, body = e.call(t, "POST", "/api/send", map[string]any{"session": b.session, "event": "still"})
	require.Equal(t, 200, st, body)
	assert.Equal(t, "still", b.read().Event)

	for _, path := range []string{"/api/send_user", "/api/kick_user"} {
		st, body = e.call(t, "POST", path, map[string]any{"event": "e"})
		assert.Equal(t, 400, st, path)
		assert.Equal(t, "bad_request", errCode(t, body))
	}
}

func TestKick(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	a := e.dial(t)
	st, body := e.call(t, "POST", "/api/kick", map[string]any{"session": a.session, "reason": "bye"})
	require.Equal(t, 200, st, body)
	require.NoError(t, a.ws.SetReadDeadline(time.Now().Add(5*time.Second)))
	for {
		_, _, err := a.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, 4001, ce.Code)
			assert.Equal(t, "bye", ce.Text)
			break
		}
	}
	st, body = e.call(t, "POST", "/api/kick", map[string]any{"session": a.session})
	assert.Equal(t, 404, st)
	assert.Equal(t, "no_such_session", errCode(t, body))
}

func TestJoinLeaveRoomsMembers(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	a, b := e.dial(t), e.dial(t)
	e.join(t, a, "x/y")
	e.join(t, b, "x/y")

	st, body := e.call(t, "GET", "/api/rooms", nil)
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"rooms":["x/y"]}`, body)

	st, body = e.call(t, "GET", "/api/rooms/x%2Fy/members", nil)
	require.Equal(t, 200, st, body)
	var m struct {
		Count   int
		Members []string
	}
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	assert.Equal(t, 2, m.Count)
	assert.ElementsMatch(t, []string{a.session, b.session}, m.Members)

	st, body = e.call(t, "GET", "/api/rooms/x%2Fy/members?limit=1", nil)
	require.Equal(t, 200, st, body)
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	assert.Equal(t, 2, m.Count)
	assert.Len(t, m.Members, 1)

	st, body = e.call(t, "GET", "/api/rooms/x%2Fy/members?limit=-2", nil)
	assert.Equal(t, 400, st)
	assert.Equal(t, "bad_request", errCode(t, body))

	st, body = e.call(t, "POST", "/api/leave", map[string]any{"session": b.session, "room": "x/y"})
	require.Equal(t, 200, st, body)
	f := b.read()
	assert.Equal(t, "$left", f.Event)

	st, body = e.call(t, "GET", "/api/rooms/x%2Fy/members", nil)
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, fmt.Sprintf(`{"count":1,"members":[%q]}`, a.session), body)
	st, body = e.call(t, "GET", "/api/rooms/empty/members", nil)
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"count":0,"members":[]}`, body)

	for _, path := range []string{"/api/join", "/api/leave"} {
		st, body = e.call(t, "POST", path, map[string]any{"session": "nobody", "room": "r"})
		assert.Equal(t, 404, st, path)
		assert.Equal(t, "no_such_session", errCode(t, body))
		st, body = e.call(t, "POST", path, map[string]any{"session": a.session, "room": ""})
		assert.Equal(t, 400, st, path)
		assert.Equal(t, "bad_request", errCode(t, body))
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	a := e.dial(t)
	e.join(t, a, "r")
	st, body := e.call(t, "GET", "/api/stats", nil)
	require.Equal(t, 200, st, body)
	var s struct {
		Sessions int `json:"sessions"`
		Rooms    int `json:"rooms"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	assert.Equal(t, 1, s.Sessions)
	assert.Equal(t, 1, s.Rooms)
	assert.Contains(t, body, `"frames_written"`)
}

func TestBatch(t *testing.T) {
	e := newEnv(t, httpapi.Options{MaxBatch: 4})
	a := e.dial(t)
	st, body := e.call(t, "POST", "/api/batch", map[string]any{"commands": []any{
		map[string]any{"method": "join", "params": map[string]any{"session": a.session, "room": "r"}},
		map[string]any{"method": "publish", "params": map[string]any{"room": "r", "event": "b1"}},
		map[string]any{"method": "send", "params": map[string]any{"session": "nobody", "event": "x"}},
		map[string]any{"method": "nope", "params": map[string]any{}},
	}})
	require.Equal(t, 200, st, body)
	assert.JSONEq(t, `{"replies":[
		{"status":200,"result":{}},
		{"status":200,"result":{"delivered":1}},
		{"status":404,"error":{"code":"no_such_session","message":"no such session"}},
		{"status":400,"error":{"code":"bad_request","message":"unknown method \"nope\""}}]}`, body)
	assert.Equal(t, "$joined", a.read().Event)
	assert.Equal(t, "b1", a.read().Event)

	cmds := make([]any, 5)
	for i := range cmds {
		cmds[i] = map[string]any{"method": "publish", "params": map[string]any{"room": "r", "event": "e"}}
	}
	st, body = e.call(t, "POST", "/api/batch", map[string]any{"commands": cmds})
	assert.Equal(t, 400, st)
	assert.Equal(t, "bad_request", errCode(t, body))
}

func TestAuth(t *testing.T) {
	e := newEnv(t, httpapi.Options{})
	for _, auth := range []string{"", "Bearer wrong", "Basic " + key, "Bearer " + key + "x", "Bearer"} {
		resp, body := e.do(t, "GET", "/api/stats", "", auth, nil)
		assert.Equal(t, 401, resp.StatusCode, auth)
		assert.Equal(t, `Bearer realm="roomloop"`, resp.Header.Get("WWW-Authenticate"))
		assert.Equal(t, "unauthorized", errCode(t, body))
	}
	resp, _ := e.do(t, "GET", "/api/stats", "", "bearer "+key, nil)
	assert.Equal(t, 200, resp.StatusCode)
}

func TestDisabledWithoutKey(t *testing.T) {
	srv := api.New(&api.Options{})
	hs := httptest.NewServer(httpapi.New(srv, httpapi.Options{}))
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/api/stats")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, 404, resp.StatusCode)
	assert.Equal(t, "disabled", errCode(t, string(b)))
	assert.Contains(t, string(b), "no API key configured")
}

func TestErrors(t *testing.T) {
	e := newEnv(t, httpapi.Options{MaxBody: 200})
	auth := "Bearer " + key
	cases := []struct {
		name, method, path, ct, body string
		status                       int
		code                         string
	}{
		{"unknown endpoint", "POST", "/api/nope", "application/json", `{}`, 404, "not_found"},
		{"outside /api/", "POST", "/publish", "application/json", `{}`, 404, "not_found"},
		{"GET a POST endpoint", "GET", "/api/publish", "", ``, 405, "method_not_allowed"},
		{"POST a GET endpoint", "POST", "/api/rooms", "application/json", `{}`, 405, "method_not_allowed"},
		{"POST members", "POST", "/api/rooms/r/members", "application/json", `{}`, 405, "method_not_allowed"},
		{"no content type", "POST", "/api/publish", "", `{}`, 415, "unsupported_media_type"},
		{"text", "POST", "/api/publish", "text/plain", `{}`, 415, "unsupported_media_type"},
		{"too large", "POST", "/api/publish", "application/json", `{"room":"` + strings.Repeat("r", 300) + `"}`, 413, "too_large"},
		{"bad JSON", "POST", "/api/publish", "application/json", `{"room":`, 400, "bad_request"},
		{"two values", "POST", "/api/publish", "application/json", `{"room":"r","event":"e"} {}`, 400, "bad_request"},
		{"unknown field", "POST", "/api/publish", "application/json", `{"room":"r","event":"e","rooom":1}`, 400, "bad_request"},
		{"no event", "POST", "/api/publish", "application/json", `{"room":"r"}`, 400, "bad_request"},
		{"$ event", "POST", "/api/publish", "application/json", `{"room":"r","event":"$joined"}`, 400, "bad_request"},
		{"long event", "POST", "/api/publish", "application/json", `{"room":"r","event":"` + strings.Repeat("e", 65) + `"}`, 400, "bad_request"},
		{"control event", "POST", "/api/send", "application/json", `{"session":"s","event":"a\u0001"}`, 400, "bad_request"},
		{"no room", "POST", "/api/publish", "application/json", `{"event":"e"}`, 400, "bad_request"},
		{"long room", "POST", "/api/join", "application/json", `{"session":"s","room":"` + strings.Repeat("r", 129) + `"}`, 400, "bad_request"},
		{"no session", "POST", "/api/kick", "application/json", `{}`, 400, "bad_request"},
		{"bad members room", "GET", "/api/rooms/%01/members", "", ``, 400, "bad_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(t, c.method, c.path, c.ct, auth, []byte(c.body))
			assert.Equal(t, c.status, resp.StatusCode, body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			assert.Equal(t, c.code, errCode(t, body))
			if c.status == 405 {
				assert.NotEmpty(t, resp.Header.Get("Allow"))
			}
		})
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
