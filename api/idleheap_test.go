package api_test

import (
	"fmt"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// maxIdleHeap bounds the live heap an idle connection keeps, joined to a
// room of 100, with the bench's options (no resumption, no presence):
// 1,296–1,306 B when it was set (loop.Conn 384, api.Conn 176,
// resume.Stream 176, nbio's Conn and addresses 368, the binding 64, the
// room's and the registry's entries, the session id). A change that adds
// a size class to one of these, or keeps handshake state past Open,
// shows here.
const maxIdleHeap = 1360

// TestIdleConnectionHeap holds 1,000 connections that connected, joined
// a room of 100 and went quiet, and requires the live heap they keep
// (after two collections, over the same reading before them) to stay
// within maxIdleHeap per connection.
func TestIdleConnectionHeap(t *testing.T) {
	const n = 1000
	srv := startServer(t, &api.Options{DisablePresence: true, DisableResume: true, QueueFrames: 4096, QueueBytes: 4 << 20})
	port := uint16(srv.Addr().(*net.TCPAddr).Port)
	req := []byte("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	joins := make([][]byte, n/100)
	for i := range joins {
		joins[i] = wsproto.AppendClientFrame(nil, true, wsproto.OpText,
			fmt.Appendf(nil, `{"event":"$join","room":"r%d"}`, i), [4]byte{1, 2, 3, 4})
	}
	buf := make([]byte, 64<<10)
	live := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := live()
	fds := make([]int, 0, n)
	t.Cleanup(func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	})
	for i := range n {
		fd, err := rawConnectJoin(port, req, joins[i/100], buf)
		require.NoError(t, err)
		fds = append(fds, fd)
	}
	require.Eventually(t, func() bool { return srv.Stats().Sessions == n }, 10*time.Second, time.Millisecond)
	per := (float64(live()) - float64(before)) / n
	t.Logf("live heap per idle connection: %.0f B", per)
	require.LessOrEqual(t, per, float64(maxIdleHeap))
}
