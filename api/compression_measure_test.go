package api_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// TestMeasureCompression fills one room with 2,000 raw clients, all
// compressed or all plain, publishes 300 chat messages of 200 B to 1 KB
// of JSON one after another, and reports bytes on the wire per delivery
// and the process's CPU per delivery (server and the clients' reading
// goroutines together, so a measurement, not a check, and noisy). Run it
// with ROOMLOOP_MEASURE=1.
func TestMeasureCompression(t *testing.T) {
	if os.Getenv("ROOMLOOP_MEASURE") == "" {
		t.Skip("a measurement: set ROOMLOOP_MEASURE=1")
	}
	const members, messages = 2000, 300
	payloads := chatPayloads(messages)
	for _, compressed := range []bool{false, true} {
		ts := startServer(t, &api.Options{Compression: compressed, DisablePresence: true})
		var frames, wire atomic.Int64
		offer := ""
		if compressed {
			offer = deflateOffer + "\r\n"
		}
		for range members {
			nc, err := net.Dial("tcp", ts.Addr().String())
			require.NoError(t, err)
			t.Cleanup(func() { _ = nc.Close() })
			_, err = nc.Write([]byte(strings.TrimSuffix(upgradeHead(), "\r\n") + offer + "\r\n"))
			require.NoError(t, err)
			br := bufio.NewReaderSize(nc, 64<<10)
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
			require.Equal(t, compressed, resp.Header.Get("Sec-WebSocket-Extensions") != "")
			join, _ := json.Marshal(map[string]any{"event": "$join", "room": "big"})
			_, err = nc.Write(wsproto.AppendClientFrame(nil, true, wsproto.OpText, join, [4]byte{1, 2, 3, 4}))
			require.NoError(t, err)
			go countFrames(br, &frames, &wire)
		}
		require.Eventually(t, func() bool { return frames.Load() == 2*members }, 30*time.Second, time.Millisecond)
		pub := dial(t, ts, nil)
		pub.join("big")
		frames.Store(0)
		wire.Store(0)
		cpu0, start := cpuTime(), time.Now()
		for i, p := range payloads {
			pub.sendRaw(1, p)
			for frames.Load() < int64((i+1)*members) {
				time.Sleep(50 * time.Microsecond)
			}
		}
		cpu, wall := cpuTime()-cpu0, time.Since(start)
		n := float64(members * messages)
		t.Logf("compressed=%v: %d deliveries in %v; %.0f wire bytes/delivery; %.2f µs process CPU/delivery; %.0f deliveries/s",
			compressed, members*messages, wall.Round(time.Millisecond), float64(wire.Load())/n,
			float64(cpu.Microseconds())/n, n/wall.Seconds())
	}
}

// chatPayloads returns n $-less chat frames into room "big", their JSON
// between 200 B and 1 KB: a user, a timestamp, and words of English.
func chatPayloads(n int) [][]byte {
	words := strings.Fields("the a to and of in is you that it for on with this be are have not at your we can " +
		"meeting tomorrow deploy release server client room message thanks please check review build " +
		"latency numbers looks good merge branch issue fixed broken working lunch coffee weekend")
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		size := 200 + r.IntN(800)
		var text strings.Builder
		for text.Len() < size-150 {
			text.WriteString(words[r.IntN(len(words))])
			text.WriteByte(' ')
		}
		out[i], _ = json.Marshal(map[string]any{"event": "say", "room": "big", "payload": map[string]any{
			"user": fmt.Sprintf("user-%04d", r.IntN(5000)), "ts": 1733350000000 + int64(i)*997,
			"text": text.String(), "reply_to": nil, "reactions": []string{}}})
	}
	return out
}

// countFrames reads server frames, counting data frames and every byte.
func countFrames(br *bufio.Reader, frames, wire *atomic.Int64) {
	var h [10]byte
	for {
		if _, err := io.ReadFull(br, h[:2]); err != nil {
			return
		}
		n, hl := uint64(h[1]&0x7f), 2
		switch n {
		case 126:
			if _, err := io.ReadFull(br, h[2:4]); err != nil {
				return
			}
			n, hl = uint64(binary.BigEndian.Uint16(h[2:4])), 4
		case 127:
			if _, err := io.ReadFull(br, h[2:10]); err != nil {
				return
			}
			n, hl = binary.BigEndian.Uint64(h[2:10]), 10
		}
		if _, err := br.Discard(int(n)); err != nil {
			return
		}
		wire.Add(int64(hl) + int64(n))
		if op := h[0] & 0x0f; op == 1 || op == 2 {
			frames.Add(1)
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
