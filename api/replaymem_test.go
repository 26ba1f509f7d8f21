package api_test

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// TestReplayMemoryPerSession measures what the replay buffer costs each
// session when a room of 500 receives 100-byte messages at a fixed rate,
// with the default bounds (256 frames, 256 KiB), with and without $seen.
// It is a measurement, not a check: run it with ROOMLOOP_MEASURE=1.
func TestReplayMemoryPerSession(t *testing.T) {
	if os.Getenv("ROOMLOOP_MEASURE") == "" {
		t.Skip("a measurement: set ROOMLOOP_MEASURE=1")
	}
	const sessions, rate, seconds = 500, 200, 2 // 400 frames: past the 256-frame bound
	for _, seen := range []bool{true, false} {
		ts := startServer(t, &api.Options{DisablePresence: true})
		runtime.GC()
		clients := make([]*session, sessions)
		for i := range clients {
			clients[i] = newSession(t, ts.Addr().String())
			clients[i].join("r")
		}
		heap := func() uint64 {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			return ms.HeapInuse
		}
		before := heap()
		payload := []byte(`"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"`)
		tick := time.NewTicker(time.Second / rate)
		for range rate * seconds {
			<-tick.C
			ts.Broadcast("r", api.Frame{Event: "m", Room: "r", Kind: 1, Payload: payload})
		}
		tick.Stop()
		for _, c := range clients {
			for c.lastSeq < uint64(1+rate*seconds) {
				_, err := c.read()
				require.NoError(t, err)
				c.frames = c.frames[:0] // keep the client's own memory flat
			}
			if seen {
				c.send(map[string]any{"event": "$seen", "payload": frame.SeenPayload{Seq: c.lastSeq}})
				// The $pong comes once the $seen before it was handled.
				c.send(map[string]any{"event": "$ping", "id": "p"})
				c.expect("$pong")
			}
		}
		after := heap()
		per := (int64(after) - int64(before)) / sessions
		t.Logf("$seen=%v: %d sessions, %d frames of %d B at %d/s: heap +%d B per session (bodies are shared; counted per recipient they would be %d B)",
			seen, sessions, rate*seconds, len(payload), rate, per, ts.Stats().QueuedBytes/sessions)
		for _, c := range clients {
			_ = c.ws.Close()
		}
		require.NoError(t, ts.Shutdown(t.Context()))
	}
}
