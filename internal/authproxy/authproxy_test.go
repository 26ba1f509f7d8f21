package authproxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wstest"
)

// backend is a fake authorization backend: it records the Requests it
// gets and answers with answer.
type backend struct {
	mu     sync.Mutex
	got    []Request
	answer func(w http.ResponseWriter, r *http.Request, req Request)
	srv    *httptest.Server
}

func newBackend(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, req Request)) *backend {
	t.Helper()
	b := &backend{answer: answer}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req Request
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.got = append(b.got, req)
		b.mu.Unlock()
		b.answer(w, r, req)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Request(nil), b.got...)
}

// byToken answers from the request's token: "user:<name>" accepts name
// with rooms "lobby" and allowed_rooms ["game:*", "lobby"]; "free:<name>"
// accepts name without allowed_rooms; otherwise the token is the answer's
// status and the Authorization header its body.
func byToken(w http.ResponseWriter, _ *http.Request, req Request) {
	tok := req.Token
	if tok == "" {
		tok = strings.TrimPrefix(req.Headers["Authorization"], "Bearer ")
	}
	if name, ok := strings.CutPrefix(tok, "user:"); ok {
		_ = json.NewEncoder(w).Encode(map[string]any{"user": name, "rooms": []string{"lobby"}, "allowed_rooms": []string{"game:*", "lobby"}})
		return
	}
	if name, ok := strings.CutPrefix(tok, "short:"); ok { // expires in 1 s
		_ = json.NewEncoder(w).Encode(map[string]any{"user": name, "expires_in": 1})
		return
	}
	if name, ok := strings.CutPrefix(tok, "long:"); ok { // expires in an hour
		_ = json.NewEncoder(w).Encode(map[string]any{"user": name, "expires_in": 3600, "allowed_rooms": []string{"x"}})
		return
	}
	if name, ok := strings.CutPrefix(tok, "free:"); ok {
		_ = json.NewEncoder(w).Encode(map[string]any{"user": name})
		return
	}
	switch tok {
	case "401":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "session expired\nsecond line")
	case "403":
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "  banned \x1b[31m"+strings.Repeat("x", 500))
	case "403-empty":
		w.WriteHeader(http.StatusForbidden)
	case "500":
		http.Error(w, "boom", http.StatusInternalServerError)
	case "302":
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusFound)
	case "badjson":
		_, _ = io.WriteString(w, `{"user": "ada", `)
	case "nouser":
		_, _ = io.WriteString(w, `{"rooms": ["lobby"]}`)
	case "badrooms":
		_, _ = io.WriteString(w, `{"user": "ada", "rooms": "lobby"}`)
	case "huge":
		_, _ = io.WriteString(w, `{"user": "ada", "pad": "`+strings.Repeat("p", MaxBodyBytes)+`"}`)
	default:
		http.Error(w, "no such token", http.StatusBadRequest)
	}
}

func serve(t *testing.T, p *Proxy, authTimeout time.Duration) string {
	t.Helper()
	srv := api.New(&api.Options{Authorize: p.Authorize, CanJoin: p.CanJoin, Refresh: p.Refresh, AuthTimeout: authTimeout})
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
	})
	return "ws://" + srv.Addr().String() + "/ws"
}

func newProxy(t *testing.T, b *backend, timeout time.Duration) *Proxy {
	t.Helper()
	p, err := New(Config{URL: b.srv.URL + "/auth", Timeout: timeout})
	require.NoError(t, err)
	return p
}

// The shared client helpers, under this package's names.
var (
	dial      = wstest.DialQuery
	next      = wstest.Next
	welcomeOf = wstest.WelcomeOf
	send      = wstest.Send
)

// TestAccept: the backend's user is accepted, its rooms joined at connect,
// its allowed_rooms limit $join; the backend is told the token, the
// forwarded headers and the query less resume, last_seq and token.
func TestAccept(t *testing.T) {
	b := newBackend(t, byToken)
	wsURL := serve(t, newProxy(t, b, 0), 0)

	origin := "http://" + strings.TrimSuffix(strings.TrimPrefix(wsURL, "ws://"), "/ws") // same-origin
	h := http.Header{
		"Cookie":          {"sid=abc"},
		"Origin":          {origin},
		"User-Agent":      {"test-agent"},
		"X-Forwarded-For": {"10.0.0.1"},
		"X-Other":         {"not forwarded"},
	}
	ws, status, body := dial(t, wsURL, url.Values{"token": {"user:grace"}, "room": {"r1"}}, h)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	welcomeOf(t, ws)
	assert.Equal(t, "lobby", next(t, ws, "$joined").Room, "rooms are joined at connect")

	send(t, ws, map[string]any{"event": "$join", "room": "game:42", "id": "1"})
	assert.Equal(t, "game:42", next(t, ws, "$joined").Room)
	send(t, ws, map[string]any{"event": "$join", "room": "private", "id": "2"})
	e := next(t, ws, "$error")
	assert.Equal(t, "2", e.ID)
	var p struct{ Code, Message string }
	require.NoError(t, json.Unmarshal(e.Payload, &p))
	assert.Equal(t, api.CodeForbidden, p.Code)
	assert.Contains(t, p.Message, "private")

	reqs := b.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "GET", r.Method)
	assert.Equal(t, "/ws", r.Path)
	assert.Equal(t, map[string][]string{"room": {"r1"}}, r.Query)
	assert.Equal(t, "user:grace", r.Token)
	assert.Equal(t, "sid=abc", r.Headers["Cookie"])
	assert.Equal(t, origin, r.Headers["Origin"])
	assert.Equal(t, "test-agent", r.Headers["User-Agent"])
	assert.Equal(t, "10.0.0.1", r.Headers["X-Forwarded-For"])
	assert.NotContains(t, r.Headers, "X-Other")
	assert.NotContains(t, r.Headers, "Authorization")
	assert.True(t, strings.HasPrefix(r.RemoteAddr, "127.0.0.1:"), r.RemoteAddr)

	// The Authorization header instead; no allowed_rooms: any room.
	ws2, status, body := dial(t, wsURL, nil, http.Header{"Authorization": {"Bearer free:ada"}})
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	welcomeOf(t, ws2)
	send(t, ws2, map[string]any{"event": "$join", "room": "private", "id": "1"})
	assert.Equal(t, "private", next(t, ws2, "$joined").Room)
	reqs = b.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "Bearer free:ada", reqs[1].Headers["Authorization"])
	assert.Empty(t, reqs[1].Token)
}

// TestRefusals: 401 and 403 are passed on with the backend's reason made
// one bounded line; any other failure is 503; a connected bystander is
// unaffected.
func TestRefusals(t *testing.T) {
	b := newBackend(t, byToken)
	wsURL := serve(t, newProxy(t, b, 0), 0)

	bystander, status, body := dial(t, wsURL, url.Values{"token": {"free:bob"}}, nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	welcomeOf(t, bystander)

	for _, tc := range []struct {
		token  string
		status int
		reason string
	}{
		{"401", http.StatusUnauthorized, "session expired"},
		{"403", http.StatusForbidden, "banned [31m" + strings.Repeat("x", MaxReasonBytes-len("banned [31m"))},
		{"403-empty", http.StatusForbidden, "forbidden"},
		{"500", http.StatusServiceUnavailable, ReasonUnavailable},
		{"302", http.StatusServiceUnavailable, ReasonUnavailable},
		{"badjson", http.StatusServiceUnavailable, ReasonUnavailable},
		{"nouser", http.StatusServiceUnavailable, ReasonUnavailable},
		{"badrooms", http.StatusServiceUnavailable, ReasonUnavailable},
		{"huge", http.StatusServiceUnavailable, ReasonUnavailable},
		{"other", http.StatusServiceUnavailable, ReasonUnavailable},
	} {
		ws, status, body := dial(t, wsURL, url.Values{"token": {tc.token}}, nil)
		assert.Nil(t, ws, tc.token)
		assert.Equal(t, tc.status, status, tc.token)
		assert.Equal(t, tc.reason, body, tc.token)
	}

	send(t, bystander, map[string]any{"event": "$join", "room": "after", "id": "1"})
	assert.Equal(t, "after", next(t, bystander, "$joined").Room)
}

// TestBackendUnreachable: a connection error is 503.
func TestBackendUnreachable(t *testing.T) {
	b := newBackend(t, byToken)
	p := newProxy(t, b, 0)
	b.srv.Close()
	wsURL := serve(t, p, 0)
	_, status, body := dial(t, wsURL, url.Values{"token": {"free:ada"}}, nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, ReasonUnavailable, body)
}

// TestTimeout: a backend that does not answer within the timeout gives
// 503, and its call is cancelled.
func TestTimeout(t *testing.T) {
	cancelled := make(chan struct{}, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ Request) {
		<-r.Context().Done()
		cancelled <- struct{}{}
	})
	wsURL := serve(t, newProxy(t, b, 100*time.Millisecond), 30*time.Second)
	_, status, body := dial(t, wsURL, url.Values{"token": {"free:ada"}}, nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, ReasonUnavailable, body)
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend call was not cancelled")
	}
}

// TestClientGoneCancels: the upgrade request's context ending (its client
// went away) cancels the backend call at once.
func TestClientGoneCancels(t *testing.T) {
	entered, cancelled := make(chan struct{}), make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request, _ Request) {
		close(entered)
		<-r.Context().Done()
		close(cancelled)
	})
	p := newProxy(t, b, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodGet, "/ws?token=free:ada", nil).WithContext(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := p.Authorize(r)
		done <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend was not called")
	}
	cancel()
	select {
	case err := <-done:
		var ref *api.Refusal
		require.ErrorAs(t, err, &ref)
		assert.Equal(t, http.StatusServiceUnavailable, ref.Status)
	case <-time.After(10 * time.Second):
		t.Fatal("Authorize did not return")
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend call was not cancelled")
	}
}

// TestResume: a resume by the same user resumes the session (the backend
// is asked again, without the resume token); another user's gets a fresh
// session.
func TestResume(t *testing.T) {
	b := newBackend(t, byToken)
	wsURL := serve(t, newProxy(t, b, 0), 0)

	ws, status, body := dial(t, wsURL, url.Values{"token": {"free:ada"}}, nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	first := welcomeOf(t, ws)
	require.NotEmpty(t, first.Resume)

	q := url.Values{"token": {"free:eve"}, "resume": {first.Resume}, "last_seq": {"0"}}
	other, status, body := dial(t, wsURL, q, nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	w := welcomeOf(t, other)
	assert.False(t, w.Resumed)
	assert.NotEqual(t, first.Session, w.Session)

	q.Set("token", "free:ada")
	same, status, body := dial(t, wsURL, q, nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	w = welcomeOf(t, same)
	assert.True(t, w.Resumed)
	assert.Equal(t, first.Session, w.Session)

	reqs := b.requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.Empty(t, r.Query, "resume and last_seq are not sent")
	}
}

func TestNew(t *testing.T) {
	for _, u := range []string{"", "ftp://x/", "/relative", "http://"} {
		_, err := New(Config{URL: u})
		assert.Error(t, err, u)
	}
	_, err := New(Config{URL: "https://user:pw@auth.example/check", Timeout: -1})
	assert.Error(t, err)
	_, err = New(Config{URL: "https://user:hunter2@auth.example:port/check"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	_, err = New(Config{URL: "ftp://user:hunter2@auth.example/check"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestReasonOf(t *testing.T) {
	assert.Equal(t, "def", reasonOf(nil, "def"))
	assert.Equal(t, "a b", reasonOf([]byte(" a\tb \r\nc"), "def"))
	assert.Equal(t, "?x", reasonOf([]byte("\xffx"), "def"))
	long := strings.Repeat("é", MaxReasonBytes) // 2 bytes each
	got := reasonOf([]byte(long), "def")
	assert.LessOrEqual(t, len(got), MaxReasonBytes)
	assert.True(t, strings.HasPrefix(long, got))
}

// TestExpiryAndRefresh: "expires_in" becomes the session's expiry, told in
// $welcome; a $refresh is asked of the backend (refresh, session, token)
// and moves it; a refused one passes the backend's reason on; a backend
// failure is $error internal; unrefreshed, the connection closes with
// 4004 when the credential expires.
func TestExpiryAndRefresh(t *testing.T) {
	b := newBackend(t, byToken)
	wsURL := serve(t, newProxy(t, b, time.Second), 0)

	ws, status, body := dial(t, wsURL, url.Values{"token": {"short:ada"}}, nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	w := welcomeOf(t, ws)
	assert.Positive(t, w.ExpiresInMS)
	assert.LessOrEqual(t, w.ExpiresInMS, int64(1000))

	refresh := func(id, tok string) wstest.Frame { return wstest.Refresh(t, ws, id, tok) }
	f := refresh("r1", "long:ada")
	require.Equal(t, "$refreshed", f.Event, "%s", f.Payload)
	var p struct {
		ExpiresInMS int64 `json:"expires_in_ms"`
	}
	require.NoError(t, json.Unmarshal(f.Payload, &p))
	assert.Greater(t, p.ExpiresInMS, int64(3500*1000))
	last := b.requests()[len(b.requests())-1]
	assert.True(t, last.Refresh)
	assert.Equal(t, w.Session, last.Session)
	assert.Equal(t, "long:ada", last.Token)

	for _, tc := range []struct{ tok, code, msg string }{
		{"401", api.CodeUnauthorized, "session expired"},
		{"long:eve", api.CodeForbidden, ""},
		{"500", api.CodeInternal, ReasonUnavailable},
	} {
		f := refresh("x", tc.tok)
		require.Equal(t, "$error", f.Event, tc.tok)
		var e struct{ Code, Message string }
		require.NoError(t, json.Unmarshal(f.Payload, &e))
		assert.Equal(t, tc.code, e.Code, tc.tok)
		if tc.msg != "" {
			assert.Equal(t, tc.msg, e.Message, tc.tok)
		}
	}

	// Unrefreshed, a 1 s credential ends the connection with 4004.
	short, status, body := dial(t, wsURL, url.Values{"token": {"short:bo"}}, nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	welcomeOf(t, short)
	assert.Equal(t, 4004, wstest.CloseCode(t, short, 10*time.Second))
}
