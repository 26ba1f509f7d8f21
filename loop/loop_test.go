package loop_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/roomloop/roomloop/internal/wsproto"
	"github.com/roomloop/roomloop/loop"
)

func TestMain(m *testing.M) {
	logging.SetLevel(logging.LevelError)
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}

// recorder is a Handler that accepts everyone and records what it sees.
type recorder struct {
	delay  time.Duration // Upgrade and Open each take this long
	mu     sync.Mutex
	msgs   []string
	closed []loop.CloseInfo
	opened chan *loop.Conn
}

func (r *recorder) Upgrade(*loop.Conn, *loop.Upgrade) (string, error) {
	time.Sleep(r.delay)
	return "", nil
}
func (r *recorder) Open(c *loop.Conn) { time.Sleep(r.delay); r.opened <- c }
func (r *recorder) Message(_ *loop.Conn, _ bool, data []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(data))
	r.mu.Unlock()
}
func (r *recorder) Closed(_ *loop.Conn, info loop.CloseInfo) {
	r.mu.Lock()
	r.closed = append(r.closed, info)
	r.mu.Unlock()
}

func start(t *testing.T, cfg loop.Config) (*loop.Engine, *recorder) {
	return startRecorder(t, cfg, &recorder{})
}

func startRecorder(t *testing.T, cfg loop.Config, rec *recorder) (*loop.Engine, *recorder) {
	t.Helper()
	rec.opened = make(chan *loop.Conn, 16)
	e := loop.New(cfg, rec)
	require.NoError(t, e.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.Shutdown(ctx))
	})
	return e, rec
}

// rawClient is a hand-driven WebSocket client.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

const upgradeRequest = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

func dialRaw(t *testing.T, e *loop.Engine) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", e.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// upgradeRawExt upgrades offering extensions and requires the 101 to
// answer with accept ("" for no Sec-WebSocket-Extensions header).
func upgradeRawExt(t *testing.T, e *loop.Engine, offer, accept string) *rawClient {
	t.Helper()
	c := dialRaw(t, e)
	c.write([]byte(strings.Replace(upgradeRequest, "\r\n\r\n", "\r\nSec-WebSocket-Extensions: "+offer+"\r\n\r\n", 1)))
	require.NoError(t, c.nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	resp, err := http.ReadResponse(c.br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	assert.Equal(t, accept, resp.Header.Get("Sec-WebSocket-Extensions"))
	return c
}

func upgradeRaw(t *testing.T, e *loop.Engine) *rawClient {
	t.Helper()
	c := dialRaw(t, e)
	c.write([]byte(upgradeRequest))
	require.NoError(t, c.nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	status, err := c.br.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, status, "101")
	for {
		line, err := c.br.ReadString('\n')
		require.NoError(t, err)
		if line == "\r\n" {
			return c
		}
	}
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	_, err := c.nc.Write(b)
	require.NoError(c.t, err)
}

func (c *rawClient) send(op wsproto.Opcode, payload []byte) {
	c.write(wsproto.AppendClientFrame(nil, true, op, payload, [4]byte{1, 2, 3, 4}))
}

// readFrame reads one unmasked server frame.
func (c *rawClient) readFrame(d time.Duration) (wsproto.Opcode, []byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.br, p)
	return wsproto.Opcode(h[0] & 0x0f), p, err
}

// expectClose reads until a close frame and returns its code.
func (c *rawClient) expectClose(d time.Duration) uint16 {
	c.t.Helper()
	for {
		op, p, err := c.readFrame(d)
		require.NoError(c.t, err)
		if op == wsproto.OpClose {
			code, _ := wsproto.ParseClose(p)
			return code
		}
	}
}

// expectEOF requires the server to drop the TCP connection within d.
func (c *rawClient) expectEOF(d time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	_ = c.nc.SetReadDeadline(start.Add(d))
	_, err := io.Copy(io.Discard, c.br)
	require.NoError(c.t, err, "connection still open after %v", d) // io.Copy: nil on EOF
	return time.Since(start)
}

func TestHandshakeDeadline(t *testing.T) {
	e, _ := start(t, loop.Config{HandshakeTimeout: 200 * time.Millisecond})
	c := dialRaw(t, e)
	c.write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n")) // and never the rest
	took := c.expectEOF(2 * time.Second)
	assert.Less(t, took, time.Second)
}

func TestHeartbeat(t *testing.T) {
	e, rec := start(t, loop.Config{PingInterval: 100 * time.Millisecond, PingTimeout: 400 * time.Millisecond})
	c := upgradeRaw(t, e)
	<-rec.opened
	op, _, err := c.readFrame(time.Second)
	require.NoError(t, err)
	assert.Equal(t, wsproto.OpPing, op, "the server pings an idle client")
	// No answer: dropped without a close frame after the timeout.
	c.expectEOF(2 * time.Second)
	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.closed) == 1 && rec.closed[0].Code == loop.CloseAbnormal
	}, time.Second, 10*time.Millisecond)
}

func TestPingAnsweredWithItsPayload(t *testing.T) {
	e, rec := start(t, loop.Config{})
	c := upgradeRaw(t, e)
	<-rec.opened
	c.send(wsproto.OpPing, []byte("abc"))
	op, p, err := c.readFrame(time.Second)
	require.NoError(t, err)
	assert.Equal(t, wsproto.OpPong, op)
	assert.Equal(t, "abc", string(p))
}

func TestMessageDeadline(t *testing.T) {
	e, rec := start(t, loop.Config{MessageTimeout: 200 * time.Millisecond})
	c := upgradeRaw(t, e)
	<-rec.opened
	whole := wsproto.AppendClientFrame(nil, true, wsproto.OpText, []byte(strings.Repeat("x", 100)), [4]byte{})
	c.write(whole[:20]) // the header and a little: then nothing
	assert.EqualValues(t, wsproto.ClosePolicy, c.expectClose(2*time.Second))
}

func TestClientCloseIsEchoed(t *testing.T) {
	e, rec := start(t, loop.Config{})
	c := upgradeRaw(t, e)
	<-rec.opened
	c.send(wsproto.OpText, []byte("hello"))
	c.write(wsproto.AppendClientFrame(nil, true, wsproto.OpClose, []byte{0x0f, 0xa0}, [4]byte{9, 9, 9, 9})) // 4000
	assert.EqualValues(t, 4000, c.expectClose(time.Second))
	c.expectEOF(time.Second)
	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.closed) == 1
	}, time.Second, 10*time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, []string{"hello"}, rec.msgs, "a message before the close is still handled")
	assert.True(t, rec.closed[0].PeerClosed)
	assert.EqualValues(t, 4000, rec.closed[0].Code)
}

func TestServerCloseWaitsForPeer(t *testing.T) {
	e, rec := start(t, loop.Config{CloseWait: 300 * time.Millisecond})
	c := upgradeRaw(t, e)
	lc := <-rec.opened
	lc.Close(4001, "kicked")
	assert.EqualValues(t, 4001, c.expectClose(time.Second))
	// Data after the server's close is discarded; the client never answers
	// the close, so the server drops TCP after CloseWait.
	c.send(wsproto.OpText, []byte("late"))
	took := c.expectEOF(2 * time.Second)
	assert.Less(t, took, time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Empty(t, rec.msgs)
}

func TestProtocolErrorsClose(t *testing.T) {
	cases := []struct {
		name  string
		frame []byte
		code  uint16
	}{
		{"unmasked", []byte{0x81, 0x01, 'x'}, wsproto.CloseProtocolError},
		{"rsv1 without extension", []byte{0xc1, 0x80, 0, 0, 0, 0}, wsproto.CloseProtocolError},
		{"reserved opcode", wsproto.AppendClientFrame(nil, true, wsproto.Opcode(3), nil, [4]byte{}), wsproto.CloseProtocolError},
		{"invalid utf8", wsproto.AppendClientFrame(nil, true, wsproto.OpText, []byte{0xff, 0xfe}, [4]byte{}), wsproto.CloseInvalidPayload},
		{"huge length", []byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, wsproto.CloseTooBig},
	}
	e, rec := start(t, loop.Config{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := upgradeRaw(t, e)
			<-rec.opened
			c.write(tc.frame)
			assert.Equal(t, tc.code, c.expectClose(time.Second))
		})
	}
}

func TestRefusedUpgradeGetsHTTPAnswer(t *testing.T) {
	e, _ := start(t, loop.Config{})
	c := dialRaw(t, e)
	c.write([]byte(strings.Replace(upgradeRequest, "Version: 13", "Version: 12", 1)))
	_ = c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	status, err := c.br.ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, status, "426")
	c.expectEOF(3 * time.Second)
}

// TestEarlyBytesKeepTheirOrder: bytes a client sends right behind its
// upgrade request are parsed before bytes it sends later, even while the
// upgrade and Open hooks are slow.
func TestEarlyBytesKeepTheirOrder(t *testing.T) {
	e, rec := startRecorder(t, loop.Config{}, &recorder{delay: 150 * time.Millisecond})
	c := dialRaw(t, e)
	first := wsproto.AppendClientFrame(nil, true, wsproto.OpText, []byte("one"), [4]byte{7, 7, 7, 7})
	c.write(append([]byte(upgradeRequest), first[:4]...))
	status, err := c.br.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, status, "101")
	c.write(first[4:])
	c.send(wsproto.OpText, []byte("two"))
	<-rec.opened
	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.msgs) == 2
	}, 2*time.Second, 10*time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, []string{"one", "two"}, rec.msgs)
}

// readStatus reads the HTTP status line the server answers a raw client.
func (c *rawClient) readStatus() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	status, err := c.br.ReadString('\n')
	require.NoError(c.t, err)
	return status
}

func TestConnectionCaps(t *testing.T) {
	t.Run("global", func(t *testing.T) {
		e, rec := start(t, loop.Config{MaxConns: 2})
		upgradeRaw(t, e)
		upgradeRaw(t, e)
		<-rec.opened
		<-rec.opened
		c := dialRaw(t, e)
		c.write([]byte(upgradeRequest))
		assert.Contains(t, c.readStatus(), "503")
		c.expectEOF(3 * time.Second)
	})
	t.Run("per address", func(t *testing.T) {
		e, rec := start(t, loop.Config{MaxConnsPerIP: 1})
		first := upgradeRaw(t, e)
		<-rec.opened
		c := dialRaw(t, e)
		c.write([]byte(upgradeRequest))
		assert.Contains(t, c.readStatus(), "503")
		c.expectEOF(3 * time.Second)
		// Once the first closes, the address may connect again.
		_ = first.nc.Close()
		require.Eventually(t, func() bool { return e.Conns() == 0 }, 5*time.Second, 10*time.Millisecond)
		upgradeRaw(t, e)
	})
	t.Run("pending handshakes per address", func(t *testing.T) {
		// docs/hostile.md row 1, slowloris: one address opens many connections
		// and drips its requests.
		e, rec := start(t, loop.Config{MaxPendingPerIP: 50, HandshakeTimeout: time.Second})
		attacker := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		var held []net.Conn
		refused := 0
		for range 80 {
			nc, err := attacker.Dial("tcp", e.Addr().String())
			require.NoError(t, err)
			t.Cleanup(func() { _ = nc.Close() })
			_, err = nc.Write([]byte("GET /ws HT"))
			require.NoError(t, err)
			held = append(held, nc)
		}
		for _, nc := range held {
			_ = nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			b := make([]byte, 64)
			if n, _ := nc.Read(b); n > 0 {
				assert.Contains(t, string(b[:n]), "503")
				refused++
			}
		}
		assert.Equal(t, 30, refused, "past 50 pending, refused at once")
		// Another address is unaffected.
		upgradeRaw(t, e)
		<-rec.opened
		// The 50 pending ones end at the handshake deadline.
		start := time.Now()
		require.Eventually(t, func() bool { return e.Conns() == 1 }, 5*time.Second, 10*time.Millisecond)
		t.Logf("pending handshakes closed %v after the attack", time.Since(start))
		again, err := attacker.Dial("tcp", e.Addr().String())
		require.NoError(t, err)
		defer again.Close()
		_, err = again.Write([]byte(upgradeRequest))
		require.NoError(t, err)
		status, err := bufio.NewReader(again).ReadString('\n')
		require.NoError(t, err)
		assert.Contains(t, status, "101", "the address may connect again")
	})
}

// TestAcceptRate: past AcceptBurst, connections are taken no faster than
// AcceptRate; the others wait and then succeed (none is refused).
func TestAcceptRate(t *testing.T) {
	e, rec := start(t, loop.Config{AcceptRate: 20, AcceptBurst: 5})
	begin := time.Now()
	var wg sync.WaitGroup
	for range 15 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, upgradeRaw(t, e).nc.Close())
		}()
	}
	wg.Wait()
	for range 15 {
		<-rec.opened
	}
	// 10 connections past the burst at 20/s take at least 0.5 s (less a
	// little for the limiter's own granularity).
	elapsed := time.Since(begin)
	assert.GreaterOrEqual(t, elapsed, 450*time.Millisecond)
	t.Logf("15 connections at 20/s after a burst of 5: %v", elapsed)
}

// TestDrainSpread: Shutdown with DrainSpread sends each client its 1001
// at a different moment across the window, not all at once.
func TestDrainSpread(t *testing.T) {
	e, rec := start(t, loop.Config{DrainSpread: 600 * time.Millisecond})
	const n = 12
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = upgradeRaw(t, e)
		<-rec.opened
	}
	got := make(chan time.Time, n)
	for _, c := range clients {
		go func() {
			op, p, err := c.readFrame(5 * time.Second)
			if err == nil && op == wsproto.OpClose {
				if code, _ := wsproto.ParseClose(p); code == wsproto.CloseGoingAway {
					got <- time.Now()
					c.send(wsproto.OpClose, p[:2])
					return
				}
			}
			got <- time.Time{}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.Shutdown(ctx))
	var first, last time.Time
	for range n {
		at := <-got
		require.False(t, at.IsZero(), "every client gets 1001")
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	assert.GreaterOrEqual(t, last.Sub(first), 400*time.Millisecond, "closes spread over the window")
	t.Logf("first to last 1001: %v", last.Sub(first))
}

// TestShutdownRightAfterStart: a server stopped the moment it started
// stops (nbio forgets a stop that reaches a poller before its loop
// begins; Start waits for every poller), and serves in between.
func TestShutdownRightAfterStart(t *testing.T) {
	for i := range 100 {
		e := loop.New(loop.Config{Pollers: 1 + i%8}, &recorder{opened: make(chan *loop.Conn, 1)})
		require.NoError(t, e.Start("127.0.0.1:0"))
		if i%10 == 0 {
			require.NoError(t, upgradeRaw(t, e).nc.Close())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, e.Shutdown(ctx), "round %d", i)
		cancel()
	}
}
