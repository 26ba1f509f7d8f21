package api_test

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// credentials is a test credential store: a token names an Identity.
type credentials struct {
	mu     sync.Mutex
	tokens map[string]api.Identity
}

func (cr *credentials) add(tok, user string, expires time.Time, claims map[string]any) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.tokens == nil {
		cr.tokens = map[string]api.Identity{}
	}
	cr.tokens[tok] = api.Identity{User: user, Expires: expires, Claims: claims}
}

func (cr *credentials) check(tok string) (api.Identity, error) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	id, ok := cr.tokens[tok]
	if !ok {
		return api.Identity{}, api.Unauthorized("unknown token")
	}
	return id, nil
}

// startExpiringServer runs a server whose Authorize reads the "token"
// query parameter and whose Refresh checks $refresh tokens, both in cr.
func startExpiringServer(t *testing.T, cr *credentials) *testServer {
	return startServer(t, &api.Options{
		DisablePresence: true,
		Authorize:       func(r *http.Request) (api.Identity, error) { return cr.check(r.URL.Query().Get("token")) },
		Refresh: func(c *api.Conn, tok string) (api.Identity, error) {
			switch tok {
			case "panic":
				panic("refresh exploded")
			case "custom":
				return api.Identity{}, api.NewError("token_revoked", "revoked by the backend")
			case "opaque":
				return api.Identity{}, errors.New("database down")
			}
			return cr.check(tok)
		},
	})
}

// expiringSession connects with tok and returns the session and its
// $welcome.
func expiringSession(t *testing.T, ts *testServer, tok string) (*session, frame.WelcomePayload) {
	t.Helper()
	ws, w, _ := connect(t, ts.Addr().String(), url.Values{"token": {tok}})
	return &session{t: t, ws: ws, id: w.Session, token: w.Resume}, w
}

// TestCredentialExpiryClosesWith4004ThenResumes: when the credential's
// expiry passes, the connection is closed with 4004 and the session
// waits; a fresh credential resumes it exactly, frames sent meanwhile
// included; a bystander without expiry is untouched.
func TestCredentialExpiryClosesWith4004ThenResumes(t *testing.T) {
	cr := &credentials{}
	cr.add("short", "ann", time.Now().Add(600*time.Millisecond), nil)
	cr.add("fresh", "ann", time.Now().Add(time.Hour), nil)
	cr.add("bob", "bob", time.Time{}, nil)
	cr.add("eve", "eve", time.Now().Add(time.Hour), nil)
	ts := startExpiringServer(t, cr)
	addr := ts.Addr().String()

	ann, w := expiringSession(t, ts, "short")
	assert.Positive(t, w.ExpiresInMS)
	assert.LessOrEqual(t, w.ExpiresInMS, int64(600))
	ann.join("r")
	bob, wb := expiringSession(t, ts, "bob")
	assert.Zero(t, wb.ExpiresInMS, "no expiry, none announced")
	bob.join("r")

	// Read until the server closes: 4004.
	require.NoError(t, ann.ws.SetReadDeadline(time.Now().Add(wait)))
	_, _, err := ann.ws.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 4004, ce.Code)
	assert.Equal(t, "token expired", ce.Text)

	// The session waits: bob's frame is kept for it.
	bob.send(map[string]any{"event": "chat", "room": "r", "payload": "while away", "id": "b1"})
	bob.expect("$ack")
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, 10*time.Millisecond)

	// Someone else's credential cannot take it.
	_, we, _ := connect(t, addr, url.Values{"token": {"eve"}, "resume": {ann.token}, "last_seq": {strconv.FormatUint(ann.lastSeq, 10)}})
	assert.False(t, we.Resumed)
	assert.Equal(t, "unknown", we.Reason)

	// The same user with a fresh credential resumes, with the new expiry.
	ws, wr, _ := connect(t, addr, url.Values{"token": {"fresh"}, "resume": {ann.token}, "last_seq": {strconv.FormatUint(ann.lastSeq, 10)}})
	ann.ws = ws
	require.True(t, wr.Resumed)
	assert.Greater(t, wr.ExpiresInMS, int64(59*60*1000))
	m := ann.expect("chat")
	assert.JSONEq(t, `"while away"`, string(m.Payload))
	ann.send(map[string]any{"event": "$ping", "id": "p"})
	ann.expect("$pong")

	// bob saw nothing but ann's frames: no leave, no close.
	bob.send(map[string]any{"event": "$ping", "id": "p"})
	bob.expect("$pong")
}

// TestRefreshMovesExpiry: a $refresh with a later credential is answered
// $refreshed with the time left, takes its claims, and the old expiry
// passes without a close.
func TestRefreshMovesExpiry(t *testing.T) {
	cr := &credentials{}
	soon := time.Now().Add(800 * time.Millisecond)
	cr.add("short", "ann", soon, map[string]any{"v": "old"})
	cr.add("later", "ann", time.Now().Add(time.Hour), map[string]any{"v": "new"})
	ts := startExpiringServer(t, cr)
	ann, _ := expiringSession(t, ts, "short")

	ann.send(map[string]any{"event": "$refresh", "id": "r1", "payload": map[string]any{"token": "later"}})
	m := ann.expect("$refreshed")
	assert.Equal(t, "r1", m.ID)
	var p frame.RefreshedPayload
	m.payload(t, &p)
	assert.Greater(t, p.ExpiresInMS, int64(59*60*1000))
	c, ok := ts.Conn(ann.id)
	require.True(t, ok)
	assert.Equal(t, "new", c.Claims()["v"])

	// The condition here is the old expiry passing: wait for that moment,
	// then the connection must still work.
	<-time.After(time.Until(soon.Add(300 * time.Millisecond)))
	ann.send(map[string]any{"event": "$ping", "id": "p"})
	ann.expect("$pong")
	assert.True(t, c.Connected())
}

// TestRefreshRefusals: every refused $refresh gets its $error, leaves the
// session's expiry and claims as they were, and costs no one else.
func TestRefreshRefusals(t *testing.T) {
	cr := &credentials{}
	cr.add("ann", "ann", time.Now().Add(time.Hour), map[string]any{"v": "ann"})
	cr.add("earlier", "ann", time.Now().Add(time.Minute), map[string]any{"v": "earlier"})
	cr.add("bob", "bob", time.Now().Add(2*time.Hour), nil)
	ts := startExpiringServer(t, cr)
	ann, _ := expiringSession(t, ts, "ann")
	ann.join("r")
	bob, _ := expiringSession(t, ts, "bob")
	bob.join("r")

	refuse := func(payload any, code, message string) {
		t.Helper()
		ann.send(map[string]any{"event": "$refresh", "id": "r", "payload": payload})
		m := ann.expect("$error")
		assert.Equal(t, "r", m.ID)
		var e frame.ErrorPayload
		m.payload(t, &e)
		assert.Equal(t, code, e.Code)
		if message != "" {
			assert.Equal(t, message, e.Message)
		}
	}
	refuse(nil, api.CodeBadRequest, `$refresh needs a payload {"token":"…"}`)
	refuse(map[string]any{"token": ""}, api.CodeBadRequest, "")
	refuse("a string", api.CodeBadRequest, "")
	refuse(map[string]any{"token": "nope"}, api.CodeUnauthorized, "unknown token")
	refuse(map[string]any{"token": "bob"}, api.CodeForbidden, "the credential is for another user or session")
	refuse(map[string]any{"token": "opaque"}, api.CodeUnauthorized, "refresh refused")
	refuse(map[string]any{"token": "custom"}, "token_revoked", "revoked by the backend")
	refuse(map[string]any{"token": "panic"}, api.CodeInternal, "")

	// An earlier credential is accepted but does not bring expiry forward.
	ann.send(map[string]any{"event": "$refresh", "id": "e", "payload": map[string]any{"token": "earlier"}})
	m := ann.expect("$refreshed")
	var p frame.RefreshedPayload
	m.payload(t, &p)
	assert.Greater(t, p.ExpiresInMS, int64(59*60*1000))
	c, ok := ts.Conn(ann.id)
	require.True(t, ok)
	assert.Equal(t, "ann", c.Claims()["v"])

	bob.send(map[string]any{"event": "chat", "room": "r", "payload": 1})
	ann.expect("chat")
	assert.Contains(t, ts.logs.String(), "refresh exploded", "the panic is logged")
}

// TestRefreshWithoutHook: a server without Options.Refresh answers
// $refresh with bad_request.
func TestRefreshWithoutHook(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts, nil)
	c.send(map[string]any{"event": "$refresh", "id": "r", "payload": map[string]any{"token": "t"}})
	_, e := c.expectError(api.CodeBadRequest)
	assert.Equal(t, "this server does not take $refresh", e.Message)
}
