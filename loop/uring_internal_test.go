package loop

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/uring"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// greeter writes a preface frame to every connection it opens.
type greeter struct{}

func (greeter) Upgrade(*Conn, *Upgrade) (string, error) { return "", nil }
func (greeter) Open(c *Conn) {
	c.SetSource(nil, append(AppendHeader(nil, false, 5), "hello"...))
}
func (greeter) Message(*Conn, bool, []byte) {}
func (greeter) Closed(*Conn, CloseInfo)     {}

// Where io_uring cannot be set up, URingWrites falls back to a write per
// socket: the engine starts, reports no io_uring flusher, and writes.
func TestURingWritesFallBack(t *testing.T) {
	saved := newRing
	newRing = func(uint32) (*uring.Ring, error) { return nil, errors.New("io_uring disabled") }
	t.Cleanup(func() { newRing = saved })

	e := New(Config{URingWrites: true}, greeter{})
	require.NoError(t, e.Start("127.0.0.1:0"))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.Shutdown(ctx))
	}()
	require.Zero(t, e.URingFlushers())

	nc, err := net.Dial("tcp", e.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	require.NoError(t, err)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(10*time.Second)))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	frame := make([]byte, 7)
	_, err = io.ReadFull(br, frame)
	require.NoError(t, err)
	require.Equal(t, byte(0x80|byte(wsproto.OpText)), frame[0])
	require.True(t, strings.HasSuffix(string(frame), "hello"))
	require.Zero(t, e.Counters().URingSends)
}
