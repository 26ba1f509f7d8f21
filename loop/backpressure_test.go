package loop_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/selfsigned"
	"github.com/roomloop/roomloop/internal/wsproto"
	"github.com/roomloop/roomloop/loop"
)

// patience bounds every wait of these tests: generous, for loaded CI.
const patience = 30 * time.Second

// gated is a Handler whose "block" message blocks its worker until
// released; it records the index of every binary message (its first four
// bytes) and counts the other text messages.
type gated struct {
	release  chan struct{}
	once     sync.Once
	blocking chan struct{} // a "block" message is being handled
	mu       sync.Mutex
	got      []uint32
	texts    int
	closed   []loop.CloseInfo
}

func newGated() *gated {
	return &gated{release: make(chan struct{}), blocking: make(chan struct{}, 16)}
}

func (g *gated) unblock() { g.once.Do(func() { close(g.release) }) }

func (g *gated) Upgrade(*loop.Conn, *loop.Upgrade) (string, error) { return "", nil }
func (g *gated) Open(*loop.Conn)                                   {}
func (g *gated) Message(_ *loop.Conn, bin bool, data []byte) {
	switch {
	case bin:
		g.mu.Lock()
		g.got = append(g.got, binary.BigEndian.Uint32(data))
		g.mu.Unlock()
	case string(data) == "block":
		g.blocking <- struct{}{}
		<-g.release
	default:
		g.mu.Lock()
		g.texts++
		g.mu.Unlock()
	}
}
func (g *gated) Closed(_ *loop.Conn, info loop.CloseInfo) {
	g.mu.Lock()
	g.closed = append(g.closed, info)
	g.mu.Unlock()
}

func (g *gated) counts() (got, texts, closed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.got), g.texts, len(g.closed)
}

// flooder writes numbered binary messages of 16 KiB from a goroutine of
// its own, until a write fails or it has written limit of them.
type flooder struct {
	nc      net.Conn
	written atomic.Int64 // messages written
	limit   atomic.Int64 // stop after this many; 0: no limit
	since   atomic.Int64 // when the pending write began (unix nanos); 0 none
	done    chan error
}

func flood(t *testing.T, nc net.Conn) *flooder {
	f := &flooder{nc: nc, done: make(chan error, 1)}
	go f.run()
	t.Cleanup(func() {
		_ = nc.Close()
		<-f.done
	})
	return f
}

func (f *flooder) run() {
	payload := make([]byte, 16<<10)
	for i := uint32(0); ; i++ {
		if l := f.limit.Load(); l > 0 && int64(i) >= l {
			f.done <- nil
			return
		}
		binary.BigEndian.PutUint32(payload, i)
		frame := wsproto.AppendClientFrame(nil, true, wsproto.OpBinary, payload, [4]byte{7, 1, 3, 9})
		f.since.Store(time.Now().UnixNano())
		_, err := f.nc.Write(frame)
		f.since.Store(0)
		if err != nil {
			f.done <- err
			return
		}
		f.written.Add(1)
	}
}

// blockedFor is how long the pending write has waited for the socket.
func (f *flooder) blockedFor() time.Duration {
	s := f.since.Load()
	if s == 0 {
		return 0
	}
	return time.Since(time.Unix(0, s))
}

// way is a way for a client to reach the engine.
type way struct {
	name string
	// start starts an engine with cfg and h, and returns a function that
	// connects a client and upgrades it.
	start func(t *testing.T, cfg loop.Config, h loop.Handler) (*loop.Engine, func() *rawClient)
}

// ways are the ways in: a listener, TLS, a connection first served by
// Config.HTTPHandler, and one taken over from a net/http server.
var ways = []way{
	{"plain", func(t *testing.T, cfg loop.Config, h loop.Handler) (*loop.Engine, func() *rawClient) {
		e := startEngine(t, cfg, h)
		return e, func() *rawClient { return upgradeOn(t, dialRaw(t, e), "") }
	}},
	{"tls", func(t *testing.T, cfg loop.Config, h loop.Handler) (*loop.Engine, func() *rawClient) {
		cert, err := selfsigned.New()
		require.NoError(t, err)
		cfg.TLSConfig = cert.Server
		e := startEngine(t, cfg, h)
		return e, func() *rawClient {
			nc, err := tls.Dial("tcp", e.Addr().String(), cert.Client)
			require.NoError(t, err)
			t.Cleanup(func() { _ = nc.Close() })
			return upgradeOn(t, &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}, "")
		}
	}},
	{"handed over", func(t *testing.T, cfg loop.Config, h loop.Handler) (*loop.Engine, func() *rawClient) {
		cfg.HTTPHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "page") })
		e := startEngine(t, cfg, h)
		return e, func() *rawClient {
			return upgradeOn(t, dialRaw(t, e), "GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
		}
	}},
	{"ServeHTTP", func(t *testing.T, cfg loop.Config, h loop.Handler) (*loop.Engine, func() *rawClient) {
		e := loop.New(cfg, h)
		srv := httptest.NewServer(e)
		t.Cleanup(func() { shutdown(t, e); srv.Close() })
		return e, func() *rawClient {
			nc, err := net.Dial("tcp", srv.Listener.Addr().String())
			require.NoError(t, err)
			t.Cleanup(func() { _ = nc.Close() })
			return upgradeOn(t, &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}, "")
		}
	}},
}

func shutdown(t *testing.T, e *loop.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	require.NoError(t, e.Shutdown(ctx))
}

func startEngine(t *testing.T, cfg loop.Config, h loop.Handler) *loop.Engine {
	t.Helper()
	e := loop.New(cfg, h)
	require.NoError(t, e.Start("127.0.0.1:0"))
	t.Cleanup(func() { shutdown(t, e) })
	return e
}

// upgradeOn sends first (an HTTP request answered before the upgrade, if
// any), then the upgrade request, and reads the answers.
func upgradeOn(t *testing.T, c *rawClient, first string) *rawClient {
	t.Helper()
	require.NoError(t, c.nc.SetReadDeadline(time.Now().Add(patience)))
	if first != "" {
		c.write([]byte(first))
		resp, err := http.ReadResponse(c.br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	c.write([]byte(upgradeRequest))
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

// roundTrip pings the server and waits for the pong, skipping the
// server's own pings.
func (c *rawClient) roundTrip(payload string) {
	c.t.Helper()
	c.send(wsproto.OpPing, []byte(payload))
	for {
		op, p, err := c.readFrame(patience)
		require.NoError(c.t, err)
		if op == wsproto.OpPong && string(p) == payload {
			return
		}
		require.Equal(c.t, wsproto.OpPing, op, "only pings before the pong")
	}
}

// TestBackpressurePausesReading: a client floods messages behind a handler
// that blocks. Its inbox fills, the engine stops reading its socket and the
// client's writes block; the connection is not closed, not even past the
// heartbeat timeout. Other clients are served meanwhile. Once the handler
// returns, every message is handled, in order, and the connection is
// still open. The same on every way in.
func TestBackpressurePausesReading(t *testing.T) {
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			g := newGated()
			// A heartbeat timeout far shorter than the pause: a paused
			// connection must not be timed out for the silence.
			e, connect := w.start(t, loop.Config{MaxInflight: 16, InboxTimeout: 10 * patience,
				PingInterval: 100 * time.Millisecond, PingTimeout: time.Second}, g)
			t.Cleanup(g.unblock) // before the engine shuts down

			c := connect()
			c.send(wsproto.OpText, []byte("block"))
			<-g.blocking
			f := flood(t, c.nc)
			require.Eventually(t, func() bool { return f.blockedFor() > 2*time.Second }, patience, 10*time.Millisecond,
				"the client's writes back up")
			assert.GreaterOrEqual(t, e.Counters().Pauses, uint64(1))
			got, _, closed := g.counts()
			assert.Zero(t, got, "nothing handled while the handler blocks")
			assert.Zero(t, closed, "paused, not closed")
			t.Logf("the client's write blocked after %d messages of 16 KiB", f.written.Load())

			other := connect()
			other.roundTrip("bystander")
			other.send(wsproto.OpText, []byte("hello"))
			require.Eventually(t, func() bool { _, texts, _ := g.counts(); return texts == 1 }, patience, time.Millisecond,
				"another client is served meanwhile")

			total := f.written.Load() + 50
			f.limit.Store(total)
			g.unblock()
			select {
			case err := <-f.done:
				require.NoError(t, err)
				f.done <- nil // for the cleanup
			case <-time.After(patience):
				t.Fatal("the client's writes did not resume")
			}
			require.Eventually(t, func() bool { got, _, _ := g.counts(); return int64(got) == total }, patience, time.Millisecond)
			g.mu.Lock()
			for i, idx := range g.got {
				if uint32(i) != idx {
					g.mu.Unlock()
					t.Fatalf("message %d handled in place %d", idx, i)
				}
			}
			g.mu.Unlock()
			c.roundTrip("still open")
			_, _, closed = g.counts()
			assert.Zero(t, closed)
		})
	}
}

// TestBackpressureStallCloses: a connection whose inbox stays full, with
// nothing handled, for InboxTimeout is closed with 1008; other clients are
// served meanwhile.
func TestBackpressureStallCloses(t *testing.T) {
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			g := newGated()
			const timeout = 300 * time.Millisecond
			e, connect := w.start(t, loop.Config{MaxInflight: 16, InboxTimeout: timeout}, g)
			t.Cleanup(g.unblock)

			c := connect()
			c.send(wsproto.OpText, []byte("block"))
			<-g.blocking
			start := time.Now()
			flood(t, c.nc)
			other := connect()
			other.roundTrip("bystander")
			for {
				op, p, err := c.readFrame(patience)
				require.NoError(t, err)
				if op == wsproto.OpClose {
					code, reason := wsproto.ParseClose(p)
					assert.EqualValues(t, wsproto.ClosePolicy, code)
					assert.Equal(t, "messages not handled in time", reason)
					break
				}
			}
			assert.GreaterOrEqual(t, time.Since(start), timeout)
			assert.EqualValues(t, 1, e.Counters().Stalls)
			other.roundTrip("bystander after")
			other.send(wsproto.OpText, []byte("hello"))
			require.Eventually(t, func() bool { _, texts, _ := g.counts(); return texts == 1 }, patience, time.Millisecond)

			g.unblock()
			require.Eventually(t, func() bool { _, _, closed := g.counts(); return closed == 1 }, patience, time.Millisecond)
			g.mu.Lock()
			defer g.mu.Unlock()
			assert.True(t, g.closed[0].ServerClosed)
			assert.EqualValues(t, wsproto.ClosePolicy, g.closed[0].Code)
		})
	}
}

// TestBackpressurePingsPausedPeer: a paused connection is pinged every
// quarter PingInterval, so its peer keeps hearing from the server.
func TestBackpressurePingsPausedPeer(t *testing.T) {
	g := newGated()
	const interval = 4 * time.Second
	e := startEngine(t, loop.Config{MaxInflight: 4, PingInterval: interval, PingTimeout: time.Minute}, g)
	t.Cleanup(g.unblock)
	c := upgradeOn(t, dialRaw(t, e), "")
	c.send(wsproto.OpText, []byte("block"))
	<-g.blocking
	for range 8 {
		c.send(wsproto.OpText, []byte("waits"))
	}
	require.Eventually(t, func() bool { return e.Counters().Pauses > 0 }, patience, time.Millisecond)
	var pings []time.Time
	for len(pings) < 2 {
		op, _, err := c.readFrame(patience)
		require.NoError(t, err)
		require.Equal(t, wsproto.OpPing, op)
		pings = append(pings, time.Now())
	}
	gap := pings[1].Sub(pings[0])
	t.Logf("pings %v apart while paused (interval %v)", gap, interval)
	assert.Less(t, gap, interval*3/4)
	g.unblock()
	c.roundTrip("after")
	require.Eventually(t, func() bool { _, texts, _ := g.counts(); return texts == 8 }, patience, time.Millisecond)
}
