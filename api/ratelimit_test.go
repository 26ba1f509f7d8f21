package api_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// exactly allows n events and (for the length of a test) no more.
func exactly(n int) api.Rate { return api.Rate{PerSecond: 1e-6, Burst: n} }

// limited is NoRateLimits() with the given changes.
func limited(change func(*api.RateLimits)) api.RateLimits {
	rl := api.NoRateLimits()
	change(&rl)
	return rl
}

func TestPublishRateLimited(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true,
		RateLimits: limited(func(rl *api.RateLimits) { rl.Publish = exactly(3) })})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.join("r")
	b.join("r")
	for i := range 3 {
		a.send(map[string]any{"event": "chat", "room": "r", "id": fmt.Sprint(i)})
		assert.Equal(t, fmt.Sprint(i), a.expect("$ack").ID)
	}
	a.send(map[string]any{"event": "chat", "room": "r", "id": "over"})
	e, p := a.expectError("rate_limited")
	assert.Equal(t, "over", e.ID)
	assert.Equal(t, "r", e.Room)
	assert.NotEmpty(t, p.Message)

	for range 3 {
		assert.Equal(t, "chat", b.expect("chat").Event)
	}
	b.ping() // nothing of the refused frame reached b
	a.ping() // and a's connection is still open

	// Joins and $ping are not publishes.
	a.join("s")
}

func TestJoinAndDirectRateLimited(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true,
		RateLimits: limited(func(rl *api.RateLimits) { rl.Join, rl.Direct = exactly(2), exactly(1) })})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.join("one")
	a.join("two")
	a.send(map[string]any{"event": "$join", "room": "three", "id": "j3"})
	e, _ := a.expectError("rate_limited")
	assert.Equal(t, "j3", e.ID)
	sa, ok := ts.Conn(a.id)
	require.True(t, ok)
	assert.Equal(t, []string{"one", "two"}, sa.Rooms())

	a.send(map[string]any{"event": "dm", "to": b.id, "id": "d1"})
	a.expect("$ack")
	a.send(map[string]any{"event": "dm", "to": b.id, "id": "d2"})
	e, _ = a.expectError("rate_limited")
	assert.Equal(t, "d2", e.ID)
	assert.Equal(t, "dm", b.expect("dm").Event)
	b.ping()

	// Server-side calls are not limited.
	require.NoError(t, ts.Join(a.id, "three"))
	assert.Equal(t, "three", a.expect("$joined").Room)
}

// TestFanoutBytesRateLimited: a room frame costs its size for each other
// member: the same frames pass into a small room and are refused in a
// large one.
func TestFanoutBytesRateLimited(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true,
		RateLimits: limited(func(rl *api.RateLimits) { rl.FanoutBytes = exactly(30_000) })})
	pub := dial(t, ts, nil)
	pub.join("big")
	for range 20 {
		require.NoError(t, ts.Join(dial(t, ts, nil).id, "big"))
	}
	payload := strings.Repeat("x", 900) // ~1 KB a frame
	// 20 other members × 1 KB: the first frame takes 20 KB of 30.
	pub.send(map[string]any{"event": "e", "room": "big", "payload": payload, "id": "b1"})
	pub.expect("$ack")
	pub.send(map[string]any{"event": "e", "room": "big", "payload": payload, "id": "b2"})
	pub.expectError("rate_limited")
	// In a room of two, the same frame costs 1 KB: 15 of them pass.
	ts2 := startServer(t, &api.Options{DisablePresence: true,
		RateLimits: limited(func(rl *api.RateLimits) { rl.FanoutBytes = exactly(30_000) })})
	p2, l2 := dial(t, ts2, nil), dial(t, ts2, nil)
	p2.join("small")
	l2.join("small")
	for i := range 15 {
		p2.send(map[string]any{"event": "e", "room": "small", "payload": payload, "id": fmt.Sprint(i)})
		p2.expect("$ack")
	}
	for range 15 {
		l2.expect("e")
	}
}

// TestRateLimitRefusalsClose: a client that keeps sending past its
// bucket exhausts its refusals and is closed with 1008; its session ends.
func TestRateLimitRefusalsClose(t *testing.T) {
	var ended atomic.Int32
	ts := startServer(t, &api.Options{DisablePresence: true,
		OnDisconnect: func(*api.Conn, api.CloseInfo) { ended.Add(1) },
		RateLimits: limited(func(rl *api.RateLimits) {
			rl.Publish, rl.Refusals = exactly(1), exactly(5)
		})})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.join("r")
	b.join("r")
	for i := range 10 {
		a.send(map[string]any{"event": "chat", "room": "r", "id": fmt.Sprint(i)})
	}
	assert.Equal(t, "0", a.expect("$ack").ID)
	for i := 1; i <= 5; i++ {
		e, _ := a.expectError("rate_limited")
		assert.Equal(t, fmt.Sprint(i), e.ID)
	}
	assert.Equal(t, websocket.ClosePolicyViolation, a.expectClose())
	require.Eventually(t, func() bool { return ended.Load() == 1 }, wait, 5*time.Millisecond,
		"1008 ends the session")
	assert.Equal(t, "chat", b.expect("chat").Event)
	b.ping()
}

// TestRefusedFrameCanBeResent: a refused frame takes no effect and frees
// its id, so the client may send it again once the bucket refills.
func TestRefusedFrameCanBeResent(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true,
		RateLimits: limited(func(rl *api.RateLimits) { rl.Publish = api.Rate{PerSecond: 20, Burst: 1} })})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.join("r")
	b.join("r")
	a.send(map[string]any{"event": "chat", "room": "r", "id": "1"})
	a.expect("$ack")
	a.send(map[string]any{"event": "chat", "room": "r", "id": "2"})
	a.expectError("rate_limited")
	// Resend "2" until the bucket (20/s) has refilled: each try is either
	// refused again or acknowledged; a loaded machine only means more tries.
	deadline := time.Now().Add(15 * time.Second)
	for {
		a.send(map[string]any{"event": "chat", "room": "r", "id": "2"})
		m := a.next()
		if m.Event == "$ack" {
			assert.Equal(t, "2", m.ID)
			break
		}
		var p frame.ErrorPayload
		m.payload(t, &p)
		require.Equal(t, "$error", m.Event)
		require.Equal(t, "rate_limited", p.Code)
		require.True(t, time.Now().Before(deadline), "the bucket never refilled")
		time.Sleep(10 * time.Millisecond) // paces the retries; not a condition
	}
	// Guards the id being freed: had the refusal kept "2", the resend would
	// be acked as a duplicate and b would not get the second chat.
	b.expect("chat")
	b.expect("chat")
	b.ping()
}

// TestFailedUpgradesThrottled: an address whose upgrades Authorize keeps
// refusing gets 429 once its failures are used up; resumes with unknown
// tokens and 5xx refusals cost nothing; other addresses are unaffected.
func TestFailedUpgradesThrottled(t *testing.T) {
	ts := startServer(t, &api.Options{
		Authorize: func(r *http.Request) (api.Identity, error) {
			switch r.URL.Query().Get("token") {
			case "good":
				return api.Identity{}, nil
			case "backend-down":
				return api.Identity{}, &api.Refusal{Status: http.StatusServiceUnavailable, Reason: "authorization backend unavailable"}
			}
			return api.Identity{}, errors.New("bad token")
		},
		RateLimits: limited(func(rl *api.RateLimits) { rl.FailuresPerIP = exactly(3) }),
	})
	good := ts.url + "?token=good"
	// A 5xx refusal is the server's trouble: it costs the client nothing.
	for range 10 {
		_, resp, err := websocket.DefaultDialer.Dial(ts.url+"?token=backend-down", nil)
		require.ErrorIs(t, err, websocket.ErrBadHandshake)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	}
	for range 2 {
		assert.Equal(t, "unauthorized", dialRefused(t, ts, nil, http.StatusUnauthorized))
	}
	// Unknown resume tokens are no failures: each gets a fresh session.
	for range 10 {
		ws, _, err := websocket.DefaultDialer.Dial(good+"&resume=s-nobody.AAAAAAAAAAAAAAAAAAAAAA&last_seq=0", nil)
		require.NoError(t, err)
		_ = ws.Close()
	}
	assert.Equal(t, "unauthorized", dialRefused(t, ts, nil, http.StatusUnauthorized))

	// Now even a good request from this address is throttled.
	_, resp, err := websocket.DefaultDialer.Dial(good, nil)
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Contains(t, string(body), "too many failed attempts")

	// Another address is not.
	other := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		return d.Dial(network, addr)
	}}
	ws, resp, err := other.Dial(good, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	_ = ws.Close()
}
