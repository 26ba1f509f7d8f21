package api_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

func TestHandlersAndMiddlewareOrder(t *testing.T) {
	ts := startServer(t, nil)
	var mu sync.Mutex
	var trace []string
	record := func(s string) { mu.Lock(); trace = append(trace, s); mu.Unlock() }
	mw := func(name string) api.Middleware {
		return func(next api.HandlerFunc) api.HandlerFunc {
			return func(c *api.Conn, f *api.Frame) error {
				record(name + ">")
				err := next(c, f)
				record("<" + name)
				return err
			}
		}
	}
	ts.Use(mw("outer"), mw("inner"))
	ts.Handle("echo", func(c *api.Conn, f *api.Frame) error {
		record("echo")
		return c.Send(api.Frame{Event: "echoed", Kind: f.Kind, Payload: f.Payload})
	})
	ts.Handle("refuse", func(c *api.Conn, f *api.Frame) error {
		return api.NewError(api.CodeForbidden, "not you")
	})
	ts.Handle("fail", func(c *api.Conn, f *api.Frame) error { return errors.New("db down") })

	a := dial(t, ts, nil)
	a.send(map[string]any{"event": "echo", "id": "e1", "payload": map[string]int{"x": 1}})
	m := a.expect("echoed")
	assert.JSONEq(t, `{"x":1}`, string(m.Payload))
	assert.Equal(t, "e1", a.expect("$ack").ID)
	mu.Lock()
	assert.Equal(t, []string{"outer>", "inner>", "echo", "<inner", "<outer"}, trace)
	mu.Unlock()

	a.send(map[string]any{"event": "refuse", "id": "r1"})
	e, p := a.expectError("forbidden")
	assert.Equal(t, "r1", e.ID)
	assert.Equal(t, "not you", p.Message)

	a.send(map[string]any{"event": "fail", "id": "f1"})
	_, p = a.expectError("internal")
	assert.NotContains(t, p.Message, "db down", "internal error text is not sent to clients")

	// No handler, no room, no to.
	a.send(map[string]any{"event": "nothing", "id": "n1"})
	a.expectError("bad_request")
}

func TestPanickingHandlerIsContained(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	ts.Handle("boom", func(c *api.Conn, f *api.Frame) error { panic("kaboom") })
	a := dial(t, ts, nil)
	b := dial(t, ts, nil)
	a.join("r")
	b.join("r")

	a.send(map[string]any{"event": "boom", "id": "b1"})
	e, _ := a.expectError("internal")
	assert.Equal(t, "b1", e.ID)

	// The server keeps serving the same client and others.
	a.send(map[string]any{"event": "chat", "room": "r", "payload": 1})
	assert.Equal(t, "chat", b.expect("chat").Event)
	a.ping()
	assert.True(t, strings.Contains(ts.logs.String(), "kaboom"), "the panic is logged")
}

func TestAuthorizeAndCanJoin(t *testing.T) {
	ts := startServer(t, &api.Options{
		Authorize: func(r *http.Request) (api.Identity, error) {
			switch r.URL.Query().Get("token") {
			case "good":
				return api.Identity{SessionID: "alice", Claims: map[string]any{"role": "user"},
					Rooms: []string{"general"}}, nil
			case "banned":
				return api.Identity{}, api.Forbidden("account suspended")
			default:
				return api.Identity{}, api.Unauthorized("missing or bad token")
			}
		},
		CanJoin: func(c *api.Conn, room string) error {
			if strings.HasPrefix(room, "admin") && c.Claims()["role"] != "admin" {
				return api.NewError(api.CodeForbidden, "admins only")
			}
			if room == "vault" {
				return errors.New("vault db at 10.0.0.7 unreachable") // not for clients
			}
			return nil
		},
	})
	base := ts.url
	ts.url = base + "?token=nope"
	assert.Equal(t, "missing or bad token", dialRefused(t, ts, nil, http.StatusUnauthorized))
	ts.url = base + "?token=banned"
	assert.Equal(t, "account suspended", dialRefused(t, ts, nil, http.StatusForbidden))
	assert.Zero(t, ts.Stats().Sessions)

	ts.url = base + "?token=good"
	a := dial(t, ts, nil)
	assert.Equal(t, "alice", a.id)
	j := a.expect("$joined")
	assert.Equal(t, "general", j.Room, "rooms granted by Authorize are joined at connect")

	a.send(map[string]any{"event": "$join", "room": "admin-ops", "id": "j1"})
	e, p := a.expectError("forbidden")
	assert.Equal(t, "j1", e.ID)
	assert.Equal(t, "admins only", p.Message, "an *api.Error's message reaches the client")
	a.send(map[string]any{"event": "$join", "room": "vault", "id": "j2"})
	_, p = a.expectError("forbidden")
	assert.Equal(t, "not allowed to join vault", p.Message, "any other error's text stays on the server")

	// The same session id cannot connect twice.
	dialRefused(t, ts, nil, http.StatusConflict)
}

func TestOriginPolicy(t *testing.T) {
	ts := startServer(t, &api.Options{AllowedOrigins: []string{"https://app.example.com"}})
	host := strings.TrimPrefix(ts.url, "ws://")
	host = strings.TrimSuffix(host, "/ws")

	h := http.Header{"Origin": {"https://app.example.com.evil.com"}}
	assert.Equal(t, "origin not allowed", dialRefused(t, ts, h, http.StatusForbidden))
	h = http.Header{"Origin": {"https://evil.example"}}
	dialRefused(t, ts, h, http.StatusForbidden)

	dial(t, ts, http.Header{"Origin": {"https://app.example.com"}})
	dial(t, ts, http.Header{"Origin": {"http://" + host}}) // same origin
	dial(t, ts, nil)                                       // no Origin: not a browser
	require.Equal(t, 3, ts.Stats().Sessions)
}
