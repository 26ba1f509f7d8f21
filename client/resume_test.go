package client_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/client"
)

// fast makes reconnects and dead-link probes quick for tests.
func fast(o client.Options) *client.Options {
	o.MinBackoff, o.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	return &o
}

// seqs returns the N of each chat message, in arrival order.
func ns(t *testing.T, msgs []client.Message) []int {
	var out []int
	for _, m := range msgs {
		var c chat
		require.NoError(t, m.Decode(&c))
		out = append(out, c.N)
	}
	return out
}

func count(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// TestResumeAfterCut: A's TCP connection is cut while B sends; A resumes
// and gets every frame once, in order, and its states say so.
func TestResumeAfterCut(t *testing.T) {
	srv, url := startServer(t, nil)
	proxy, purl := startProxy(t, srv)
	a := dial(t, purl, fast(client.Options{}))
	b := dial(t, url, nil)
	ra := record(a, "chat")
	ar := joinRoom(t, a, "r")
	br := joinRoom(t, b, "r")
	// b's join reaches a in the room's next $presence diff, which takes a
	// seq: it comes before the chat, whose seqs are then consecutive.
	require.Eventually(t, func() bool { return len(ar.Members()) == 2 }, wait, 5*time.Millisecond)
	session := a.Session()

	proxy.Refuse(true)
	require.Equal(t, 1, proxy.Cut())
	require.Eventually(t, func() bool { return slices.Contains(ra.stateNames(), "disconnected") }, wait, 5*time.Millisecond)
	for i := range 50 {
		require.NoError(t, br.Publish(ctx(t), "chat", chat{N: i}))
	}
	require.Eventually(t, func() bool { return proxy.Accepted() > 1 || refusedAttempts(ra) > 0 }, wait, 5*time.Millisecond)
	proxy.Refuse(false)
	waitState(t, a, client.Resumed)
	require.Eventually(t, func() bool { return len(ra.messages()) >= 50 }, wait, 5*time.Millisecond)
	ra.mu.Lock()
	for _, s := range ra.states {
		if s.Err != nil {
			assert.NotContains(t, s.Err.Error(), session+".", "an error shows the secret resume token")
		}
	}
	ra.mu.Unlock()
	assert.Equal(t, count(50), ns(t, ra.messages()))
	assert.Equal(t, session, a.Session())
	assert.Empty(t, ra.gapList())
	states := ra.stateNames()
	i := slices.Index(states, "disconnected")
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, "resumed", states[len(states)-1], "states: %v", states)
	assert.Contains(t, states[i:], "resuming")
	for j := 1; j < len(ra.messages()); j++ {
		assert.Equal(t, ra.messages()[j-1].Seq+1, ra.messages()[j].Seq)
	}
}

// TestResendAppliedOnce: A publishes while the server's answers are lost;
// the liveness probe notices the dead link, A resumes and sends the frame
// again, and the server applies it once: B sees it once, A gets its $ack.
func TestResendAppliedOnce(t *testing.T) {
	srv, url := startServer(t, nil)
	proxy, purl := startProxy(t, srv)
	o := fast(client.Options{})
	o.ProbeAfter, o.ProbeTimeout = 100*time.Millisecond, 300*time.Millisecond
	a := dial(t, purl, o)
	b := dial(t, url, nil)
	rb := record(b, "chat")
	ar := joinRoom(t, a, "r")
	joinRoom(t, b, "r")

	proxy.Deafen()
	done := make(chan error, 1)
	go func() { done <- ar.Publish(context.Background(), "chat", chat{N: 7}) }()
	require.Eventually(t, func() bool { return len(rb.messages()) == 1 }, wait, 5*time.Millisecond,
		"the server applies the frame though its answer is lost")
	proxy.Heal()
	proxy.Cut() // as the probe would find; the next connection is healthy
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(wait):
		t.Fatal("the publish was never answered")
	}
	waitState(t, a, client.Resumed)
	require.NoError(t, ar.Publish(ctx(t), "chat", chat{N: 8}))
	require.Eventually(t, func() bool { return len(rb.messages()) == 2 }, wait, 5*time.Millisecond)
	assert.Equal(t, []int{7, 8}, ns(t, rb.messages()), "applied once each")
}

// TestDeadLinkDetected: a link that goes silent without a close is
// dropped by the probe, and the client resumes.
func TestDeadLinkDetected(t *testing.T) {
	srv, _ := startServer(t, nil)
	proxy, purl := startProxy(t, srv)
	o := fast(client.Options{})
	o.ProbeAfter, o.ProbeTimeout = 100*time.Millisecond, 200*time.Millisecond
	a := dial(t, purl, o)
	ra := record(a)
	proxy.Blackhole()
	require.Eventually(t, func() bool { return slices.Contains(ra.stateNames(), "disconnected") }, wait, 5*time.Millisecond)
	ra.mu.Lock()
	var cause error
	for _, s := range ra.states {
		if s.State == client.Disconnected {
			cause = s.Err
			break
		}
	}
	ra.mu.Unlock()
	assert.ErrorContains(t, cause, "no answer from the server to a probe")
	proxy.Heal()
	proxy.Cut()
	waitState(t, a, client.Resumed)
}

// TestGapRejoinsAndFailsUnanswered: the session expires while A is away;
// A gets a new session, rejoins its rooms, fails the frame it had sent
// with ErrSessionLost, and reports the gap.
func TestGapRejoinsAndFailsUnanswered(t *testing.T) {
	ended := make(chan string, 4)
	srv, url := startServer(t, &api.Options{
		ResumeWindow: 50 * time.Millisecond,
		OnDisconnect: func(c *api.Conn, _ api.CloseInfo) { ended <- c.ID() },
	})
	proxy, purl := startProxy(t, srv)
	a := dial(t, purl, fast(client.Options{}))
	b := dial(t, url, nil)
	ra := record(a, "chat")
	ar, err := a.Join(ctx(t), "r")
	require.NoError(t, err)
	old := a.Session()
	var pmu sync.Mutex
	var presence []client.Presence
	ar.OnPresence(func(p client.Presence) { pmu.Lock(); presence = append(presence, p); pmu.Unlock() })

	proxy.Blackhole()
	lost := make(chan error, 1)
	// A frame far larger than anything else the client sends ($seen,
	// probes), so that Swallowed shows it was sent, unanswered.
	big := chat{Text: strings.Repeat("x", 4096), N: 1}
	go func() { lost <- ar.Publish(context.Background(), "chat", big) }()
	require.Eventually(t, func() bool { return proxy.Swallowed() >= 4096 }, wait, time.Millisecond, "the frame reached the silenced link")
	proxy.Refuse(true)
	proxy.Cut()
	select {
	case id := <-ended:
		require.Equal(t, old, id)
	case <-time.After(wait):
		t.Fatal("the session did not end")
	}
	proxy.Heal()
	proxy.Refuse(false)
	require.Eventually(t, func() bool { return len(ra.gapList()) == 1 }, wait, 5*time.Millisecond)
	g := ra.gapList()[0]
	assert.Equal(t, old, g.OldSession)
	assert.Equal(t, a.Session(), g.Session)
	assert.NotEqual(t, old, g.Session)
	assert.Contains(t, []string{"expired", "unknown"}, g.Reason)
	assert.Equal(t, 1, g.Lost)
	select {
	case err := <-lost:
		assert.ErrorIs(t, err, client.ErrSessionLost)
	case <-time.After(wait):
		t.Fatal("the unanswered frame was not failed")
	}
	require.Eventually(t, func() bool {
		m, _ := srv.Members("r", 10)
		return slices.Contains(m, a.Session())
	}, wait, 5*time.Millisecond, "the room is rejoined")
	assert.True(t, ar.Joined())
	require.Eventually(t, func() bool { pmu.Lock(); defer pmu.Unlock(); return len(presence) == 2 }, wait, 5*time.Millisecond)
	assert.Equal(t, []client.Presence{{Room: "r", Session: old}, {Room: "r", Session: a.Session(), Joined: true}}, presence,
		"the rejoin tells what changed in the room meanwhile")
	br, err := b.Join(ctx(t), "r")
	require.NoError(t, err)
	require.NoError(t, br.Publish(ctx(t), "chat", chat{N: 2}))
	require.Eventually(t, func() bool { return len(ra.messages()) == 1 }, wait, 5*time.Millisecond)
	assert.Equal(t, "connected", ra.stateNames()[len(ra.stateNames())-1])
}

// TestFinalRefusalsAndKick: 401/403 end the client instead of looping,
// the token function runs at every attempt, and a kick (4001) closes it.
func TestFinalRefusalsAndKick(t *testing.T) {
	var refuse atomic.Bool
	srv, _ := startServer(t, &api.Options{Authorize: func(r *http.Request) (api.Identity, error) {
		if refuse.Load() || r.Header.Get("Authorization") == "" {
			return api.Identity{}, &api.Refusal{Status: http.StatusForbidden, Reason: "go away"}
		}
		return api.Identity{}, nil
	}})
	proxy, purl := startProxy(t, srv)

	_, err := client.Dial(ctx(t), purl, nil)
	var re *client.RefusedError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusForbidden, re.Status)
	assert.Equal(t, "go away", re.Reason)

	var tokens atomic.Int32
	o := fast(client.Options{Token: func(context.Context) (string, error) {
		tokens.Add(1)
		return "t", nil
	}})
	a := dial(t, purl, o)
	ra := record(a)
	assert.Equal(t, int32(1), tokens.Load())
	refuse.Store(true)
	proxy.Cut()
	select {
	case <-a.Done():
	case <-time.After(wait):
		t.Fatal("a refused client kept retrying")
	}
	require.ErrorAs(t, a.Err(), &re)
	assert.Equal(t, http.StatusForbidden, re.Status)
	assert.Equal(t, int32(2), tokens.Load(), "one fresh token per attempt")
	assert.Equal(t, "closed", ra.stateNames()[len(ra.stateNames())-1])

	refuse.Store(false)
	b := dial(t, purl, o)
	rb := record(b)
	require.NoError(t, srv.Kick(b.Session(), "bye"))
	select {
	case <-b.Done():
	case <-time.After(wait):
		t.Fatal("a kicked client did not close")
	}
	var ce *client.CloseError
	require.ErrorAs(t, b.Err(), &ce)
	assert.Equal(t, 4001, ce.Code)
	assert.Equal(t, "closed", rb.stateNames()[len(rb.stateNames())-1])
	assert.ErrorIs(t, b.Call(ctx(t), "x", nil), client.ErrClosed)
}

// TestBufferFullWhileDisconnected: while away, sends wait in the bounded
// buffer; past it they fail at once; after the resume they all arrive.
func TestBufferFullWhileDisconnected(t *testing.T) {
	srv, url := startServer(t, nil)
	proxy, purl := startProxy(t, srv)
	o := fast(client.Options{SendBuffer: 4})
	a := dial(t, purl, o)
	b := dial(t, url, nil)
	rb := record(b, "chat")
	ar := joinRoom(t, a, "r")
	joinRoom(t, b, "r")
	proxy.Refuse(true)
	proxy.Cut()
	waitState(t, a, client.Disconnected)
	for i := range 4 {
		require.NoError(t, ar.Send("chat", chat{N: i}))
	}
	start := time.Now()
	err := ar.Send("chat", chat{N: 4})
	assert.ErrorIs(t, err, client.ErrBufferFull)
	assert.Less(t, time.Since(start), time.Second, "a full buffer fails at once")
	proxy.Refuse(false)
	require.Eventually(t, func() bool { return len(rb.messages()) == 4 }, wait, 5*time.Millisecond)
	assert.Equal(t, count(4), ns(t, rb.messages()))
}

// TestCloseEndsEverything: Close answers waiting calls with ErrClosed and
// leaves no goroutine (TestMain checks).
func TestCloseEndsEverything(t *testing.T) {
	srv, _ := startServer(t, nil)
	proxy, purl := startProxy(t, srv)
	a := dial(t, purl, fast(client.Options{}))
	ar, err := a.Join(ctx(t), "r")
	require.NoError(t, err)
	proxy.Blackhole()
	res := make(chan error, 1)
	go func() { res <- ar.Publish(context.Background(), "chat", nil) }()
	require.Eventually(t, func() bool { return proxy.Open() == 1 }, wait, 5*time.Millisecond)
	require.NoError(t, a.Close())
	select {
	case err := <-res:
		assert.True(t, errors.Is(err, client.ErrClosed), "got %v", err)
	case <-time.After(wait):
		t.Fatal("a waiting call outlived Close")
	}
	<-a.Done()
	assert.Equal(t, client.Closed, a.State())
	assert.ErrorIs(t, a.Err(), client.ErrClosed)
}

// refusedAttempts counts the reconnect attempts that failed.
func refusedAttempts(r *recorder) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for i, s := range r.states {
		if s.State == client.Disconnected && i > 0 && r.states[i-1].State == client.Resuming {
			n++
		}
	}
	return n
}
