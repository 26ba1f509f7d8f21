package api_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
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
	s := newSession(t, px.Addr())
	s.join("r")
	px.Cut()
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, 5*time.Millisecond)
	for i := range 40 { // more than the live queue holds
		ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte(strconv.Itoa(i))})
	}
	require.True(t, s.resume(addr).Resumed)
	for i := range 40 {
		assert.Equal(t, strconv.Itoa(i), string(s.expect("n").Payload))
	}
	s.expect("live")
	// OnResume stores Send's error after the frame may have arrived.
	require.Eventually(t, func() bool { return sendErr.Load() != nil }, wait, time.Millisecond)
	assert.Equal(t, errBox{nil}, sendErr.Load())
}

type errBox struct{ err error }

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

// TestSeenFreesReplayBuffer: frames the client confirms with $seen are
// freed; a later resume from before them is then a gap.
func TestSeenFreesReplayBuffer(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	addr := ts.Addr().String()
	s := newSession(t, addr)
	s.join("r")
	for i := range 10 {
		ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte(strconv.Itoa(i))})
		s.expect("n")
	}
	before := ts.Stats().QueuedBytes
	s.send(map[string]any{"event": "$seen", "payload": frame.SeenPayload{Seq: s.lastSeq}})
	s.send(map[string]any{"event": "$ping", "id": "p"})
	s.expect("$pong")
	assert.Less(t, ts.Stats().QueuedBytes, before, "confirmed frames are freed")

	_ = s.ws.Close()
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, 5*time.Millisecond)
	s.lastSeq = 3 // pretend to have processed less than confirmed
	_, w, _ := connect(t, addr, resumeQuery(s))
	assert.False(t, w.Resumed)
	assert.Equal(t, "gap", w.Reason)
}

// TestPongConfirmsReceivedFrames: frames written before a ping the client
// answered leave the replay buffer, so an idle session holds none.
func TestPongConfirmsReceivedFrames(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true, HeartbeatInterval: 100 * time.Millisecond})
	c := dial(t, ts, nil) // gorilla answers pings while it reads
	c.join("r")
	for range 5 {
		require.NoError(t, ts.Send(c.id, api.Frame{Event: "n"}))
		c.expect("n")
	}
	assert.Positive(t, ts.Stats().QueuedBytes, "written frames are held for a resume")
	go func() { _, _, _ = c.ws.ReadMessage() }() // keep reading: pongs go out
	require.Eventually(t, func() bool { return ts.Stats().QueuedBytes == 0 }, wait, 20*time.Millisecond,
		"a ping round trip frees them")
}

// TestWrittenFramesConfirmedSoon: with a long heartbeat, the server still
// pings a client soon after writing to it, and the pong frees the frames.
func TestWrittenFramesConfirmedSoon(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true}) // heartbeat 25 s
	c := dial(t, ts, nil)
	c.join("r")
	require.NoError(t, ts.Send(c.id, api.Frame{Event: "n"}))
	c.expect("n")
	assert.Positive(t, ts.Stats().QueuedBytes, "written frames are held for a resume")
	go func() { _, _, _ = c.ws.ReadMessage() }()
	require.Eventually(t, func() bool { return ts.Stats().QueuedBytes == 0 }, 6*time.Second, 20*time.Millisecond,
		"freed about 2 s after they were written, not at the 25 s heartbeat")
}
