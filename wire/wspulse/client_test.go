package wspulse_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wstest"
	"github.com/roomloop/roomloop/wire/wspulse"
)

// wait is how long a test waits for something it expects.
const wait = 10 * time.Second

// pulseServer is a roomloop server with the wspulse wire on /wspulse.
type pulseServer struct {
	*api.Server
	addr string
	hooks
}

// hooks reports the server's session hooks, one event a call.
type hooks struct {
	connected, resumed, suspended, disconnected chan string
}

// startPulse runs a server on 127.0.0.1:0 with the wspulse wire on
// /wspulse (opts may set more) and shuts it down when the test ends.
func startPulse(t *testing.T, opts *api.Options) *pulseServer {
	t.Helper()
	if opts == nil {
		opts = &api.Options{}
	}
	opts.Endpoints = append(opts.Endpoints, api.Endpoint{Path: "/wspulse", Wire: wspulse.New(wspulse.Options{})})
	if opts.RateLimits == (api.RateLimits{}) {
		opts.RateLimits = api.NoRateLimits()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&wstest.LogBuffer{}, nil))
	}
	h := hooks{make(chan string, 64), make(chan string, 64), make(chan string, 64), make(chan string, 64)}
	opts.OnConnect = func(c *api.Conn) { h.connected <- c.ID() }
	opts.OnResume = func(c *api.Conn) { h.resumed <- c.ID() }
	opts.OnSuspend = func(c *api.Conn, _ api.CloseInfo) { h.suspended <- c.ID() }
	opts.OnDisconnect = func(c *api.Conn, _ api.CloseInfo) { h.disconnected <- c.ID() }
	srv := api.New(opts)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return &pulseServer{Server: srv, addr: srv.Addr().String(), hooks: h}
}

// url returns the wspulse URL on addr (the server's or a proxy's).
func pulseURL(addr, query string) string { return "ws://" + addr + "/wspulse?" + query }

// next returns the next value of ch, failing the test after wait.
func next(t *testing.T, ch chan string, what string) string {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("no %s within %s", what, wait)
		return ""
	}
}

// pulseClient plays wspulse's client-go (v0.1–v0.4): it dials the exact
// URL, sends text frames, hands every message it reads to frames, pings
// the server every pingEvery when set, and with reconnect on re-dials
// the same URL after any read error or close, whatever the code, with a
// short backoff, counting failed dials.
type pulseClient struct {
	t         *testing.T
	url       string
	reconnect bool

	frames chan string // every text message read, in order
	closes chan int    // the close code of every connection that ended
	pongs  chan string // the payload of every pong

	mu      sync.Mutex
	ws      *websocket.Conn
	stopped bool
	dialed  chan struct{} // a connection is up (one signal per dial)
	done    chan struct{}
}

// dialPulse connects a client to url; it must succeed the first time,
// as client-go's first dial must.
func dialPulse(t *testing.T, url string, reconnect bool) *pulseClient {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	c := &pulseClient{t: t, url: url, reconnect: reconnect, ws: ws,
		frames: make(chan string, 1024), closes: make(chan int, 64), pongs: make(chan string, 64),
		dialed: make(chan struct{}, 64), done: make(chan struct{})}
	c.watch(ws)
	go c.run(ws)
	t.Cleanup(c.stop)
	return c
}

// watch installs the handlers of a new connection: pongs reported;
// pings answered (gorilla's default).
func (c *pulseClient) watch(ws *websocket.Conn) {
	ws.SetPongHandler(func(data string) error {
		select {
		case c.pongs <- data:
		default:
		}
		return nil
	})
}

// run reads, and re-dials while reconnecting, until stop.
func (c *pulseClient) run(ws *websocket.Conn) {
	defer close(c.done)
	for {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				code := 1006
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					code = ce.Code
				}
				c.closes <- code
				break
			}
			c.frames <- string(data)
		}
		_ = ws.Close()
		if !c.reconnect {
			return
		}
		ws = c.redial()
		if ws == nil {
			return
		}
	}
}

// redial dials until it connects or the client is stopped.
func (c *pulseClient) redial() *websocket.Conn {
	backoff := 10 * time.Millisecond
	for {
		c.mu.Lock()
		stopped := c.stopped
		c.mu.Unlock()
		if stopped {
			return nil
		}
		ws, _, err := websocket.DefaultDialer.Dial(c.url, nil)
		if err == nil {
			c.watch(ws)
			c.mu.Lock()
			if c.stopped {
				c.mu.Unlock()
				_ = ws.Close()
				return nil
			}
			c.ws = ws
			c.mu.Unlock()
			c.dialed <- struct{}{}
			return ws
		}
		time.Sleep(backoff) // the client's own backoff between dials
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// send writes text as one text message on the current connection.
func (c *pulseClient) send(text string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NoError(c.t, c.ws.WriteMessage(websocket.TextMessage, []byte(text)))
}

// ping sends a ping with data.
func (c *pulseClient) ping(data string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.NoError(c.t, c.ws.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(wait)))
}

// expect returns the next frame read, failing after wait.
func (c *pulseClient) expect() string {
	c.t.Helper()
	return next(c.t, c.frames, "frame")
}

// expectClose returns the close code of the next connection that ends.
func (c *pulseClient) expectClose() int {
	c.t.Helper()
	select {
	case code := <-c.closes:
		return code
	case <-time.After(wait):
		c.t.Fatalf("no close within %s", wait)
		return 0
	}
}

// expectRedial waits for a reconnect.
func (c *pulseClient) expectRedial() {
	c.t.Helper()
	select {
	case <-c.dialed:
	case <-time.After(wait):
		c.t.Fatalf("no reconnect within %s", wait)
	}
}

// stop closes the client for good and waits for its goroutine.
func (c *pulseClient) stop() {
	c.mu.Lock()
	c.stopped = true
	ws := c.ws
	c.mu.Unlock()
	_ = ws.Close()
	<-c.done
}

// roundTrip sends a marker frame and returns what arrived before it: a
// room frame reaches its sender too, so everything the server sent the
// client before the marker is read by then.
func (c *pulseClient) roundTrip(marker string) []string {
	c.t.Helper()
	c.send(`{"event":"` + marker + `"}`)
	var before []string
	for {
		f := c.expect()
		if strings.Contains(f, `"event":"`+marker+`"`) {
			return before
		}
		before = append(before, f)
	}
}

// deadline is a read deadline wait from now.
func deadline() time.Time { return time.Now().Add(wait) }
