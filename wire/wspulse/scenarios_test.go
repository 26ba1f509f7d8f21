package wspulse_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/cutproxy"
)

// The scenarios of an unchanged wspulse client-go against roomloop, one
// test each, in the order docs/compat.md lists them.

// Scenario 1: dialing ?room=r1&id=alice succeeds, and no frame arrives.
func TestWspulseDialSucceedsAndNoFramesArrive(t *testing.T) {
	srv := startPulse(t, nil)
	a := dialPulse(t, pulseURL(srv.addr, "room=r1&id=alice"), false)
	require.Equal(t, "alice", next(t, srv.connected, "OnConnect"))
	// The marker is the first thing the client reads: nothing came before.
	assert.Empty(t, a.roundTrip("marker"))
}

// Scenario 2: A's frame reaches B in r1 as the same compact JSON (and A,
// as wspulse broadcasts to the sender too); a client in r2 gets nothing.
func TestWspulseBroadcastReachesItsRoomOnly(t *testing.T) {
	srv := startPulse(t, nil)
	a := dialPulse(t, pulseURL(srv.addr, "room=r1&id=a"), false)
	b := dialPulse(t, pulseURL(srv.addr, "room=r1&id=b"), false)
	c := dialPulse(t, pulseURL(srv.addr, "room=r2&id=c"), false)
	for range 3 {
		next(t, srv.connected, "OnConnect")
	}
	a.send(`{"event":"msg", "payload": { "t" : 1 }}`)
	const want = `{"event":"msg","payload":{"t":1}}`
	assert.Equal(t, want, b.expect())
	assert.Equal(t, want, a.expect())
	assert.Empty(t, c.roundTrip("marker"), "r2 heard r1")
}

// Scenario 3: a frame's id is echoed to the room; malformed JSON is
// answered with "$error" and the connection stays open.
func TestWspulseIDEchoedAndMalformedJSONKeepsConnection(t *testing.T) {
	srv := startPulse(t, nil)
	a := dialPulse(t, pulseURL(srv.addr, "room=r1&id=a"), false)
	b := dialPulse(t, pulseURL(srv.addr, "room=r1&id=b"), false)
	next(t, srv.connected, "OnConnect")
	next(t, srv.connected, "OnConnect")

	a.send(`{"id":"m1","event":"msg","payload":"<b>"}`)
	assert.Equal(t, `{"id":"m1","event":"msg","payload":"\u003cb\u003e"}`, b.expect())
	assert.Equal(t, `{"id":"m1","event":"msg","payload":"\u003cb\u003e"}`, a.expect())

	for _, bad := range []string{`{"event":`, `[1,2]`, `null`, `{"id":7,"event":"x"}`, `{"event":"$join"}`} {
		a.send(bad)
		f := a.expect()
		require.True(t, strings.HasPrefix(f, `{"event":"$error","payload":{"code":"bad_request"`), "%q answered %s", bad, f)
		t.Logf("%q: %s", bad, f)
	}
	a.send(`{"event":"still"}`)
	assert.Equal(t, `{"event":"still"}`, b.expect())
	assert.Equal(t, `{"event":"still"}`, a.expect())
}

// Scenario 4: the server's pings get the client's pongs (its heartbeat
// needs them), and the client's pings get the server's pongs.
func TestWspulsePingsFromBothSidesAreAnswered(t *testing.T) {
	srv := startPulse(t, &api.Options{HeartbeatInterval: 20 * time.Millisecond, HeartbeatTimeout: wait})
	ws, _, err := websocket.DefaultDialer.Dial(pulseURL(srv.addr, "room=r1&id=a"), nil)
	require.NoError(t, err)
	defer ws.Close()
	pinged := make(chan string, 16)
	ws.SetPingHandler(func(data string) error {
		select {
		case pinged <- data:
		default:
		}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(wait))
	})
	ponged := make(chan string, 16)
	ws.SetPongHandler(func(data string) error { ponged <- data; return nil })
	require.NoError(t, ws.WriteControl(websocket.PingMessage, []byte("client"), time.Now().Add(wait)))
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	assert.Equal(t, "client", next(t, ponged, "pong"))
	next(t, pinged, "server ping")
	next(t, pinged, "second server ping: the first pong kept the connection")
	_ = ws.Close()
	<-readDone
}

// Scenario 5: the TCP connection is cut through a proxy and two frames
// are broadcast meanwhile; the client reconnects with the same URL and
// gets both, in order, with no new session (OnResume, not OnConnect).
func TestWspulseResumeAfterCutDeliversQueuedFramesInOrder(t *testing.T) {
	srv := startPulse(t, &api.Options{ResumeWindow: time.Minute})
	proxy, err := cutproxy.Start(srv.addr)
	require.NoError(t, err)
	defer proxy.Close()
	a := dialPulse(t, pulseURL(proxy.Addr(), "room=r1&id=alice"), true)
	require.Equal(t, "alice", next(t, srv.connected, "OnConnect"))
	a.send(`{"event":"before"}`)
	require.Equal(t, `{"event":"before"}`, a.expect())

	proxy.Refuse(true) // the client's re-dials fail until the frames are queued
	require.Equal(t, 1, proxy.Cut())
	require.Equal(t, 1006, a.expectClose())
	require.Equal(t, "alice", next(t, srv.suspended, "OnSuspend"))
	for _, ev := range []string{"one", "two"} {
		_, err := srv.Broadcast("r1", frame.Frame{Event: ev, Kind: frame.JSONPayload, Payload: []byte(`{"n":"` + ev + `"}`)})
		require.NoError(t, err)
	}
	proxy.Refuse(false)
	a.expectRedial()
	require.Equal(t, "alice", next(t, srv.resumed, "OnResume"))

	// At least once: "before" may come again, if its pong was lost with
	// the link; then the two frames, in order.
	got := a.expect()
	if got == `{"event":"before"}` {
		got = a.expect()
	}
	assert.Equal(t, `{"event":"one","payload":{"n":"one"}}`, got)
	assert.Equal(t, `{"event":"two","payload":{"n":"two"}}`, a.expect())
	assert.Empty(t, a.roundTrip("marker"))
	select {
	case id := <-srv.connected:
		t.Fatalf("OnConnect for %s: the resume started a new session", id)
	default:
	}
}

// Scenario 6: after the resume window, the client comes back as a new
// session, and nothing is replayed.
func TestWspulseAfterWindowComesBackAsNewSession(t *testing.T) {
	srv := startPulse(t, &api.Options{ResumeWindow: 100 * time.Millisecond})
	proxy, err := cutproxy.Start(srv.addr)
	require.NoError(t, err)
	defer proxy.Close()
	a := dialPulse(t, pulseURL(proxy.Addr(), "room=r1&id=alice"), true)
	require.Equal(t, "alice", next(t, srv.connected, "OnConnect"))

	proxy.Refuse(true)
	proxy.Cut()
	require.Equal(t, "alice", next(t, srv.suspended, "OnSuspend"))
	_, err = srv.Broadcast("r1", frame.Frame{Event: "lost"}) // to the suspended session
	require.NoError(t, err)
	require.Equal(t, "alice", next(t, srv.disconnected, "OnDisconnect at the window's end"))
	proxy.Refuse(false)
	a.expectRedial()
	require.Equal(t, "alice", next(t, srv.connected, "OnConnect of a new session"))
	assert.Empty(t, a.roundTrip("marker"), "a new session replays nothing")
}

// Scenario 7a: Kick closes with 1000; the client reconnects as a new
// session.
func TestWspulseKickClosesNormallyAndReconnectsAsNewSession(t *testing.T) {
	srv := startPulse(t, nil)
	a := dialPulse(t, pulseURL(srv.addr, "room=r1&id=alice"), true)
	require.Equal(t, "alice", next(t, srv.connected, "OnConnect"))
	require.NoError(t, srv.Kick("alice", "bye"))
	assert.Equal(t, 1000, a.expectClose())
	a.expectRedial()
	require.Equal(t, "alice", next(t, srv.connected, "OnConnect of a new session"))
}

// Scenario 7b: a second connection with the same id closes the first
// with 1000.
func TestWspulseDuplicateIDClosesOldConnectionNormally(t *testing.T) {
	srv := startPulse(t, nil)
	first := dialPulse(t, pulseURL(srv.addr, "room=r1&id=alice"), false)
	next(t, srv.connected, "OnConnect")
	second := dialPulse(t, pulseURL(srv.addr, "room=r1&id=alice"), false)
	assert.Equal(t, 1000, first.expectClose())
	second.send(`{"event":"hi"}`)
	assert.Equal(t, `{"event":"hi"}`, second.expect())
}

// Scenario 7c: an oversize frame closes with 1009.
func TestWspulseOversizeFrameCloses1009(t *testing.T) {
	srv := startPulse(t, &api.Options{MaxMessageSize: 512})
	a := dialPulse(t, pulseURL(srv.addr, "room=r1&id=a"), false)
	a.send(`{"event":"big","payload":"` + strings.Repeat("x", 600) + `"}`)
	assert.Equal(t, 1009, a.expectClose())
}

// Scenario 7d: a rejected connect gets 401 (Authorize, or a request the
// wire refuses).
func TestWspulseRejectedConnectGets401(t *testing.T) {
	srv := startPulse(t, &api.Options{Authorize: func(r *http.Request) (api.Identity, error) {
		if r.URL.Query().Get("token") != "good" {
			return api.Identity{}, &api.Refusal{Status: http.StatusUnauthorized, Reason: "bad token"}
		}
		return api.Identity{User: "u"}, nil
	}})
	for _, q := range []string{"room=r1&id=a&token=bad", "id=a&token=good"} {
		_, resp, err := websocket.DefaultDialer.Dial(pulseURL(srv.addr, q), nil)
		require.Error(t, err, q)
		require.NotNil(t, resp, q)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, q)
		resp.Body.Close()
	}
	dialPulse(t, pulseURL(srv.addr, "room=r1&id=a&token=good"), false)
}
