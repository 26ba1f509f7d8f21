package loop_test

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/wsproto"
	"github.com/roomloop/roomloop/loop"
)

// sourced is a Handler that gives every connection an echoSource and
// hands the connection and its source to the test.
type sourced struct {
	opened chan sourcedConn
}

type sourcedConn struct {
	c   *loop.Conn
	src *echoSource
}

func (h *sourced) Upgrade(*loop.Conn, *loop.Upgrade) (string, error) { return "", nil }
func (h *sourced) Open(c *loop.Conn) {
	src := &echoSource{}
	c.SetSource(src, nil)
	h.opened <- sourcedConn{c, src}
}
func (h *sourced) Message(*loop.Conn, bool, []byte)  {}
func (h *sourced) Closed(*loop.Conn, loop.CloseInfo) {}

// startURing starts an engine with URingWrites and one flusher (so that
// every connection's writes share its batches), and n clients upgraded
// with upgrade (nil: upgradeRaw) and their server-side connections, in
// the same order. It skips the test where the kernel gives no io_uring.
func startURing(t *testing.T, n int, upgrade func(*testing.T, *loop.Engine) *rawClient) (*loop.Engine, []*rawClient, []sourcedConn) {
	t.Helper()
	h := &sourced{opened: make(chan sourcedConn, n)}
	e := startEngine(t, loop.Config{URingWrites: true, Flushers: 1}, h)
	if e.URingFlushers() == 0 {
		t.Skip("io_uring unavailable here: the flusher writes each socket (the fallback)")
	}
	clients := make([]*rawClient, n)
	conns := make([]sourcedConn, n)
	if upgrade == nil {
		upgrade = upgradeRaw
	}
	for i := range clients {
		clients[i] = upgrade(t, e)
		conns[i] = <-h.opened
	}
	return e, clients, conns
}

// readEchoes reads n messages from c and requires seqs from 1 to n in
// order, each payload being want(seq).
func readEchoes(t *testing.T, c *rawClient, n int, want func(seq uint64) []byte) {
	t.Helper()
	for i := 1; i <= n; i++ {
		op, p, err := c.readFrame(patience)
		require.NoError(t, err, "message %d", i)
		if op == wsproto.OpPing { // the engine's, asking for confirmation
			i--
			continue
		}
		require.Equal(t, wsproto.OpBinary, op)
		_, seq, payload, err := decodeEcho(p)
		require.NoError(t, err)
		require.Equal(t, uint64(i), seq, "out of order or repeated")
		require.True(t, bytes.Equal(want(seq), payload), "payload of message %d", i)
	}
}

func seqPayload(seq uint64) []byte { return []byte{byte(seq), byte(seq >> 8)} }

// Many connections written in the same ticks, through shared batches,
// each get their own messages once and in order.
func TestURingWritesFanOutInOrder(t *testing.T) {
	const clients, msgs = 40, 300
	e, cs, conns := startURing(t, clients, nil)
	for seq := uint64(1); seq <= msgs; seq++ {
		for _, sc := range conns {
			sc.src.push("binary", seqPayload(seq))
			sc.c.Wake()
		}
	}
	for _, c := range cs {
		readEchoes(t, c, msgs, seqPayload)
	}
	got := e.Counters()
	assert.Positive(t, got.URingSends)
	assert.GreaterOrEqual(t, got.Writes, got.URingSends-got.URingShort)
}

// A peer that does not read fills its socket: the send io_uring makes is
// short (or EAGAIN), the rest goes to the event loop, and the peer still
// gets every byte once, in order, when it reads.
func TestURingWritesShortSendsKeepOrder(t *testing.T) {
	// 8 MiB: more than the server's send buffer (at most tcp_wmem's 4 MiB
	// here) and the client's fixed 64 KiB receive buffer hold.
	const msgs, size = 256, 32 << 10
	e, cs, conns := startURing(t, 1, upgradeSmallWindow)
	payload := func(seq uint64) []byte { return bytes.Repeat([]byte{byte(seq)}, size) }
	for seq := uint64(1); seq <= msgs; seq++ {
		conns[0].src.push("binary", payload(seq))
	}
	conns[0].c.Wake()
	require.Eventually(t, func() bool { return e.Counters().URingShort > 0 }, patience, time.Millisecond,
		"no send came back short while the peer did not read")
	readEchoes(t, cs[0], msgs, payload)
}

// A close frame queued behind messages goes out after them through the
// batch, and the connection is dropped once the peer answers it.
func TestURingWritesClose(t *testing.T) {
	e, cs, conns := startURing(t, 3, nil)
	for _, sc := range conns {
		for seq := uint64(1); seq <= 5; seq++ {
			sc.src.push("binary", seqPayload(seq))
		}
		sc.c.Close(4000, "bye")
	}
	for _, c := range cs {
		readEchoes(t, c, 5, seqPayload)
		require.Equal(t, uint16(4000), c.expectClose(patience))
		c.send(wsproto.OpClose, wsproto.AppendClose(nil, 4000, ""))
		c.expectEOF(patience)
	}
	assert.Positive(t, e.Counters().URingSends)
}

// upgradeSmallWindow upgrades a client whose receive buffer is fixed at
// 64 KiB from before the connection (no autotuning).
func upgradeSmallWindow(t *testing.T, e *loop.Engine) *rawClient {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		})
		return errors.Join(err, serr)
	}}
	nc, err := d.Dial("tcp", e.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return upgradeOn(t, &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}, "")
}
