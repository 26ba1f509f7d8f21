package api_test

import (
	"os"
	"strconv"
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

const (
	floodFrames  = 2000
	floodPayload = 8 << 10 // 16 MB in all: more than loopback socket buffers absorb
	slowQueue    = 256 << 10
)

// flood publishes floodFrames frames of floodPayload bytes into room r,
// paced by a healthy member that reads them all; it returns what the
// healthy member got.
func flood(t *testing.T, ts *testServer, pub, healthy *client) *atomic.Int64 {
	t.Helper()
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for got.Load() < floodFrames {
			_ = healthy.ws.SetReadDeadline(time.Now().Add(wait))
			_, data, err := healthy.ws.ReadMessage()
			if err != nil {
				t.Errorf("healthy member: %v after %d frames", err, got.Load())
				return
			}
			if strings.Contains(string(data[:min(len(data), 64)]), `"event":"big"`) {
				got.Add(1)
			}
		}
	}()
	body := `{"event":"big","room":"r","payload":"` + strings.Repeat("x", floodPayload) + `"}`
	var peak int64
	for i := range floodFrames {
		// Publish no faster than the healthy member reads: it keeps at
		// most 16 frames (128 KiB) outstanding, half its queue.
		for int64(i)-got.Load() > 16 {
			time.Sleep(100 * time.Microsecond)
		}
		pub.sendRaw(websocket.TextMessage, []byte(body))
		peak = max(peak, ts.Stats().QueuedBytes)
	}
	<-done
	// Two members' queues and windows (unconfirmed frames) at most,
	// whatever the slow one does.
	bound := 2 * (slowQueue + api.DefaultReplayBytes + maxSendBuffer() + 2*floodPayload)
	assert.LessOrEqual(t, peak, int64(bound), "queued bytes stay bounded")
	return &got
}

func TestSlowConsumerDisconnected(t *testing.T) {
	// The slow member reads megabytes before it reaches the close frame:
	// give it time to, even on a loaded machine.
	ts := startServer(t, &api.Options{DisablePresence: true, QueueBytes: slowQueue,
		CloseTimeout: 30 * time.Second})
	pub, healthy, slow := dial(t, ts, nil), dial(t, ts, nil), dial(t, ts, nil)
	for _, c := range []*client{pub, healthy, slow} {
		c.join("r")
	}
	got := flood(t, ts, pub, healthy)
	assert.EqualValues(t, floodFrames, got.Load(), "the healthy member lost nothing")
	// The slow member finds, after what it had buffered, close 4002; its
	// session is suspended, so it could resume.
	assert.Equal(t, int(api.CloseSlowConsumer), slow.expectClose())
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, 10*time.Millisecond)
	st := ts.Stats()
	assert.EqualValues(t, 1, st.SlowConsumerCloses, "counted before the close")
	assert.Zero(t, st.FramesDropped)
}

func TestSlowConsumerDropNotices(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true, QueueBytes: slowQueue,
		SlowConsumer: api.Drop})
	pub, healthy, slow := dial(t, ts, nil), dial(t, ts, nil), dial(t, ts, nil)
	for _, c := range []*client{pub, healthy, slow} {
		c.join("r")
	}
	got := flood(t, ts, pub, healthy)
	assert.EqualValues(t, floodFrames, got.Load())

	// Every frame is either delivered or counted in a notice, and seq has
	// no hole (next checks it): no drop is silent.
	delivered, dropped, notices := 0, 0, 0
	for delivered+dropped < floodFrames {
		m := slow.next()
		switch m.Event {
		case "big":
			delivered++
		case "$error":
			var p frame.DroppedPayload
			m.payload(t, &p)
			require.Equal(t, "dropped", p.Code)
			require.Positive(t, p.Count)
			assert.Equal(t, []string{"r"}, p.Rooms)
			dropped += p.Count
			notices++
		default:
			t.Fatalf("unexpected %s", m.Event)
		}
	}
	assert.Equal(t, floodFrames, delivered+dropped)
	assert.Positive(t, dropped, "the flood overflowed the slow member's queue")
	assert.Less(t, notices, dropped, "notices coalesce")
	st := ts.Stats()
	assert.EqualValues(t, dropped, st.FramesDropped, "every dropped frame counted")
	assert.Zero(t, st.SlowConsumerCloses)
	slow.ping()
}

func TestShutdownSendsGoingAway(t *testing.T) {
	ts := startServer(t, nil)
	clients := make([]*client, 50)
	for i := range clients {
		clients[i] = dial(t, ts, nil)
		clients[i].join("r")
	}
	errc := make(chan error, 1)
	go func() { errc <- ts.Shutdown(t.Context()) }()
	for _, c := range clients {
		for {
			_, _, err := c.ws.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, websocket.CloseGoingAway, ce.Code)
				break
			}
		}
	}
	require.NoError(t, <-errc)
	assert.Zero(t, ts.Stats().Connections)
	_, _, err := websocket.DefaultDialer.Dial(ts.url, nil)
	assert.Error(t, err, "no new connections after shutdown")
}

// maxSendBuffer is the largest send buffer the kernel gives a TCP socket
// (the maximum of net.ipv4.tcp_wmem; 4 MiB, Linux's default, where it
// cannot be read): the most a connection's window grows beyond
// ReplayBytes.
func maxSendBuffer() int64 {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if f := strings.Fields(string(b)); err == nil && len(f) == 3 {
		if n, err := strconv.ParseInt(f[2], 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 4 << 20
}
