package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// TestAuthorizeContextDeadline: Authorize's request context carries the
// AuthTimeout deadline; a hook that waits on it returns at the deadline,
// and the client gets 503.
func TestAuthorizeContextDeadline(t *testing.T) {
	const authTimeout = 300 * time.Millisecond
	returned := make(chan error, 1)
	ts := startServer(t, &api.Options{
		AuthTimeout: authTimeout,
		Authorize: func(r *http.Request) (api.Identity, error) {
			deadline, ok := r.Context().Deadline()
			if !ok || time.Until(deadline) > authTimeout {
				returned <- errors.New("no deadline of AuthTimeout on the request context")
				return api.Identity{}, nil
			}
			<-r.Context().Done()
			returned <- r.Context().Err()
			return api.Identity{}, r.Context().Err()
		},
	})
	start := time.Now()
	body := dialRefused(t, ts, nil, http.StatusServiceUnavailable)
	assert.Contains(t, body, "authorization timed out")
	select {
	case err := <-returned:
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.GreaterOrEqual(t, time.Since(start), authTimeout)
	case <-time.After(10 * time.Second):
		t.Fatal("the hook never returned")
	}
}

// TestAuthorizeContextCancelledWhenClientLeaves: a client that hangs up
// while Authorize runs cancels its context long before the deadline.
func TestAuthorizeContextCancelledWhenClientLeaves(t *testing.T) {
	entered := make(chan struct{}, 1)
	returned := make(chan error, 1)
	ts := startServer(t, &api.Options{
		AuthTimeout: 20 * time.Second,
		Authorize: func(r *http.Request) (api.Identity, error) {
			entered <- struct{}{}
			select {
			case <-r.Context().Done():
				returned <- r.Context().Err()
			case <-time.After(15 * time.Second):
				returned <- errors.New("not cancelled")
			}
			return api.Identity{}, r.Context().Err()
		},
	})
	nc, err := net.Dial("tcp", ts.Addr().String())
	require.NoError(t, err)
	_, err = nc.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	require.NoError(t, err)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("Authorize never ran")
	}
	require.NoError(t, nc.Close())
	select {
	case err := <-returned:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(16 * time.Second):
		t.Fatal("the hook never returned")
	}
}

// TestSessionContext: a handler's c.Context() ends when its session ends,
// and every session's when the server shuts down.
func TestSessionContext(t *testing.T) {
	ended := make(chan string, 4)
	srv := api.New(&api.Options{RateLimits: api.NoRateLimits()})
	srv.Handle("watch", func(c *api.Conn, f *api.Frame) error {
		ctx := c.Context()
		go func() {
			<-ctx.Done()
			ended <- c.ID()
		}()
		return nil
	})
	require.NoError(t, srv.Start("127.0.0.1:0"))
	ts := &testServer{Server: srv, url: "ws://" + srv.Addr().String() + "/ws"}
	a := dial(t, ts, nil)
	b := dial(t, ts, nil)
	for _, c := range []*client{a, b} {
		c.send(map[string]any{"event": "watch", "id": "w"})
		require.Equal(t, "w", c.expect("$ack").ID)
	}
	a.closeNormally()
	select {
	case id := <-ended:
		assert.Equal(t, a.id, id, "a's context ends with its session")
	case <-time.After(wait):
		t.Fatal("a's context did not end")
	}
	select {
	case id := <-ended:
		t.Fatalf("%s's context ended while its session lives", id)
	case <-time.After(100 * time.Millisecond): // a window in which nothing may happen
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	select {
	case id := <-ended:
		assert.Equal(t, b.id, id, "b's context ends with the server")
	case <-time.After(wait):
		t.Fatal("b's context did not end at shutdown")
	}
	c, ok := srv.Conn(b.id)
	assert.False(t, ok, "no session after shutdown: %v", c)
	assert.True(t, strings.HasPrefix(b.id, "s-"))
}
