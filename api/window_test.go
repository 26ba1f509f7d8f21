package api_test

import (
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// TestLaggingReaderResumesAfterCut: a client that reads, but lags behind
// the server by more than 256 frames (they are in socket buffers and the
// proxy), is cut; its resume from the last frame it processed is exact.
// Every frame the server wrote and the client did not confirm is kept.
func TestLaggingReaderResumesAfterCut(t *testing.T) {
	const frames, processed = 1000, 10 // within the live queue (1024)
	ts := startServer(t, &api.Options{DisablePresence: true})
	addr := ts.Addr().String()
	px := newProxy(t, addr)
	s := newSession(t, px.Addr())
	s.join("r")
	base := ts.Stats().FramesWritten
	for i := range frames {
		ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte(strconv.Itoa(i))})
	}
	for range processed {
		s.expect("n")
	}
	// The client can have confirmed at most what it read; wait until the
	// server has written far more than that, and than 256 frames.
	require.Eventually(t, func() bool { return ts.Stats().FramesWritten-base > processed+300 }, wait, 5*time.Millisecond)
	require.Positive(t, px.Cut())

	w := s.resume(addr)
	require.True(t, w.Resumed, "refused: %s", w.Reason)
	for i := processed; i < frames; i++ {
		assert.Equal(t, strconv.Itoa(i), string(s.expect("n").Payload))
	}
	assert.Zero(t, ts.Stats().Resumes.Gap)
}

// TestPingsFollowWrites: while frames are written, the server pings
// whenever a quarter of ReplayFrames (here 16 frames) was written since
// its last ping, not only 2 s after a write: each ping
// carries the seq written before it, and its pong frees the frames up to
// that seq, so that writing goes on past the window.
func TestPingsFollowWrites(t *testing.T) {
	const frames, window = 200, 64
	ts := startServer(t, &api.Options{DisablePresence: true, ReplayFrames: window})
	s := newSession(t, ts.Addr().String())
	s.join("r")
	var pings []uint64 // appended by the ping handler, on this goroutine
	s.ws.SetPingHandler(func(data string) error {
		if len(data) == 8 {
			pings = append(pings, binary.BigEndian.Uint64([]byte(data)))
		}
		return s.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(wait))
	})
	for i := range frames {
		ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte(strconv.Itoa(i))})
	}
	for i := range frames {
		assert.Equal(t, strconv.Itoa(i), string(s.expect("n").Payload))
	}
	require.GreaterOrEqual(t, len(pings), frames/window, "a ping per window at least")
	assert.Less(t, pings[0], uint64(frames), "the first ping came mid-stream")
	for i, pos := range pings {
		assert.LessOrEqual(t, pos, s.lastSeq, "a ping follows the frames it names")
		if i > 0 {
			assert.GreaterOrEqual(t, pos, pings[i-1])
		}
	}
	// $seen confirms the rest; the $pong after it is all that is held.
	s.send(map[string]any{"event": "$seen", "payload": map[string]any{"seq": s.lastSeq}})
	s.send(map[string]any{"event": "$ping", "id": "p"})
	s.expect("$pong")
	assert.Less(t, ts.Stats().QueuedBytes, int64(100), "confirmed frames are freed")
}

// TestUnconfirmedBoundMakesASlowConsumer: a client that reads but never
// answers a ping confirms nothing. The server writes ReplayFrames frames
// to it, then holds the rest in the queue, and once the queue is full it
// closes the connection with 4002: the bound is kept, nothing grows.
func TestUnconfirmedBoundMakesASlowConsumer(t *testing.T) {
	const window, queue = 32, 64
	ts := startServer(t, &api.Options{DisablePresence: true, ReplayFrames: window, QueueFrames: queue})
	s := newSession(t, ts.Addr().String())
	s.join("r")
	var pinged atomic.Int64
	s.ws.SetPingHandler(func(string) error { pinged.Add(1); return nil }) // no pong
	send := func(from, to int) {
		for i := from; i < to; i++ {
			ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte(strconv.Itoa(i))})
		}
	}
	// The window: $joined and window-1 frames, written and read.
	send(0, window-1)
	got := 0
	for ; got < window-1; got++ {
		s.expect("n")
	}
	// The rest waits in the queue until it overflows.
	send(window-1, window+queue+1)
	for {
		m, err := s.read()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, int(api.CloseSlowConsumer), ce.Code)
			break
		}
		t.Errorf("frame %s written past the window", m.Payload)
	}
	assert.Positive(t, pinged.Load(), "the server asked for a confirmation")
	assert.EqualValues(t, 1, ts.Stats().SlowConsumerCloses)
}
