package wspulse_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wstest"
)

// Hostile input on the wspulse wire: each gets a clear answer, and a
// bystander in the same room notices nothing.

// A connect request with a bad room or id is refused before the upgrade.
func TestWspulseHostileConnectRequestsRefused(t *testing.T) {
	srv := startPulse(t, nil)
	for _, tc := range []struct {
		query  url.Values
		status int
	}{
		{url.Values{"id": {"a"}}, http.StatusUnauthorized},                                  // no room
		{url.Values{"room": {"\xff\xfe"}}, http.StatusBadRequest},                           // not UTF-8
		{url.Values{"room": {"a\x00b"}}, http.StatusBadRequest},                             // control character
		{url.Values{"room": {strings.Repeat("r", 129)}}, http.StatusBadRequest},             // too long
		{url.Values{"room": {"r"}, "id": {strings.Repeat("i", 65)}}, http.StatusBadRequest}, // id too long
		{url.Values{"room": {"r"}, "id": {"\xff"}}, http.StatusBadRequest},                  // id not UTF-8
	} {
		ws, status, reason := wstest.DialQuery(t, "ws://"+srv.addr+"/wspulse", tc.query, nil)
		assert.Nil(t, ws, "%v", tc.query)
		assert.Equal(t, tc.status, status, "%v: %s", tc.query, reason)
		assert.NotEmpty(t, reason, "%v", tc.query)
	}
}

// Malformed frames, of either message type, get "$error" and cost the
// room nothing; an invalid UTF-8 text message closes with 1007.
func TestWspulseHostileFramesAnsweredAndBystanderUnaffected(t *testing.T) {
	srv := startPulse(t, nil)
	bad := dialPulse(t, pulseURL(srv.addr, "room=r1&id=bad"), false)
	by := dialPulse(t, pulseURL(srv.addr, "room=r1&id=by"), false)
	next(t, srv.connected, "OnConnect")
	next(t, srv.connected, "OnConnect")
	for _, msg := range []string{
		``, `{}`, `{"event":""}`, `{"event":"` + strings.Repeat("e", 65) + `"}`,
		`{"event":"a\u0000b"}`, `{"event":"e","payload":}`, `{"event":["x"]}`, `"just a string"`,
	} {
		bad.send(msg)
		f := bad.expect()
		assert.True(t, strings.HasPrefix(f, `{"event":"$error","payload":{"code":"bad_request"`), "%q answered %s", msg, f)
	}
	bad.mu.Lock()
	require.NoError(t, bad.ws.WriteMessage(websocket.BinaryMessage, []byte("\x00\x00\x00\x05\xff\xff")))
	bad.mu.Unlock()
	assert.Contains(t, bad.expect(), `"code":"bad_request"`)

	assert.Empty(t, by.roundTrip("marker"), "the bystander heard the garbage")

	bad.mu.Lock()
	require.NoError(t, bad.ws.WriteMessage(websocket.TextMessage, []byte("{\"event\":\"\xff\"}")))
	bad.mu.Unlock()
	assert.Equal(t, 1007, bad.expectClose())
	assert.Empty(t, by.roundTrip("marker2"))
}

// A flood meets the publish rate limit: the flooder is refused and then
// closed with 1008; a bystander hears at most the allowed burst.
func TestWspulseHostileFloodRateLimitedBystanderUnaffected(t *testing.T) {
	srv := startPulse(t, &api.Options{RateLimits: api.DefaultRateLimits()})
	flood := dialPulse(t, pulseURL(srv.addr, "room=r1&id=flood"), false)
	by := dialPulse(t, pulseURL(srv.addr, "room=r1&id=by"), false)
	next(t, srv.connected, "OnConnect")
	next(t, srv.connected, "OnConnect")
	flood.mu.Lock()
	for range 2000 {
		if flood.ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"spam"}`)) != nil {
			break // closed by the server
		}
	}
	flood.mu.Unlock()
	assert.Equal(t, 1008, flood.expectClose())
	heard := by.roundTrip("marker")
	assert.LessOrEqual(t, len(heard), 2*api.DefaultRateLimits().Publish.Burst)
}
