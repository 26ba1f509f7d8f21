package api_test

// Hostile inputs and faults (the rows of the table in docs/hostile.md)
// provoked on loopback against a real server: a test per row (or group of
// rows), at the row's scale brought down to seconds. docs/hostile.md maps
// every row to its tests, these and others. Each test asserts the
// server's answer and, where it is cheap to measure in-process, the bound
// (the server's Stats, heap growth with generous margins, connection
// counts back to baseline); a bystander pair in another room checks that
// other clients are unharmed (it loses no frame, its round trip works),
// and the server's log must hold no panic. Latencies are logged, never
// asserted.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wsproto"
	"github.com/roomloop/roomloop/loop"
)

// otherHost is a second loopback source address, for attackers whose
// per-address limits must not touch the bystanders on 127.0.0.1.
var otherHost = net.IPv4(127, 0, 0, 2)

// defaultRates are the default rate limits (startServer turns them off
// unless a test sets any).
var defaultRates = api.RateLimits{Join: api.DefaultRateLimits().Join}

// calm is a bystander pair in room "calm": check sends a frame from one
// to the other, which must receive it as the very next frame of its
// stream (seq continuity is checked), so it lost nothing and got nothing
// extra.
type calm struct {
	t        *testing.T
	from, to *client
	n        int
}

func newCalm(t *testing.T, ts *testServer) *calm {
	t.Helper()
	c := &calm{t: t, from: dial(t, ts, nil), to: dial(t, ts, nil)}
	c.from.join("calm")
	c.to.join("calm")
	if ts.presence { // from hears of to in the room's next diff
		c.from.expectDiff("calm", []string{c.to.id}, nil)
	}
	return c
}

// check round-trips one frame between the bystanders and logs how long it
// took.
func (c *calm) check(when string) {
	c.t.Helper()
	c.n++
	id := "calm-" + strconv.Itoa(c.n)
	start := time.Now()
	c.from.send(map[string]any{"event": "calm", "room": "calm", "id": id, "payload": c.n})
	m := c.to.expect("calm")
	rtt := time.Since(start)
	require.Equal(c.t, strconv.Itoa(c.n), string(m.Payload))
	require.Equal(c.t, c.from.id, m.From)
	require.Equal(c.t, id, c.from.expect("$ack").ID)
	c.t.Logf("bystander round trip %s: %v", when, rtt)
}

// noPanic requires the server's log to hold no panic.
func noPanic(t *testing.T, ts *testServer) {
	t.Helper()
	assert.NotContains(t, strings.ToLower(ts.logs.String()), "panic")
}

// heapInuse returns the heap in use after two collections: the second
// empties the sync.Pools' victim caches, so that what a pool happens to
// hold (a flate writer of a compressing client is a MiB) is not counted
// on one side of a comparison only.
func heapInuse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

// raw is a hand-driven client: it writes whatever bytes a test gives it.
type raw struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// rawDial opens a TCP connection to ts from the address from (nil: any).
func rawDial(t *testing.T, ts *testServer, from net.IP) *raw {
	t.Helper()
	d := net.Dialer{Timeout: wait}
	if from != nil {
		d.LocalAddr = &net.TCPAddr{IP: from}
	}
	nc, err := d.Dial("tcp", ts.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &raw{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// upgradeHead is a valid upgrade request with extra header lines, each
// without its CRLF.
func upgradeHead(extra ...string) string {
	h := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	if compressedSuite.Load() {
		h += deflateOffer + "\r\n"
	}
	return h + "\r\n"
}

func (r *raw) write(b []byte) error {
	_ = r.nc.SetWriteDeadline(time.Now().Add(wait))
	_, err := r.nc.Write(b)
	return err
}

// response reads the server's HTTP answer and its body.
func (r *raw) response() (*http.Response, string) {
	r.t.Helper()
	require.NoError(r.t, r.nc.SetReadDeadline(time.Now().Add(wait)))
	resp, err := http.ReadResponse(r.br, nil)
	require.NoError(r.t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	return resp, string(body)
}

// rawUpgrade connects, upgrades with the extra header lines, and reads the
// 101 and $welcome; it returns the 101 response and the session id.
func rawUpgrade(t *testing.T, ts *testServer, extra ...string) (*raw, *http.Response, string) {
	t.Helper()
	r := rawDial(t, ts, nil)
	require.NoError(t, r.write([]byte(upgradeHead(extra...))))
	resp, _ := r.response()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	op, p, err := r.readFrame(wait)
	require.NoError(t, err)
	require.Equal(t, wsproto.OpText, op)
	var m msg
	require.NoError(t, jsonUnmarshal(p, &m))
	require.Equal(t, "$welcome", m.Event)
	var w frame.WelcomePayload
	m.payload(t, &w)
	return r, resp, w.Session
}

// send writes one masked frame.
func (r *raw) send(fin bool, op wsproto.Opcode, payload []byte) error {
	return r.write(wsproto.AppendClientFrame(nil, fin, op, payload, [4]byte{1, 2, 3, 4}))
}

// readFrame reads one server frame.
func (r *raw) readFrame(d time.Duration) (wsproto.Opcode, []byte, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("server frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r.br, p); err != nil {
		return 0, nil, err
	}
	if h[0]&0x40 != 0 { // compressed (the suite's compressed run)
		fr := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
		var err error
		if p, err = io.ReadAll(fr); !errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("inflating a server frame: %v", err)
		}
	}
	return wsproto.Opcode(h[0] & 0x0f), p, nil
}

// closeCode reads frames until a close frame and returns its code, or an
// error if the connection ends first.
func (r *raw) closeCode(d time.Duration) (uint16, error) {
	for {
		op, p, err := r.readFrame(d)
		if err != nil {
			return 0, err
		}
		if op == wsproto.OpClose {
			code, _ := wsproto.ParseClose(p)
			return code, nil
		}
	}
}

func (r *raw) expectClose(code uint16) {
	r.t.Helper()
	got, err := r.closeCode(wait)
	require.NoError(r.t, err, "no close frame")
	require.Equal(r.t, code, got)
}

// ended reads (discarding) until the server ends the connection, and
// reports whether it did within d (EOF or reset, not our deadline).
func (r *raw) ended(d time.Duration) bool {
	_ = r.nc.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, r.br)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// header64 is a masked frame header declaring n payload bytes in the
// 64-bit form.
func header64(b0 byte, n uint64) []byte {
	h := []byte{b0, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, n)
	return append(h, 1, 2, 3, 4)
}

// Row 1: a slowloris from one address. 500 sockets drip their upgrade
// request at 10 B/s: past MaxPendingPerIP (256) they are refused with 503
// at once, and the held ones are dropped at the handshake deadline (a
// total deadline: the dripping bytes do not extend it). A client from
// another address connects meanwhile.
func TestHostileSlowloris(t *testing.T) {
	const n, timeout = 500, time.Second
	ts := startServer(t, &api.Options{HandshakeTimeout: timeout})
	cm := newCalm(t, ts)
	base := ts.Stats().Connections

	type result struct {
		got503 bool
		other  string
		took   time.Duration
		ended  bool
	}
	results := make([]result, n)
	conns := make([]net.Conn, n)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: otherHost}}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		nc, err := d.Dial("tcp", ts.Addr().String())
		require.NoError(t, err)
		t.Cleanup(func() { _ = nc.Close() })
		conns[i] = nc
		dialed := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = nc.SetReadDeadline(time.Now().Add(3 * wait))
			b, err := io.ReadAll(nc)
			_ = nc.Close() // the server lingers after a refusal until the client closes
			var ne net.Error
			res := result{took: time.Since(dialed), ended: !(errors.As(err, &ne) && ne.Timeout())}
			if strings.HasPrefix(string(b), "HTTP/1.1 503") {
				res.got503 = true
			} else if len(b) > 0 {
				res.other = string(b[:min(len(b), 40)])
			}
			results[i] = res
		}()
	}
	dialing := time.Since(start)
	t.Logf("%d sockets dialed in %v", n, dialing)
	// Drip the request, one byte per socket every 100ms.
	stop := make(chan struct{})
	dripped := make(chan struct{})
	go func() {
		defer close(dripped)
		req := []byte(upgradeHead())
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for k := 0; ; k++ {
			for _, nc := range conns {
				_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				_, _ = nc.Write(req[k%len(req) : k%len(req)+1])
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	// Meanwhile a client from 127.0.0.1 connects and the bystanders talk.
	connStart := time.Now()
	dial(t, ts, nil)
	t.Logf("a normal client connected in %v during the attack", time.Since(connStart))
	cm.check("during the slowloris")

	wg.Wait()
	close(stop)
	<-dripped
	refused, held := 0, 0
	var slowest time.Duration
	for _, r := range results {
		assert.Empty(t, r.other, "only 503 or nothing")
		assert.True(t, r.ended, "the server ends every dripping socket")
		if r.got503 {
			refused++
		} else {
			held++
			slowest = max(slowest, r.took)
		}
	}
	t.Logf("%d refused with 503 at once, %d held until the %v deadline (the last dropped %v after its connect)",
		refused, held, timeout, slowest)
	if dialing < timeout/2 {
		// (Were the machine so slow that the first sockets reached their
		// deadline while the last were dialed, more could have been held.)
		assert.Equal(t, n-loop.DefaultMaxPendingPerIP, refused, "past MaxPendingPerIP (256 by default), refused at once")
	} else {
		assert.GreaterOrEqual(t, refused, 1)
	}
	require.Eventually(t, func() bool { return ts.Stats().Connections == base+1 }, wait, 10*time.Millisecond)
	cm.check("after the slowloris")
	noPanic(t, ts)
}

// Row 2: header floods. 100 upgrade requests, half with one 64 KiB header
// line and half with 2,000 header lines, each get 431; while the server
// still holds all 100 connections its heap has grown by little.
func TestHostileHeaderFlood(t *testing.T) {
	// A long close wait keeps every refused connection on the server
	// while the heap is measured.
	ts := startServer(t, &api.Options{CloseTimeout: time.Minute})
	cm := newCalm(t, ts)
	base := ts.Stats().Connections
	big := []byte("GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64*kib) + "\r\n\r\n")
	many := []byte("GET /ws HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("A: b\r\n", 2000) + "\r\n")
	before := heapInuse()
	conns := make([]*raw, 100)
	for i := range conns {
		r := rawDial(t, ts, nil)
		head := big
		if i%2 == 1 {
			head = many
		}
		_ = r.write(head) // the server may stop reading once it has answered
		resp, body := r.response()
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode, body)
		conns[i] = r
	}
	require.Equal(t, base+len(conns), ts.Stats().Connections, "all refused connections still open")
	grown := heapInuse() - before
	t.Logf("100 oversized heads answered 431; heap +%d KiB with all 100 connections held", grown/kib)
	assert.Less(t, grown, int64(2*mib))
	for _, r := range conns {
		_ = r.nc.Close()
	}
	require.Eventually(t, func() bool { return ts.Stats().Connections == base }, wait, 10*time.Millisecond)
	cm.check("after the header flood")
	noPanic(t, ts)
}

// Row 3: malformed upgrade requests, over real sockets: each gets its
// status (and headers), then the server ends the connection.
func TestHostileMalformedUpgrades(t *testing.T) {
	ts := startServer(t, nil)
	cm := newCalm(t, ts)
	base := ts.Stats().Connections
	std := strings.TrimSuffix(upgradeHead(), "\r\n")
	replace := func(old, new string) string { return strings.Replace(upgradeHead(), old, new, 1) }
	cases := []struct {
		name   string
		req    string
		status int
		header http.Header
	}{
		{"bad key", replace("dGhlIHNhbXBsZSBub25jZQ==", "!!!!!!!!!!!!!!!!!!!!!!=="), 400, nil},
		{"key of 15 bytes", replace("dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAA"), 400, nil},
		{"key missing", replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""), 400, nil},
		{"duplicate key", upgradeHead("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="), 400, nil},
		{"version 12", replace("Version: 13", "Version: 12"), 426, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"version missing", replace("Sec-WebSocket-Version: 13\r\n", ""), 426, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"duplicate version", upgradeHead("Sec-WebSocket-Version: 13"), 400, nil},
		{"POST", replace("GET", "POST"), 405, http.Header{"Allow": {"GET"}}},
		{"duplicate host", upgradeHead("Host: evil"), 400, nil},
		{"duplicate origin", upgradeHead("Origin: http://x", "Origin: http://y"), 400, nil},
		{"no Upgrade header", replace("Upgrade: websocket\r\n", ""), 400, nil},
		{"Connection: close", replace("Connection: Upgrade", "Connection: close"), 400, nil},
		{"wrong path", replace("/ws", "/other"), 404, nil},
		{"HTTP/1.0", replace("HTTP/1.1", "HTTP/1.0"), 400, nil},
		{"a body", upgradeHead("Content-Length: 5") + "hello", 400, nil},
		{"bare LF", strings.ReplaceAll(upgradeHead(), "\r\n", "\n"), 400, nil},
		{"header without colon", std + "NoColon\r\n\r\n", 400, nil},
		{"binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rawDial(t, ts, nil)
			require.NoError(t, r.write([]byte(tc.req)))
			resp, body := r.response()
			assert.Equal(t, tc.status, resp.StatusCode, body)
			for k, v := range tc.header {
				assert.Equal(t, v, resp.Header[k], k)
			}
			assert.NotEmpty(t, strings.TrimSpace(body), "a plain-text reason")
			assert.True(t, r.ended(wait), "the server ends the connection")
		})
	}
	require.Eventually(t, func() bool { return ts.Stats().Connections == base }, wait, 10*time.Millisecond)
	assert.Equal(t, 2, ts.Stats().Sessions, "no session was created")
	cm.check("after the malformed upgrades")
	noPanic(t, ts)
}

// Rows 4 and 12: 4 KiB subprotocol lists are parsed in linear time and
// answered by what they offer; extension offers, malformed deflate
// parameters included, are declined (no Sec-WebSocket-Extensions in the
// 101: compression is never negotiated); and a deflate bomb sent anyway,
// with RSV1 set, is closed with 1002 before anything is inflated or
// buffered.
func TestHostileOffers(t *testing.T) {
	ts := startServer(t, nil)
	cm := newCalm(t, ts)
	long := func(n int) string { return strings.Repeat("p", n) }
	protocols := []struct {
		name, list string
		status     int
		echo       string
	}{
		{"31 long unknown tokens, then json", strings.Repeat(long(126)+",", 31) + "roomloop.json", 101, "roomloop.json"},
		{"32 long unknown tokens", strings.Repeat(long(126)+",", 32), 400, ""},
		{"2048 elements", strings.Repeat("a,", 2048), 400, ""},
		{"4 KiB of separators, then bin", strings.Repeat(", \t", 1365) + "roomloop.bin", 101, "roomloop.bin"},
		{"4 KiB of spaces in a list", strings.Repeat("a ", 2048), 400, ""},
		{"one 4 KiB token", long(4096), 400, ""},
	}
	for _, tc := range protocols {
		t.Run("protocols/"+tc.name, func(t *testing.T) {
			r := rawDial(t, ts, nil)
			start := time.Now()
			require.NoError(t, r.write([]byte(upgradeHead("Sec-WebSocket-Protocol: "+tc.list))))
			resp, body := r.response()
			t.Logf("answered %d in %v", resp.StatusCode, time.Since(start))
			require.Equal(t, tc.status, resp.StatusCode, body)
			assert.Equal(t, tc.echo, resp.Header.Get("Sec-WebSocket-Protocol"))
		})
	}
	extensions := []string{
		"permessage-deflate",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_max_window_bits=99",
		"permessage-deflate; server_max_window_bits=8; server_no_context_takeover, permessage-deflate",
		"permessage-deflate; =; ;;; client_max_window_bits=\"\"",
		"x-webkit-deflate-frame",
		strings.Repeat("permessage-deflate; a=b, ", 160),
	}
	if compressedSuite.Load() {
		// The offers are TestConformanceDeflateNegotiation's, the bomb
		// TestHostileDeflateBomb's, with compression on.
		cm.check("after the offers")
		return
	}
	for i, ext := range extensions {
		t.Run(fmt.Sprintf("extensions/%d", i), func(t *testing.T) {
			_, resp, _ := rawUpgrade(t, ts, "Sec-WebSocket-Extensions: "+ext)
			assert.Empty(t, resp.Header.Values("Sec-WebSocket-Extensions"), "no extension is negotiated")
		})
	}
	t.Run("deflate bomb", func(t *testing.T) {
		var z bytes.Buffer
		fw, err := flate.NewWriter(&z, flate.BestSpeed)
		require.NoError(t, err)
		zeros := make([]byte, 64*kib)
		for range 256 {
			_, err = fw.Write(zeros)
			require.NoError(t, err)
		}
		require.NoError(t, fw.Close())
		bomb := wsproto.AppendClientFrame(nil, true, wsproto.OpText, z.Bytes(), [4]byte{5, 6, 7, 8})
		bomb[0] |= 0x40 // RSV1: "compressed", though nothing was negotiated
		t.Logf("a %d-byte message that inflates to 16 MiB", z.Len())
		r, resp, _ := rawUpgrade(t, ts, "Sec-WebSocket-Extensions: permessage-deflate")
		require.Empty(t, resp.Header.Values("Sec-WebSocket-Extensions"))
		before := heapInuse()
		_ = r.write(bomb)
		r.expectClose(wsproto.CloseProtocolError)
		grown := heapInuse() - before
		t.Logf("heap +%d KiB", grown/kib)
		assert.Less(t, grown, int64(mib))
	})
	cm.check("after the offers")
	noPanic(t, ts)
}

// Row 5: cross-site WebSocket hijacking. Only the exact allowed origin (in
// any case) and the same origin are accepted; look-alikes get 403.
func TestHostileOrigins(t *testing.T) {
	ts := startServer(t, &api.Options{AllowedOrigins: []string{"https://app.example.com"}})
	cm := newCalm(t, ts)
	for _, o := range []string{
		"https://app.example.evil.com",
		"https://app.example.com.evil.com",
		"https://evilapp.example.com",
		"https://evil.com/https://app.example.com",
		"http://app.example.com",
		"https://app.example.com:8443",
		"https://app.example.com.",
		"null",
		"https://app.example.com, https://evil.com",
	} {
		assert.Equal(t, "origin not allowed", dialRefused(t, ts, http.Header{"Origin": {o}}, http.StatusForbidden), o)
	}
	dial(t, ts, http.Header{"Origin": {"HTTPS://APP.EXAMPLE.COM"}})
	assert.Equal(t, 3, ts.Stats().Sessions, "no refused origin got a session")
	cm.check("after the hijack attempts")
	noPanic(t, ts)
}

// Row 6: an Authorize hook that hangs. Each such upgrade is answered 503
// at AuthTimeout, not when the hook returns, and the bystanders keep
// talking meanwhile.
func TestHostileSlowAuthorize(t *testing.T) {
	const authTimeout = 300 * time.Millisecond
	release := make(chan struct{})
	var hanging atomic.Int32
	ts := startServer(t, &api.Options{AuthTimeout: authTimeout,
		Authorize: func(r *http.Request) (api.Identity, error) {
			if r.URL.Query().Get("slow") != "" {
				hanging.Add(1)
				select { // the hook sleeps 10s (the test releases it sooner)
				case <-release:
				case <-time.After(10 * time.Second):
				}
			}
			return api.Identity{}, nil
		}})
	t.Cleanup(func() { close(release) }) // before the server shuts down
	cm := newCalm(t, ts)
	const n = 20
	type result struct {
		status int
		took   time.Duration
		err    error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			start := time.Now()
			ws, resp, err := testDialer().Dial(ts.url+"?slow=1", nil)
			res := result{took: time.Since(start), err: err}
			if ws != nil {
				_ = ws.Close()
			}
			if resp != nil {
				res.status = resp.StatusCode
				_ = resp.Body.Close()
			}
			results <- res
		}()
	}
	require.Eventually(t, func() bool { return hanging.Load() == n }, 15*time.Second, 5*time.Millisecond,
		"every hook was called")
	cm.check("while 20 hooks hang") // they hang until the cleanup releases them, whatever AuthTimeout answered
	var slowest time.Duration
	for range n {
		r := <-results
		require.ErrorIs(t, r.err, websocket.ErrBadHandshake)
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.Less(t, r.took, 5*time.Second, "answered at AuthTimeout, not when the 10 s hook returns")
		slowest = max(slowest, r.took)
	}
	t.Logf("%d hanging hooks answered 503 within %v (AuthTimeout %v)", n, slowest, authTimeout)
	assert.Equal(t, 2, ts.Stats().Sessions)
	cm.check("after the hanging hooks")
	noPanic(t, ts)
}

// Row 7: a connection flood past MaxConns: the excess is answered 503 at
// once, the bystanders are unharmed, and the count returns to baseline.
// With an accept rate, a flood waits in the listen backlog instead, and
// every connection is served in turn.
func TestHostileConnectionFlood(t *testing.T) {
	t.Run("past MaxConns", connectionFloodCapped)
	t.Run("accept rate", connectionFloodPaced)
}

func connectionFloodPaced(t *testing.T) {
	const rate, burst, n = 1000, 50, 300
	ts := startServer(t, &api.Options{AcceptRate: rate, AcceptBurst: burst})
	cm := newCalm(t, ts)
	start := time.Now()
	conns := make([]*raw, n)
	for i := range conns {
		conns[i] = rawDial(t, ts, otherHost) // the kernel completes the TCP handshake
		require.NoError(t, conns[i].write([]byte(upgradeHead())))
	}
	cm.check("while the flood waits in the backlog")
	for _, r := range conns {
		resp, body := r.response()
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode, body)
	}
	t.Logf("%d connections at %d/s after a burst of %d: all upgraded after %v", n, rate, burst, time.Since(start))
	cm.check("after the paced flood")
	noPanic(t, ts)
}

func connectionFloodCapped(t *testing.T) {
	const maxConns, n = 64, 300
	// A long close wait keeps the refused connections counted while the
	// flood goes on.
	ts := startServer(t, &api.Options{MaxConns: maxConns, CloseTimeout: time.Minute})
	cm := newCalm(t, ts)
	base := ts.Stats().Connections
	conns := make([]*raw, n)
	for i := range conns {
		conns[i] = rawDial(t, ts, otherHost)
		require.NoError(t, conns[i].write([]byte(upgradeHead())))
	}
	upgraded, refused := 0, 0
	for _, r := range conns {
		resp, _ := r.response()
		switch resp.StatusCode {
		case http.StatusSwitchingProtocols:
			upgraded++
		case http.StatusServiceUnavailable:
			refused++
			_ = r.nc.Close()
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	t.Logf("%d upgraded, %d refused with 503", upgraded, refused)
	assert.Equal(t, maxConns-base, upgraded)
	assert.Equal(t, n-upgraded, refused)
	cm.check("at the connection cap")
	for _, r := range conns {
		_ = r.nc.Close()
	}
	require.Eventually(t, func() bool { return ts.Stats().Connections == base }, wait, 10*time.Millisecond)
	dial(t, ts, nil)
	noPanic(t, ts)
}

// Rows 8, 9 and 10 over real sockets: lengths that would overflow or
// allocate, and endless fragments, are closed with 1009 as soon as the
// header says so, with no panic.
func TestHostileFrameLengths(t *testing.T) {
	ts := startServer(t, nil)
	cm := newCalm(t, ts)
	t.Run("first frame declares 2^63-1 bytes", func(t *testing.T) {
		r, _, _ := rawUpgrade(t, ts)
		before := heapInuse()
		require.NoError(t, r.write(header64(0x82, math.MaxInt64)[:10])) // the header alone, no mask yet
		r.expectClose(wsproto.CloseTooBig)
		assert.Less(t, heapInuse()-before, int64(mib), "nothing allocated for the claim")
	})
	t.Run("length overflow mid-message", func(t *testing.T) {
		// "abc", then a continuation declaring 2^63-2 bytes: the sum
		// overflows in a naive parser (the nbio panic).
		r, _, _ := rawUpgrade(t, ts)
		require.NoError(t, r.send(false, wsproto.OpText, []byte("abc")))
		require.NoError(t, r.write(header64(0x80, math.MaxInt64-1)))
		r.expectClose(wsproto.CloseTooBig)
	})
	t.Run("70k one-byte continuations", func(t *testing.T) {
		r, _, _ := rawUpgrade(t, ts)
		var flood []byte
		flood = wsproto.AppendClientFrame(flood, false, wsproto.OpBinary, []byte("x"), [4]byte{1, 2, 3, 4})
		for range 70_000 {
			flood = wsproto.AppendClientFrame(flood, false, wsproto.OpContinuation, []byte("x"), [4]byte{1, 2, 3, 4})
		}
		_ = r.write(flood) // the server stops reading at frame 4097
		r.expectClose(wsproto.CloseTooBig)
	})
	t.Run("70k empty continuations", func(t *testing.T) {
		r, _, _ := rawUpgrade(t, ts)
		var flood []byte
		flood = wsproto.AppendClientFrame(flood, false, wsproto.OpText, nil, [4]byte{1, 2, 3, 4})
		for range 70_000 {
			flood = wsproto.AppendClientFrame(flood, false, wsproto.OpContinuation, nil, [4]byte{1, 2, 3, 4})
		}
		_ = r.write(flood)
		r.expectClose(wsproto.CloseTooBig)
	})
	cm.check("after the length attacks")
	noPanic(t, ts)
}

// Row 11: 200 connections each declare a 64 KiB message and send it at
// 10 B/s. Each is closed with 1008 at MessageTimeout; the heap holds only
// what was received. And a partial frame is no sign of life: a client
// that only drips is dropped at the heartbeat timeout.
func TestHostileSlowMessages(t *testing.T) {
	// MessageTimeout long enough that the heap is sampled while every
	// message is still open, even on a loaded machine.
	const n, msgTimeout = 200, 2 * time.Second
	ts := startServer(t, &api.Options{MessageTimeout: msgTimeout})
	cm := newCalm(t, ts)
	base := ts.Stats().Connections
	conns := make([]*raw, n)
	for i := range conns {
		conns[i], _, _ = rawUpgrade(t, ts)
	}
	before := heapInuse()
	payload := bytes.Repeat([]byte("x"), 64*kib)
	msg := wsproto.AppendClientFrame(nil, true, wsproto.OpText, payload, [4]byte{1, 2, 3, 4})
	start := time.Now()
	stop := make(chan struct{})
	dripped := make(chan struct{})
	headersOut := make(chan struct{})
	go func() {
		defer close(dripped)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for k := 0; ; k += 2 {
			chunk := msg[k : k+2]
			if k == 0 {
				chunk = msg[:14] // the whole header at once: the 64 KiB is declared at the start
				k = 12
			}
			for _, r := range conns {
				_ = r.nc.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
				_, _ = r.nc.Write(chunk) // then the payload, 2 bytes a tick
			}
			if k == 12 {
				close(headersOut)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	<-headersOut
	cm.check("while 200 messages drip") // the server's loops have run since the headers went out
	// The smallest of a few samples (each after a GC) taken while the
	// messages are open: other allocations only add to a sample.
	grown := int64(math.MaxInt64)
	for i := 0; i < 3 && (i == 0 || time.Since(start) < msgTimeout/2); i++ {
		grown = min(grown, heapInuse()-before)
		time.Sleep(100 * time.Millisecond) // spaces the samples
	}
	sampled := time.Since(start)
	var slowest time.Duration
	for _, r := range conns {
		r.expectClose(wsproto.ClosePolicy)
		slowest = max(slowest, time.Since(start))
	}
	close(stop)
	<-dripped
	t.Logf("heap +%d KiB with %d messages partially received (sampled by %v); all closed 1008 by %v (MessageTimeout %v)",
		grown/kib, n, sampled, slowest, msgTimeout)
	// Guards buffering by the declared length: 200 × 64 KiB would hold
	// 12.5 MiB; what was received is a few KiB.
	assert.Less(t, grown, int64(6*mib))
	for _, r := range conns {
		_ = r.nc.Close()
	}
	require.Eventually(t, func() bool { return ts.Stats().Connections == base }, wait, 10*time.Millisecond)

	t.Run("partial frames are no sign of life", func(t *testing.T) {
		ts := startServer(t, &api.Options{HeartbeatInterval: 100 * time.Millisecond,
			HeartbeatTimeout: 500 * time.Millisecond})
		r, _, _ := rawUpgrade(t, ts)
		require.NoError(t, r.write(msg[:10])) // part of the 14-byte header
		start := time.Now()
		for i := 10; time.Since(start) < 3*time.Second; i++ {
			if r.write(msg[i:i+1]) != nil {
				break
			}
			time.Sleep(20 * time.Millisecond) // paces the drip: a byte every 20 ms
		}
		// Dropped without a close frame (it is not there to read it):
		// only pings came before the end.
		for {
			op, _, err := r.readFrame(time.Second)
			if err != nil {
				var ne net.Error
				require.False(t, errors.As(err, &ne) && ne.Timeout(), "still open")
				break
			}
			require.Equal(t, wsproto.OpPing, op)
		}
		t.Logf("a dripping client was dropped %v after it began (heartbeat timeout 500ms)", time.Since(start))
		noPanic(t, ts)
	})
	noPanic(t, ts)
}

// Row 13: a ping flood from a client that never reads. The server keeps
// at most one pong pending (the latest ping's), so its heap does not grow
// with the pings; the last pong echoes the last ping.
func TestHostilePingFlood(t *testing.T) {
	const n = 50_000
	ts := startServer(t, nil)
	cm := newCalm(t, ts)
	r, _, _ := rawUpgrade(t, ts)
	const perChunk = 500
	chunk := make([]byte, 0, perChunk*131)
	p := make([]byte, 125)
	before := heapInuse()
	for i := 0; i < n; i += perChunk { // 6.5 MB of pings, never reading
		chunk = chunk[:0]
		for j := i; j < i+perChunk; j++ {
			binary.BigEndian.PutUint32(p, uint32(j))
			chunk = wsproto.AppendClientFrame(chunk, true, wsproto.OpPing, p, [4]byte{1, 2, 3, 4})
		}
		require.NoError(t, r.write(chunk))
	}
	cm.check("during the ping flood")
	grown := heapInuse() - before
	pongs := 0
	for {
		op, p, err := r.readFrame(wait)
		require.NoError(t, err, "the last ping is answered")
		if op == wsproto.OpPing {
			continue // the server's own ping
		}
		require.Equal(t, wsproto.OpPong, op)
		require.Len(t, p, 125)
		pongs++
		if binary.BigEndian.Uint32(p) == n-1 {
			break
		}
	}
	t.Logf("%d pings (%d KiB) from a client that did not read: heap +%d KiB; %d pongs, the last for the last ping",
		n, n*131/kib, grown/kib, pongs)
	assert.Less(t, grown, int64(2*mib))
	assert.Less(t, pongs, n, "pongs coalesce")
	cm.check("after the ping flood")
	noPanic(t, ts)
}

// Row 17: a client that ignores the server's close and keeps sending: its
// data is discarded, and its connection is dropped at CloseTimeout. A
// client that half-closes without a close frame is closed too.
func TestHostileIgnoresClose(t *testing.T) {
	const closeTimeout = 500 * time.Millisecond
	ts := startServer(t, &api.Options{CloseTimeout: closeTimeout, DisablePresence: true})
	cm := newCalm(t, ts)
	base := ts.Stats().Connections
	r, _, id := rawUpgrade(t, ts)
	require.NoError(t, r.send(true, wsproto.OpText, []byte(`{"event":"$join","room":"calm"}`)))
	op, p, err := r.readFrame(wait)
	for err == nil && op == wsproto.OpPing { // the server may ping (ConfirmAfter)
		op, p, err = r.readFrame(wait)
	}
	require.NoError(t, err)
	require.Equal(t, wsproto.OpText, op)
	require.Contains(t, string(p), `"$joined"`)
	require.NoError(t, ts.Kick(id, "bye"))
	r.expectClose(uint16(api.CloseKicked))
	start := time.Now()
	for range 20 { // data after the close, and never a close frame
		if r.send(true, wsproto.OpText, []byte(`{"event":"chat","room":"calm","payload":"late"}`)) != nil {
			break
		}
	}
	require.True(t, r.ended(wait), "dropped after CloseTimeout")
	t.Logf("a client that ignored the close was dropped %v after it (CloseTimeout %v)", time.Since(start), closeTimeout)
	require.Eventually(t, func() bool { return ts.Stats().Connections == base }, wait, 10*time.Millisecond)
	cm.check("after the ignored close") // the late chat never reached the room

	h, _, _ := rawUpgrade(t, ts)
	require.NoError(t, h.nc.(*net.TCPConn).CloseWrite())
	require.True(t, h.ended(wait), "a half-closed client is closed")
	require.Eventually(t, func() bool { return ts.Stats().Connections == base }, wait, 10*time.Millisecond)
	noPanic(t, ts)
}

// Row 19: spoofed from and seq are replaced, and a client's id is never
// forwarded, in rooms and in direct messages.
func TestHostileSpoofedFields(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	cm := newCalm(t, ts)
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.join("r")
	b.join("r")
	a.send(map[string]any{"event": "chat", "room": "r", "from": b.id, "seq": 999, "id": "secret-1"})
	m := b.expect("chat") // next checks b's own seq
	assert.Equal(t, a.id, m.From)
	assert.Empty(t, m.ID)
	a.send(map[string]any{"event": "dm", "to": b.id, "from": "s-admin", "seq": 7, "id": "secret-2"})
	m = b.expect("dm")
	assert.Equal(t, a.id, m.From)
	assert.Empty(t, m.ID)
	assert.Equal(t, "secret-1", a.expect("$ack").ID)
	assert.Equal(t, "secret-2", a.expect("$ack").ID)
	cm.check("after the spoofed frames")
	noPanic(t, ts)
}

// Row 20: one client joins thousands of rooms, and many clients try to
// fill the server's room table: too_many_rooms at MaxRoomsPerConn (64 by
// default) and at MaxRooms; once the clients leave, the room count is
// back to baseline.
func TestHostileRoomFlood(t *testing.T) {
	const maxRooms = 300
	ts := startServer(t, &api.Options{DisablePresence: true, MaxRooms: maxRooms, ResumeWindow: 300 * time.Millisecond})
	cm := newCalm(t, ts)
	baseRooms := ts.Stats().Rooms
	// joinMany pipelines $join of count new rooms and counts the answers.
	joinMany := func(c *client, prefix string, count int) (joined, refused int) {
		for i := range count {
			c.send(map[string]any{"event": "$join", "room": fmt.Sprintf("%s-%d", prefix, i)})
			if i%256 == 255 { // read as we go: the answers are queued for us
				j, r := readJoins(c, 256)
				joined, refused = joined+j, refused+r
			}
		}
		j, r := readJoins(c, count%256)
		return joined + j, refused + r
	}
	a := dial(t, ts, nil)
	joined, refused := joinMany(a, "a", 2000)
	assert.Equal(t, api.DefaultMaxRoomsPerConn, joined)
	assert.Equal(t, 2000-joined, refused)
	// Past the server's cap: 8 more clients × 64 rooms.
	clients := []*client{a}
	total := joined
	for i := range 8 {
		c := dial(t, ts, nil)
		clients = append(clients, c)
		j, _ := joinMany(c, fmt.Sprintf("c%d", i), api.DefaultMaxRoomsPerConn)
		total += j
	}
	t.Logf("rooms: %d joined by 9 clients; the server holds %d (MaxRooms %d)", total, ts.Stats().Rooms, maxRooms)
	assert.Equal(t, maxRooms, ts.Stats().Rooms)
	assert.Equal(t, maxRooms-baseRooms, total)
	cm.check("with the room table full")
	// Half close, half drop (their sessions end after the resume window).
	for i, c := range clients {
		if i%2 == 0 {
			c.closeNormally()
		} else {
			_ = c.ws.Close()
		}
	}
	require.Eventually(t, func() bool { return ts.Stats().Rooms == baseRooms }, wait, 10*time.Millisecond,
		"every room freed")
	cm.check("after the room flood")
	noPanic(t, ts)
}

// readUntilClose reads c's frames until the server closes the connection,
// counting the answers that are event and the $error answers, which must
// all carry code; it returns both counts and the close code. Other frames
// are skipped.
func readUntilClose(c *client, event, code string) (answered, refused, closeCode int) {
	c.t.Helper()
	for {
		require.NoError(c.t, c.ws.SetReadDeadline(time.Now().Add(wait)))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			require.ErrorAs(c.t, err, &ce)
			return answered, refused, ce.Code
		}
		var m msg
		require.NoError(c.t, jsonUnmarshal(data, &m))
		switch m.Event {
		case event:
			answered++
		case "$error":
			var p frame.ErrorPayload
			m.payload(c.t, &p)
			require.Equal(c.t, code, p.Code)
			refused++
		}
	}
}

// readJoins reads n answers to $join.
func readJoins(c *client, n int) (joined, refused int) {
	c.t.Helper()
	for range n {
		m := c.next()
		switch m.Event {
		case "$joined":
			joined++
		case "$error":
			var p frame.ErrorPayload
			m.payload(c.t, &p)
			require.Equal(c.t, "too_many_rooms", p.Code)
			refused++
		default:
			c.t.Fatalf("unexpected %s", m.Event)
		}
	}
	return joined, refused
}

// Row 21: a join storm. 300 sessions join one room with presence on: the
// joins are coalesced into $presence diffs, one per member per interval,
// so the frames stay within N × intervals (see joinStorm) instead of
// 300×299/2. And one client's $join flood at the default rate limit gets
// rate_limited, then 1008.
func TestHostileJoinStorm(t *testing.T) {
	t.Run("presence", func(t *testing.T) {
		const n = 300
		ts := startServer(t, &api.Options{MaxMembersListed: -1})
		cm := newCalm(t, ts)
		frames, bound := joinStorm(t, ts, "storm", n)
		assert.LessOrEqual(t, frames, bound)
		_, count := ts.Members("storm", 0)
		assert.Equal(t, n, count)
		cm.check("after the join storm")
		noPanic(t, ts)
	})
	t.Run("one client's $join flood", func(t *testing.T) {
		ts := startServer(t, &api.Options{DisablePresence: true, MaxRoomsPerConn: 1000, RateLimits: defaultRates})
		cm := newCalm(t, ts)
		baseRooms := ts.Stats().Rooms
		a := dial(t, ts, nil)
		// 200 at once: under the 256 messages a client may have waiting
		// (past them the server stops reading it, see TestHostileHandlers).
		for i := range 200 {
			a.send(map[string]any{"event": "$join", "room": fmt.Sprintf("j%d", i)})
		}
		joined, limited, code := readUntilClose(a, "$joined", api.CodeRateLimited)
		t.Logf("200 joins at once: %d joined, %d rate_limited, then close %d", joined, limited, code)
		assert.GreaterOrEqual(t, joined, api.DefaultRateLimits().Join.Burst)
		assert.Less(t, joined, 200)
		assert.GreaterOrEqual(t, limited, api.DefaultRateLimits().Refusals.Burst)
		assert.Equal(t, websocket.ClosePolicyViolation, code)
		require.Eventually(t, func() bool { return ts.Stats().Rooms == baseRooms }, wait, 10*time.Millisecond,
			"1008 ends the session and frees its rooms")
		cm.check("after the $join flood")
		noPanic(t, ts)
	})
}

// Row 22: amplification. A publisher sends 60 KB frames into a room of 100
// members at the default limits: the fan-out bucket (32 MiB/s, burst
// 32 MiB, each frame costing its size × 100) refuses most of them with
// rate_limited and, as the refusals pile up, closes it with 1008.
func TestHostileAmplification(t *testing.T) {
	const members, frames = 100, 60
	ts := startServer(t, &api.Options{DisablePresence: true, RateLimits: defaultRates})
	cm := newCalm(t, ts)
	for range members {
		require.NoError(t, ts.Join(dial(t, ts, nil).id, "big")) // members that never read
	}
	pub := dial(t, ts, nil)
	pub.join("big")
	payload := `"` + strings.Repeat("x", 60_000) + `"`
	start := time.Now()
	for i := range frames {
		pub.sendRaw(websocket.TextMessage,
			[]byte(`{"event":"e","room":"big","id":"`+strconv.Itoa(i)+`","payload":`+payload+`}`))
	}
	acked, limited, code := readUntilClose(pub, "$ack", api.CodeRateLimited)
	elapsed := time.Since(start)
	delivered := int64(acked) * members * 60_000
	t.Logf("%d frames of 60 KB into a room of %d in %v: %d accepted (%d MB delivered), %d rate_limited, then close %d",
		frames, members, elapsed, acked, delivered/1e6, limited, code)
	assert.Positive(t, acked)
	assert.GreaterOrEqual(t, limited, api.DefaultRateLimits().Refusals.Burst)
	assert.Equal(t, websocket.ClosePolicyViolation, code)
	// The burst plus what the bucket refilled, with a generous margin.
	budget := float64(api.DefaultRateLimits().FanoutBytes.Burst) + api.DefaultRateLimits().FanoutBytes.PerSecond*(elapsed.Seconds()+1)
	assert.LessOrEqual(t, float64(delivered), budget)
	cm.check("after the amplification")
	noPanic(t, ts)
}

// Row 23: a client sends 10,000 frames with unique 64-byte ids, and 1,000
// direct messages to random sessions. Only the last DedupeWindow (64) ids
// are remembered: the heap does not grow with the ids, a recent id is a
// duplicate and an old one is forgotten.
func TestHostileUniqueIDs(t *testing.T) {
	const n = 10_000
	var applied atomic.Int64
	ts := startServer(t, &api.Options{DisablePresence: true})
	ts.Handle("note", func(*api.Conn, *api.Frame) error { applied.Add(1); return nil })
	cm := newCalm(t, ts)
	a := dial(t, ts, nil)
	id := func(i int) string { return fmt.Sprintf("%064d", i) }
	sendNotes := func(from, to int) {
		for i := from; i < to; i++ {
			a.send(map[string]any{"event": "note", "id": id(i)})
		}
		for i := from; i < to; i++ {
			require.Equal(t, id(i), a.expect("$ack").ID)
		}
	}
	const batch = 200   // pipelined, under the 256 messages a client may have waiting
	sendNotes(0, batch) // warm up
	before := heapInuse()
	for i := batch; i < n; i += batch {
		sendNotes(i, i+batch)
	}
	for i := 0; i < 1000; i += batch {
		for j := i; j < i+batch; j++ {
			a.send(map[string]any{"event": "dm", "to": "s-" + strconv.Itoa(j)})
		}
		for range batch {
			a.expectError("no_such_session")
		}
	}
	grown := heapInuse() - before
	t.Logf("%d unique ids and 1000 direct messages to nobody: heap +%d KiB", n-batch, grown/kib)
	assert.Less(t, grown, int64(mib), "10,000 remembered ids would take over a MiB")
	require.EqualValues(t, n, applied.Load())
	sendNotes(n-api.DefaultDedupeWindow, n) // the last 64: acknowledged again, not applied
	assert.EqualValues(t, n, applied.Load())
	sendNotes(0, 1) // long forgotten: applied again
	assert.EqualValues(t, n+1, applied.Load())
	cm.check("after the id flood")
	noPanic(t, ts)
}

// Row 24: resume guessing from one address. Random tokens, for random
// sessions and for a real one, are all answered "unknown" (a fresh
// session, which the attacker could have had without a token): a 128-bit
// secret makes guessing pointless, so unknown tokens cost no failure
// budget. The real session is untouched and still resumes.
func TestHostileResumeGuessing(t *testing.T) {
	const attempts = 1000
	ts := startServer(t, &api.Options{DisablePresence: true, RateLimits: defaultRates})
	cm := newCalm(t, ts)
	addr := ts.Addr().String()
	victim := newSession(t, addr)
	victim.join("r")
	attacker := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: otherHost}}).DialContext}
	secret := func() string {
		var b [16]byte
		_, _ = rand.Read(b[:])
		return base64.RawURLEncoding.EncodeToString(b[:])
	}
	unknown := 0
	start := time.Now()
	for i := range attempts {
		session := victim.id
		if i%2 == 1 {
			session = "s-" + strconv.Itoa(i)
		}
		q := url.Values{"resume": {session + "." + secret()}, "last_seq": {"0"}}
		ws, _, err := attacker.Dial("ws://"+addr+"/ws?"+q.Encode(), nil)
		require.NoError(t, err, "an unknown token is no failure: never throttled")
		var m msg
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(wait)))
		require.NoError(t, ws.ReadJSON(&m))
		var w frame.WelcomePayload
		m.payload(t, &w)
		require.False(t, w.Resumed)
		require.Equal(t, "unknown", w.Reason)
		_ = ws.Close()
		unknown++
	}
	elapsed := time.Since(start)
	t.Logf("%d guessed tokens in %v: %d unknown", attempts, elapsed, unknown)
	assert.Equal(t, attempts, unknown, "every guess is told unknown, none resumes anything")
	// The victim noticed nothing and still resumes, from its address.
	c, ok := ts.Conn(victim.id)
	require.True(t, ok)
	require.True(t, c.Connected())
	ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte("1")})
	victim.expect("n")
	_ = victim.ws.Close()
	require.Eventually(t, func() bool { return !c.Connected() }, wait, 5*time.Millisecond)
	require.True(t, victim.resume(addr).Resumed)
	cm.check("after the guessing")
	noPanic(t, ts)
}

// Row 25: a suspend bomb. 500 sessions join a busy room and drop at once;
// frames keep coming for them. Past SuspendedBytes the longest-suspended
// sessions end, so the frame bytes held come back under the budget, and
// after the resume window everything is freed.
func TestHostileSuspendBomb(t *testing.T) {
	const n, budget, window = 500, 1 * mib, time.Second
	ts := startServer(t, &api.Options{DisablePresence: true, SuspendedBytes: budget, ResumeWindow: window})
	cm := newCalm(t, ts)
	pub := dial(t, ts, nil)
	pub.join("busy")
	base := ts.Stats()
	before := heapInuse()
	// The clients are dropped at once; the test keeps no reference to them
	// afterwards, so the heap measures the server.
	conns := make([]*websocket.Conn, n)
	var firstID, firstToken string
	for i := range conns {
		ws, resp, err := testDialer().Dial(ts.url, nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		var m msg
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(wait)))
		require.NoError(t, ws.ReadJSON(&m))
		var w frame.WelcomePayload
		m.payload(t, &w)
		require.NoError(t, ts.Join(w.Session, "busy"))
		if i == 0 {
			firstID, firstToken = w.Session, w.Resume
		}
		conns[i] = ws
	}
	for _, ws := range conns {
		_ = ws.Close() // no close frame: suspended
	}
	conns = nil
	require.Eventually(t, func() bool { return ts.Stats().Suspended == n }, wait, 10*time.Millisecond)
	payload := `"` + strings.Repeat("x", 4000) + `"`
	for i := range 50 { // 200 KB for each of 500 sessions: 100 MB held without a budget
		pub.sendRaw(websocket.TextMessage, []byte(`{"event":"m","room":"busy","id":"`+strconv.Itoa(i)+`","payload":`+payload+`}`))
	}
	for range 50 {
		pub.expect("$ack")
	}
	peak := ts.Stats().QueuedBytes
	start := time.Now()
	require.Eventually(t, func() bool { return ts.Stats().QueuedBytes <= budget+base.QueuedBytes+64*kib }, wait, 10*time.Millisecond,
		"held bytes back under SuspendedBytes")
	st := ts.Stats()
	t.Logf("held %d KiB just after the burst; %v later %d KiB with %d sessions still suspended (budget %d KiB)",
		peak/kib, time.Since(start), st.QueuedBytes/kib, st.Suspended, budget/kib)
	assert.Less(t, st.Suspended, n)
	// The longest-suspended session went first; its resume hears "expired".
	_, ok := ts.Conn(firstID)
	require.False(t, ok)
	ws, w, _ := connect(t, ts.Addr().String(), url.Values{"resume": {firstToken}, "last_seq": {"0"}})
	assert.False(t, w.Resumed)
	assert.Equal(t, "expired", w.Reason)
	_ = ws.Close()
	cm.check("during the suspend bomb")
	require.Eventually(t, func() bool {
		st := ts.Stats()
		return st.Suspended == 0 && st.Sessions == base.Sessions && st.Rooms == base.Rooms
	}, 3*window+wait, 20*time.Millisecond, "all freed after the window")
	grown := heapInuse() - before
	t.Logf("after the window: %+v; heap %+d KiB from before the %d sessions", ts.Stats(), grown/kib, n)
	assert.Less(t, grown, int64(4*mib))
	noPanic(t, ts)
}

// Row 26: 20 stalled readers in a busy room. The kernel absorbs a few MB
// of each one's frames; then its queue (QueueBytes) fills and it is closed
// with 4002 (its session suspended). The frame bytes held stay within 20 ×
// (queue + window: what the kernel absorbed, kept unconfirmed for a
// resume), and the healthy member gets every frame.
func TestHostileStalledReaders(t *testing.T) {
	const stalled, queue, size, maxFrames = 20, 64 * kib, 8 * kib, 4000
	ts := startServer(t, &api.Options{DisablePresence: true, QueueBytes: queue, CloseTimeout: 300 * time.Millisecond})
	cm := newCalm(t, ts)
	// Stalled readers with a small receive buffer, so that the kernel
	// absorbs less of the flood.
	small := websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}).DialContext}
	for range stalled {
		ws, resp, err := small.Dial(ts.url, nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		t.Cleanup(func() { _ = ws.Close() })
		var m msg
		require.NoError(t, ws.ReadJSON(&m))
		var w frame.WelcomePayload
		m.payload(t, &w)
		require.NoError(t, ts.Join(w.Session, "r"))
	}
	pub, healthy := dial(t, ts, nil), dial(t, ts, nil)
	pub.join("r")
	healthy.join("r")
	body := []byte(`{"event":"big","room":"r","payload":"` + strings.Repeat("x", size) + `"}`)
	var peak int64
	sent := 0
	for sent < maxFrames && ts.Stats().Suspended < stalled {
		for range 4 { // paced by the healthy member: at most half its queue
			pub.sendRaw(websocket.TextMessage, body)
			peak = max(peak, ts.Stats().QueuedBytes)
		}
		for range 4 {
			healthy.expect("big")
		}
		sent += 4
	}
	st := ts.Stats()
	bound := int64(stalled+2) * (queue + api.DefaultReplayBytes + maxSendBuffer() + 2*size)
	t.Logf("%d frames of %d KiB (%d MiB) until all %d stalled readers were closed: peak %d KiB held (bound %d KiB); %+v",
		sent, size/kib, sent*size/mib, stalled, peak/kib, bound/kib, st)
	require.Equal(t, stalled, st.Suspended, "every stalled reader closed with 4002 (and suspended)")
	assert.LessOrEqual(t, peak, bound)
	// The flood goes on: the healthy member still gets everything.
	for range 100 {
		pub.sendRaw(websocket.TextMessage, body)
		healthy.expect("big")
	}
	assert.LessOrEqual(t, ts.Stats().QueuedBytes, bound)
	cm.check("with 20 stalled readers")
	noPanic(t, ts)
}

// Row 27: a handler that blocks holds only its own connection's turn:
// other clients' round trips go on, and the blocked client may queue at
// most 256 messages (1008 past them). A panicking Authorize is answered
// 500 and a panicking CanJoin $error internal; the server goes on.
func TestHostileHandlers(t *testing.T) {
	t.Run("blocking handler", func(t *testing.T) {
		release := make(chan struct{})
		var releaseOnce sync.Once
		unblock := func() { releaseOnce.Do(func() { close(release) }) }
		const inboxTimeout = 500 * time.Millisecond
		ts := startServer(t, &api.Options{DisablePresence: true, InboxTimeout: inboxTimeout})
		t.Cleanup(unblock) // before the server shuts down
		var started atomic.Int32
		ts.Handle("block", func(*api.Conn, *api.Frame) error {
			started.Add(1)
			select { // sleeps 10 s, unless released sooner
			case <-release:
			case <-time.After(10 * time.Second):
			}
			return nil
		})
		cm := newCalm(t, ts)
		blocked := dial(t, ts, nil)
		blocked.send(map[string]any{"event": "block", "id": "b0"})
		require.Eventually(t, func() bool { return started.Load() == 1 }, wait, time.Millisecond)
		cm.check("while a handler blocks")

		// 300 messages behind a blocked handler: reading stops at 256,
		// and after InboxTimeout with none handled, 1008.
		flooder := dial(t, ts, nil)
		flooder.send(map[string]any{"event": "block", "id": "f0"})
		start := time.Now()
		for i := range 300 {
			flooder.send(map[string]any{"event": "$ping", "id": strconv.Itoa(i)})
		}
		require.NoError(t, flooder.ws.SetReadDeadline(time.Now().Add(wait)))
		_, _, err := flooder.ws.ReadMessage()
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, "the flooder gets no frame before its close")
		assert.Equal(t, websocket.ClosePolicyViolation, ce.Code)
		assert.Equal(t, "messages not handled in time", ce.Text)
		assert.GreaterOrEqual(t, time.Since(start), inboxTimeout)
		assert.EqualValues(t, 1, ts.Stats().InboxStalls)
		cm.check("while two handlers block")

		unblock()
		assert.Equal(t, "b0", blocked.expect("$ack").ID)
		blocked.ping()
		noPanic(t, ts)
	})
	t.Run("backpressure", func(t *testing.T) {
		// 1,000 messages behind a handler that blocks for a while: the
		// server stops reading at 256 instead of closing, and once the
		// handler returns every message is handled, in order.
		release := make(chan struct{})
		var releaseOnce sync.Once
		unblock := func() { releaseOnce.Do(func() { close(release) }) }
		ts := startServer(t, &api.Options{DisablePresence: true})
		t.Cleanup(unblock)
		ts.Handle("block", func(*api.Conn, *api.Frame) error { <-release; return nil })
		cm := newCalm(t, ts)
		a := dial(t, ts, nil)
		a.send(map[string]any{"event": "block", "id": "b"})
		const n = 1000
		for i := range n {
			a.send(map[string]any{"event": "$ping", "id": strconv.Itoa(i)})
		}
		require.Eventually(t, func() bool { return ts.Stats().InboxPauses > 0 }, wait, time.Millisecond,
			"reading the client paused")
		cm.check("while a client is paused")
		unblock()
		assert.Equal(t, "b", a.expect("$ack").ID)
		for i := range n {
			require.Equal(t, strconv.Itoa(i), a.expect("$pong").ID)
		}
		a.ping()
		assert.Zero(t, ts.Stats().InboxStalls)
		noPanic(t, ts)
	})
	t.Run("panicking hooks", func(t *testing.T) {
		var disconnects atomic.Int32
		ts := startServer(t, &api.Options{DisablePresence: true, ResumeWindow: 100 * time.Millisecond,
			OnDisconnect: func(*api.Conn, api.CloseInfo) {
				disconnects.Add(1)
				panic("ondisconnect exploded") // on the expiry goroutine too
			},
			Authorize: func(r *http.Request) (api.Identity, error) {
				if r.URL.Query().Get("boom") != "" {
					panic("authorize exploded")
				}
				return api.Identity{}, nil
			},
			CanJoin: func(_ *api.Conn, room string) error {
				if room == "boom" {
					panic("canjoin exploded")
				}
				return nil
			}})
		cm := newCalm(t, ts)
		ws, resp, err := testDialer().Dial(ts.url+"?boom=1", nil)
		if ws != nil {
			_ = ws.Close()
		}
		require.ErrorIs(t, err, websocket.ErrBadHandshake)
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		_ = resp.Body.Close()
		a := dial(t, ts, nil)
		a.send(map[string]any{"event": "$join", "room": "boom", "id": "j1"})
		e, _ := a.expectError("internal")
		assert.Equal(t, "j1", e.ID)
		a.join("fine")
		// OnDisconnect panics when a kicked session ends, and when a
		// dropped one's resume window passes (on the server's own
		// goroutine): the server goes on, and the sessions end.
		b, d := dial(t, ts, nil), dial(t, ts, nil)
		b.join("fine")
		require.NoError(t, ts.Kick(b.id, "bye"))
		assert.Equal(t, int(api.CloseKicked), b.expectClose())
		_ = d.ws.Close()
		require.Eventually(t, func() bool { return disconnects.Load() == 2 }, wait, 5*time.Millisecond)
		require.Eventually(t, func() bool { return ts.Stats().Sessions == 3 }, wait, 5*time.Millisecond)
		members, _ := ts.Members("fine", -1)
		assert.Equal(t, []string{a.id}, members)
		cm.check("after the panics")
		logs := ts.logs.String()
		assert.Contains(t, logs, "authorize exploded")
		assert.Contains(t, logs, "canjoin exploded")
		assert.Contains(t, logs, "ondisconnect exploded")
	})
}

// Row 28: a half-open peer (its packets vanish). With a 200ms/600ms
// heartbeat the server drops it soon after 600ms of silence; the session
// is suspended, not ended, and resumes with every frame it missed.
func TestHostileHalfOpen(t *testing.T) {
	const interval, timeout = 200 * time.Millisecond, 600 * time.Millisecond
	ts := startServer(t, &api.Options{DisablePresence: true, HeartbeatInterval: interval, HeartbeatTimeout: timeout})
	addr := ts.Addr().String()
	px := newProxy(t, addr)
	s := newSession(t, px.Addr())
	s.join("r")
	px.Blackhole()
	start := time.Now()
	for i := range 10 {
		ts.Broadcast("r", api.Frame{Event: "n", Room: "r", Kind: 1, Payload: []byte(strconv.Itoa(i))})
	}
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, 5*time.Millisecond)
	t.Logf("a half-open client was dropped %v after it went silent (heartbeat %v/%v)", time.Since(start), interval, timeout)
	require.True(t, s.resume(addr).Resumed)
	for i := range 10 {
		assert.Equal(t, strconv.Itoa(i), string(s.expect("n").Payload))
	}
	s.send(map[string]any{"event": "$ping", "id": "p"})
	s.expect("$pong")
	noPanic(t, ts)
}

// Row 29: Shutdown with 2,000 connections: every one gets a close frame
// with 1001, and Shutdown returns once all have answered; with DrainSpread
// the close frames are spread over that window (a lame-duck drain).
func TestHostileShutdownMany(t *testing.T) {
	t.Run("at once", func(t *testing.T) { shutdownMany(t, 2000, 0) })
	t.Run("spread", func(t *testing.T) { shutdownMany(t, 500, 500*time.Millisecond) })
}

func shutdownMany(t *testing.T, n int, spread time.Duration) {
	ts := startServer(t, &api.Options{DisablePresence: true, DrainSpread: spread})
	conns := make([]*raw, 0, n)
	for len(conns) < n {
		// In batches: MaxPendingPerIP (256) bounds upgrades in flight.
		batch := make([]*raw, min(200, n-len(conns)))
		for i := range batch {
			batch[i] = rawDial(t, ts, nil)
			require.NoError(t, batch[i].write([]byte(upgradeHead())))
		}
		for _, r := range batch {
			resp, _ := r.response()
			require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		}
		conns = append(conns, batch...)
	}
	require.Eventually(t, func() bool { return ts.Stats().Sessions == n }, wait, 10*time.Millisecond)
	type closed struct {
		code uint16
		at   time.Time
		err  error
	}
	got := make(chan closed, n)
	for _, r := range conns {
		go func() {
			code, err := r.closeCode(3 * wait)
			if err == nil {
				_ = r.send(true, wsproto.OpClose, binary.BigEndian.AppendUint16(nil, code))
			}
			got <- closed{code, time.Now(), err}
		}()
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, ts.Shutdown(ctx))
	took := time.Since(start)
	codes := map[uint16]int{}
	var first, last time.Time
	for range n {
		c := <-got
		require.NoError(t, c.err, "a close frame for every connection")
		codes[c.code]++
		if first.IsZero() || c.at.Before(first) {
			first = c.at
		}
		last = maxTime(last, c.at)
	}
	t.Logf("Shutdown with %d connections (DrainSpread %v) took %v; close codes %v; first to last close frame %v",
		n, spread, took, codes, last.Sub(first))
	assert.Equal(t, map[uint16]int{uint16(api.CloseGoingAway): n}, codes)
	if spread > 0 {
		assert.GreaterOrEqual(t, last.Sub(first), spread/2, "the closes are spread over the window")
	}
	st := ts.Stats()
	assert.Zero(t, st.Connections)
	assert.Zero(t, st.Sessions)
	noPanic(t, ts)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
