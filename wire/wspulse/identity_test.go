package wspulse_test

import (
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// With Authorize, a session id is only taken over by its own user:
// another user's connect with the same id is refused with 409, and the
// session goes on; the same user takes it over (the old connection gets
// 1000).
func TestWspulseResumeByIDKeyedOnAuthenticatedUser(t *testing.T) {
	srv := startPulse(t, &api.Options{Authorize: func(r *http.Request) (api.Identity, error) {
		return api.Identity{User: r.URL.Query().Get("user")}, nil
	}})
	alice := dialPulse(t, pulseURL(srv.addr, "room=r1&id=s1&user=alice"), false)
	require.Equal(t, "s1", next(t, srv.connected, "OnConnect"))

	_, resp, err := websocket.DefaultDialer.Dial(pulseURL(srv.addr, "room=r1&id=s1&user=mallory"), nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	resp.Body.Close()
	assert.Empty(t, alice.roundTrip("marker"), "alice's session is untouched")

	again := dialPulse(t, pulseURL(srv.addr, "room=r1&id=s1&user=alice"), false)
	assert.Equal(t, 1000, alice.expectClose())
	require.Equal(t, "s1", next(t, srv.resumed, "OnResume"))
	// At least once: the first marker, unconfirmed when the connection
	// was taken over, may come again; nothing else does.
	for _, f := range again.roundTrip("marker2") {
		assert.Equal(t, `{"event":"marker"}`, f)
	}
}

// A wspulse id cannot take a session of roomloop's own protocol (nor the
// reverse): 409.
func TestWspulseIDOfAnotherWireRefused(t *testing.T) {
	srv := startPulse(t, &api.Options{Authorize: func(r *http.Request) (api.Identity, error) {
		return api.Identity{SessionID: r.URL.Query().Get("sid")}, nil
	}})
	rl, _, err := websocket.DefaultDialer.Dial("ws://"+srv.addr+"/ws?sid=shared", nil)
	require.NoError(t, err)
	defer rl.Close()
	require.Equal(t, "shared", next(t, srv.connected, "OnConnect"))
	_, resp, err := websocket.DefaultDialer.Dial(pulseURL(srv.addr, "room=r1&sid=shared"), nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	resp.Body.Close()
}
