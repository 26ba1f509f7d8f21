package client_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/client"
	"github.com/roomloop/roomloop/internal/cutproxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// wait is the generous deadline of every wait for a condition: CI shares
// two loaded cores.
const wait = 30 * time.Second

// startServer runs a roomloop server on 127.0.0.1:0 until the test ends
// and returns it with its WebSocket URL.
func startServer(t *testing.T, opts *api.Options) (*api.Server, string) {
	t.Helper()
	if opts == nil {
		opts = &api.Options{}
	}
	if opts.RateLimits == (api.RateLimits{}) {
		opts.RateLimits = api.NoRateLimits()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv := api.New(opts)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return srv, "ws://" + srv.Addr().String() + "/ws"
}

// startProxy puts a cutproxy in front of the server at wsURL and returns
// it with the URL through it.
func startProxy(t *testing.T, srv *api.Server) (*cutproxy.Proxy, string) {
	t.Helper()
	p, err := cutproxy.Start(srv.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p, "ws://" + p.Addr() + "/ws"
}

// dial connects a client and closes it when the test ends.
func dial(t *testing.T, url string, opts *client.Options) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, url, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Close()
		<-c.Done()
	})
	return c
}

// recorder keeps what a client's handlers saw.
type recorder struct {
	mu     sync.Mutex
	msgs   []client.Message
	states []client.StateChange
	gaps   []client.Gap
	errs   []error
}

// record registers r on c for the given application events.
func record(c *client.Client, events ...string) *recorder {
	r := &recorder{}
	for _, ev := range events {
		c.On(ev, func(m client.Message) { r.mu.Lock(); r.msgs = append(r.msgs, m); r.mu.Unlock() })
	}
	c.OnState(func(s client.StateChange) { r.mu.Lock(); r.states = append(r.states, s); r.mu.Unlock() })
	c.OnGap(func(g client.Gap) { r.mu.Lock(); r.gaps = append(r.gaps, g); r.mu.Unlock() })
	c.OnError(func(err error) { r.mu.Lock(); r.errs = append(r.errs, err); r.mu.Unlock() })
	return r
}

func (r *recorder) messages() []client.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]client.Message(nil), r.msgs...)
}

func (r *recorder) stateNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.states {
		out = append(out, s.State.String())
	}
	return out
}

func (r *recorder) gapList() []client.Gap {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]client.Gap(nil), r.gaps...)
}

func (r *recorder) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// waitState waits until c is in state s.
func waitState(t *testing.T, c *client.Client, s client.State) {
	t.Helper()
	require.Eventually(t, func() bool { return c.State() == s }, wait, 5*time.Millisecond,
		"the client stayed %s, not %s", c.State(), s)
}

// ctx returns a context with the generous deadline.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

// joinRoom joins c to room and returns the handle.
func joinRoom(t *testing.T, c *client.Client, room string) *client.Room {
	t.Helper()
	r, err := c.Join(ctx(t), room)
	require.NoError(t, err)
	return r
}
