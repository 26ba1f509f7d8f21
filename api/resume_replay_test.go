package api_test

import (
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// TestResumeBacklogIsNotASlowConsumer: frames held for a suspended session
// beyond the live queue bound are replayed whole, even while new frames
// arrive during the replay.
func TestResumeBacklogIsNotASlowConsumer(t *testing.T) {
	var sendErr atomic.Value
	ts := startServer(t, &api.Options{DisablePresence: true, QueueFrames: 16, ReplayFrames: 256,
		OnResume: func(c *api.Conn) {
			sendErr.Store(errBox{c.Send(api.Frame{Event: "live", Kind: 1, Payload: []byte(`1`)})})
		}})
	addr := ts.Addr().String()
	px := newProxy(t, addr)
	s := newSession(t, px.addr())
	s.join("r")
	px.sever()
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, 5*time.Millisecond)
	for i := range 40 { // more than the live queue holds
		ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte(strconv.Itoa(i))})
	}
	require.True(t, s.resume(addr).Resumed)
	for i := range 40 {
		assert.Equal(t, strconv.Itoa(i), string(s.expect("n").Payload))
	}
	s.expect("live")
	assert.Equal(t, errBox{nil}, sendErr.Load())
}

type errBox struct{ err error }

// TestStaleResumeLeavesLiveSessionAlone: a resume that cannot be honoured
// (gap) while the session is attached answers the requester with a fresh
// session and does not touch the live one.
func TestStaleResumeLeavesLiveSessionAlone(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true, ReplayFrames: 4})
	addr := ts.Addr().String()
	s := newSession(t, addr)
	s.join("r")
	for i := range 20 {
		ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte(strconv.Itoa(i))})
	}
	for range 20 {
		s.expect("n")
	}
	_, w, m := connect(t, addr, map[string][]string{"resume": {s.token}, "last_seq": {"0"}})
	var wr welcomeReason
	m.payload(t, &wr.Payload)
	assert.False(t, w.Resumed)
	assert.Equal(t, "gap", wr.Payload.Reason)
	_, ok := ts.Conn(s.id)
	assert.True(t, ok, "the live session goes on")
	s.send(map[string]any{"event": "$ping", "id": "p"})
	s.expect("$pong")
}

// TestKickRacingSuspendLeavesNothing: kicking sessions exactly while their
// connections drop leaves no session, suspended or not.
func TestKickRacingSuspendLeavesNothing(t *testing.T) {
	var disconnects atomic.Int64
	ts := startServer(t, &api.Options{DisablePresence: true,
		OnDisconnect: func(*api.Conn, api.CloseInfo) { disconnects.Add(1) }})
	addr := ts.Addr().String()
	const n = 100
	var wg sync.WaitGroup
	for range n {
		px := newProxy(t, addr)
		s := newSession(t, px.addr())
		c, ok := ts.Conn(s.id)
		require.True(t, ok)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.Connected() {
				runtime.Gosched()
			}
			c.Kick("bye") // right as the drop suspends it
		}()
		px.sever()
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		st := ts.Stats()
		return st.Sessions == 0 && st.Suspended == 0
	}, wait, 10*time.Millisecond)
	assert.EqualValues(t, n, disconnects.Load(), "OnDisconnect once per session")
}

// TestResentFrameWaitsForItsOriginal: a frame resent on a resumed
// transport while its original is still being handled on the old one is
// not acknowledged before the original is decided.
func TestResentFrameWaitsForItsOriginal(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	ts.Handle("slow", func(c *api.Conn, f *api.Frame) error {
		time.Sleep(300 * time.Millisecond)
		return api.NewError(api.CodeForbidden, "refused after all")
	})
	addr := ts.Addr().String()
	s := newSession(t, addr)
	s.send(map[string]any{"event": "slow", "id": "x1"})
	time.Sleep(50 * time.Millisecond)
	require.True(t, s.resume(addr).Resumed) // the client gave up on the old transport
	s.send(map[string]any{"event": "slow", "id": "x1"})
	for range 2 {
		m := s.expect("$error")
		assert.Equal(t, "x1", m.ID, "refused each time, never acknowledged")
	}
}

// TestSuspendedBytesBudget: past the budget for frames held by suspended
// sessions, the longest-suspended sessions end, and memory returns.
func TestSuspendedBytesBudget(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true, SuspendedBytes: 64 << 10,
		ResumeWindow: time.Minute})
	addr := ts.Addr().String()
	pub := dial(t, ts, nil)
	pub.join("r")
	var first *session
	for i := range 10 {
		s := newSession(t, addr)
		s.join("r")
		if i == 0 {
			first = s
		}
		_ = s.ws.Close()
		require.Eventually(t, func() bool { return ts.Stats().Suspended == i+1 }, wait, 5*time.Millisecond)
	}
	big := `"` + strings.Repeat("x", 4000) + `"`
	for range 20 { // 80 KB each for 10 suspended sessions: 800 KB held
		pub.send(map[string]any{"event": "m", "room": "r", "payload": json.RawMessage(big)})
	}
	pub.ping()
	require.Eventually(t, func() bool {
		st := ts.Stats()
		return st.Suspended < 10 && st.QueuedBytes <= 64<<10+int64(len(big))*40
	}, wait, 20*time.Millisecond, "sessions ended to meet the budget")
	_, ok := ts.Conn(first.id)
	assert.False(t, ok, "the longest-suspended session went first")
}
