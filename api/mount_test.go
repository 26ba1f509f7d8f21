package api_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// newQuietServer returns an unstarted server that logs into a buffer and
// is shut down when the test ends.
func newQuietServer(t *testing.T, opts *api.Options) (*api.Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.RateLimits = api.NoRateLimits()
	srv := api.New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return srv, logs
}

// wsDial connects to url with header and reads $welcome.
func wsDial(t *testing.T, url string, header http.Header) (*client, *http.Response) {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	require.NoError(t, err, "dial %s", url)
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { _ = ws.Close() })
	w := c.expect("$welcome")
	var wp frame.WelcomePayload
	w.payload(t, &wp)
	c.id = wp.Session
	return c, resp
}

// TestServeHTTPOnARouter: a Server mounted on a net/http mux at a path of
// the application's choice takes upgrades over; the clients chat, and the
// connections need no goroutine once taken over.
func TestServeHTTPOnARouter(t *testing.T) {
	srv, _ := newQuietServer(t, &api.Options{})
	mux := http.NewServeMux()
	mux.Handle("/chat/socket", srv)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "app page") })
	hs := httptest.NewServer(mux)
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/chat/socket"

	a, resp := wsDial(t, url, nil)
	b, _ := wsDial(t, url, nil)
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	a.join("lobby")
	b.join("lobby")
	a.expectDiff("lobby", []string{b.id}, nil)
	b.send(map[string]any{"event": "chat", "room": "lobby", "payload": "hi"})
	m := a.expect("chat")
	assert.Equal(t, b.id, m.From)

	// The mux still serves its other routes, on the same port.
	page, err := http.Get(hs.URL + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(page.Body)
	_ = page.Body.Close()
	assert.Equal(t, "app page", string(body))

	// Taken-over connections hold no goroutine: 50 more cost none.
	before := settleGoroutines(t)
	for range 50 {
		c, _ := wsDial(t, url, nil)
		c.ping()
	}
	after := settleGoroutines(t)
	assert.Less(t, after-before, 10, "goroutines: %d before 50 connections, %d after", before, after)
	st := srv.Stats()
	assert.Equal(t, 52, st.Sessions)
	assert.Equal(t, api.AcceptedStats{HTTP: 52}, st.Accepted, "all taken over from the HTTP server")
}

// settleGoroutines returns the goroutine count once it holds still.
func settleGoroutines(t *testing.T) int {
	t.Helper()
	var n int
	require.Eventually(t, func() bool {
		n = runtime.NumGoroutine()
		time.Sleep(20 * time.Millisecond) // sample twice, apart: stable means settled
		return n == runtime.NumGoroutine()
	}, 10*time.Second, 50*time.Millisecond)
	return n
}

// TestServeHTTPRefusesWhatItCannotTakeOver: anything but a valid upgrade
// gets an HTTP error with a reason, and a TLS connection terminated by the
// HTTP server is refused with a reason rather than broken.
func TestServeHTTPRefusesWhatItCannotTakeOver(t *testing.T) {
	srv, logs := newQuietServer(t, &api.Options{})
	hs := httptest.NewServer(srv)
	defer hs.Close()

	resp, err := http.Get(hs.URL + "/anything")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "Upgrade: websocket")

	req, _ := http.NewRequest(http.MethodGet, hs.URL, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode, "no version")
	assert.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))

	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	d := websocket.Dialer{TLSClientConfig: ts.Client().Transport.(*http.Transport).TLSClientConfig}
	_, resp, err = d.Dial("wss"+strings.TrimPrefix(ts.URL, "https"), nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Contains(t, logs.String(), "TLSConfig")
}

// TestServeOnAListener: Serve takes a listener the application made, and
// returns ErrServerClosed after Shutdown.
func TestServeOnAListener(t *testing.T) {
	srv := api.New(&api.Options{RateLimits: api.NoRateLimits()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c, _ := wsDial(t, "ws://"+ln.Addr().String()+"/ws", nil)
	c.join("r")
	require.Eventually(t, func() bool { return srv.Addr() != nil }, 5*time.Second, time.Millisecond)
	assert.Equal(t, ln.Addr().String(), srv.Addr().String())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	select {
	case err := <-served:
		assert.ErrorIs(t, err, api.ErrServerClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
	assert.ErrorIs(t, srv.Start("127.0.0.1:0"), api.ErrServerClosed)
}

// TestHTTPHandlerServesPagesOnTheSamePort: with Options.HTTPHandler, the
// server's own listener serves pages too, and a page's origin is the
// WebSocket's: the default origin policy accepts it, and refuses another
// site.
func TestHTTPHandlerServesPagesOnTheSamePort(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<script>new WebSocket('/ws')</script>")
	})
	mux.HandleFunc("POST /count", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, strconv.Itoa(len(body)))
	})
	srv, _ := newQuietServer(t, &api.Options{HTTPHandler: mux})
	require.NoError(t, srv.Start("127.0.0.1:0"))
	origin := "http://" + srv.Addr().String()

	page, err := http.Get(origin + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(page.Body)
	_ = page.Body.Close()
	assert.Equal(t, http.StatusOK, page.StatusCode)
	assert.Contains(t, string(body), "WebSocket")

	resp, err := http.Post(origin+"/count", "text/plain", strings.NewReader(strings.Repeat("x", 100_000)))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "100000", string(body), "a request body larger than the head arrives whole")

	c, _ := wsDial(t, "ws://"+srv.Addr().String()+"/ws", http.Header{"Origin": {origin}})
	c.ping()
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/ws", http.Header{"Origin": {"http://evil.example"}})
	if ws != nil {
		_ = ws.Close()
	}
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	// An upgrade after an ordinary request on a kept-alive connection is
	// the engine's again.
	nc, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_, err = io.WriteString(nc, "GET / HTTP/1.1\r\nHost: "+srv.Addr().String()+"\r\n\r\n"+
		"GET /ws HTTP/1.1\r\nHost: "+srv.Addr().String()+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(wait)))
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "$welcome") {
		n, err := nc.Read(buf)
		require.NoError(t, err, "read so far: %q", got.String())
		got.Write(buf[:n])
	}
	assert.Contains(t, got.String(), "HTTP/1.1 200 OK")
	assert.Contains(t, got.String(), "HTTP/1.1 101 Switching Protocols")
}

// TestHandedOverConnectionsAreBounded: connections served by HTTPHandler
// stay in the event loop behind a pipe: a large response arrives whole
// (the writer waits for the socket rather than buffering it all), a
// client that sends far more than the handler reads is dropped, and
// closing HTTP connections leaves WebSocket clients alone.
func TestHandedOverConnectionsAreBounded(t *testing.T) {
	const big = 8 << 20
	unread := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(strings.Repeat("0123456789abcdef", 4096))
		for sent := 0; sent < big; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("POST /ignore", func(w http.ResponseWriter, r *http.Request) {
		<-unread // never reads the body until the test ends
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	srv, _ := newQuietServer(t, &api.Options{HTTPHandler: mux})
	require.NoError(t, srv.Start("127.0.0.1:0"))
	defer close(unread)
	base := "http://" + srv.Addr().String()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 20}}
	resp, err := hc.Get(base + "/big")
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	assert.EqualValues(t, big, n)

	nc, err := net.Dial("tcp", srv.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	_, err = io.WriteString(nc, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
	require.NoError(t, err)
	chunk := make([]byte, 64<<10)
	var werr error
	for sent := 0; sent < 100<<20 && werr == nil; sent += len(chunk) {
		_ = nc.SetWriteDeadline(time.Now().Add(wait))
		_, werr = nc.Write(chunk)
	}
	require.Error(t, werr, "the server drops a client whose handler does not read, before 100 MB")

	var ws []*client
	for range 10 {
		c, _ := wsDial(t, "ws://"+srv.Addr().String()+"/ws", nil)
		ws = append(ws, c)
	}
	for range 20 {
		resp, err := hc.Get(base + "/")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	hc.CloseIdleConnections()
	for _, c := range ws {
		c.ping()
	}
	require.Eventually(t, func() bool { return srv.Stats().Connections == len(ws) }, wait, time.Millisecond,
		"the HTTP connections are gone, the WebSockets stay: %d connections", srv.Stats().Connections)
}
