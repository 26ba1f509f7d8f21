package client_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/client"
)

// TestResendWaitsForTheReplay: a frame whose answer is in the replay is
// not sent again before the replay is read. The server frees the id of a
// frame it refused, so a copy sent too early would be judged again and
// might be applied, while the caller hears of the refusal.
func TestResendWaitsForTheReplay(t *testing.T) {
	firstAfterResume := make(chan string, 1)
	url := scripted(t, func(k int, sc *scriptConn) {
		switch k {
		case 0:
			sc.put("%s", welcomeFrame("s-1", false, 0, ""))
			sc.await(0, event("x")) // c1 arrives; its answer will be lost with the link
			sc.ws.CloseNow()
		case 1:
			sc.put("%s", welcomeFrame("s-1", true, 1, ""))
			sc.put(`{"seq":1,"event":"$error","id":"c1","payload":{"code":"rate_limited","message":"slow down"}}`)
			w, _ := sc.await(0, func(w wire) bool { return w.ID != "" })
			firstAfterResume <- w.ID
			sc.put(`{"seq":2,"event":"$ack","id":%q}`, w.ID)
		}
	})
	c := dial(t, url, fast(client.Options{}))
	err := c.Call(ctx(t), "x", nil)
	assert.ErrorIs(t, err, &client.Error{Code: client.CodeRateLimited}, "the answer in the replay settles it")
	require.NoError(t, c.Call(ctx(t), "y", nil))
	assert.Equal(t, "c2", <-firstAfterResume, "c1 was never sent again")
}

// TestFramesBeforeAFinalCloseAreHandled: frames read before the server
// ends the client (4001 here) still reach the handlers, then Closed.
func TestFramesBeforeAFinalCloseAreHandled(t *testing.T) {
	url := scripted(t, func(k int, sc *scriptConn) {
		sc.put("%s", welcomeFrame("s-1", false, 0, ""))
		for i := 1; i <= 3; i++ {
			sc.put(`{"seq":%d,"event":"chat","payload":{"n":%d}}`, i, i)
		}
		sc.put(`{"seq":4,"event":"bye","payload":"kicked because X"}`)
		_ = sc.ws.Close(4001, "kicked")
	})
	var mu sync.Mutex
	var got []string
	var last client.StateChange
	c := dial(t, url, fast(client.Options{Setup: func(c *client.Client) {
		c.On("chat", func(m client.Message) { mu.Lock(); got = append(got, "chat"); mu.Unlock() })
		c.On("bye", func(m client.Message) { mu.Lock(); got = append(got, "bye"); mu.Unlock() })
		c.OnState(func(s client.StateChange) { last = s })
	}}))
	<-c.Done()
	assert.Equal(t, []string{"chat", "chat", "chat", "bye"}, got)
	assert.Equal(t, client.Closed, last.State)
	var ce *client.CloseError
	require.ErrorAs(t, last.Err, &ce)
	assert.Equal(t, 4001, ce.Code)
}

// TestTwoGapsKeepTheRoomHandle: a second gap while the first gap's rejoin
// is unanswered keeps the application's room handle joined, and its
// handlers get the room's frames.
func TestTwoGapsKeepTheRoomHandle(t *testing.T) {
	ready := make(chan struct{})
	url := scripted(t, func(k int, sc *scriptConn) {
		switch k {
		case 0:
			sc.put("%s", welcomeFrame("s-1", false, 0, ""))
			sc.put(`{"seq":1,"event":"$joined","room":"r","payload":{"count":1,"members":["s-1"]}}`)
			<-ready
			sc.ws.CloseNow()
		case 1:
			sc.put("%s", welcomeFrame("s-2", false, 0, "expired"))
			sc.await(0, event("$join")) // the rejoin, never answered
			sc.ws.CloseNow()
		case 2:
			sc.put("%s", welcomeFrame("s-3", false, 0, "expired"))
			w, _ := sc.await(0, event("$join"))
			sc.put(`{"seq":1,"event":"$joined","room":"r","id":%q,"payload":{"count":1,"members":["s-3"]}}`, w.ID)
			sc.put(`{"seq":2,"event":"chat","room":"r","payload":{}}`)
		}
	})
	c := dial(t, url, fast(client.Options{}))
	rec := record(c)
	require.Eventually(t, func() bool { return c.Room("r") != nil }, wait, 5*time.Millisecond)
	r := c.Room("r")
	var got atomic.Int32
	r.On("chat", func(client.Message) { got.Add(1) })
	close(ready)
	require.Eventually(t, func() bool { return got.Load() == 1 }, wait, 5*time.Millisecond, "the room's handler gets its frame")
	assert.True(t, r.Joined())
	assert.Same(t, r, c.Room("r"))
	assert.Equal(t, "s-3", c.Session())
	assert.Len(t, rec.gapList(), 2)
	assert.Empty(t, rec.errors(), "the stale rejoin is no error")
}

// TestCloseFromTheTokenFunction: the Token function may close the client
// (say, the user logged out): no deadlock.
func TestCloseFromTheTokenFunction(t *testing.T) {
	url := scripted(t, func(k int, sc *scriptConn) {
		sc.put("%s", welcomeFrame("s-1", false, 0, ""))
		if k == 0 {
			sc.ws.CloseNow()
		}
	})
	var c atomic.Pointer[client.Client]
	var calls atomic.Int32
	closed := make(chan struct{})
	o := fast(client.Options{Token: func(context.Context) (string, error) {
		if calls.Add(1) == 2 {
			_ = c.Load().Close()
			close(closed)
			return "", errors.New("logged out")
		}
		return "t", nil
	}})
	cl, err := client.Dial(ctx(t), url, o)
	require.NoError(t, err)
	c.Store(cl)
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close called from the Token function never returned")
	}
	<-cl.Done()
	assert.ErrorIs(t, cl.Err(), client.ErrClosed)
}

// TestCloseFromAStateHandler: Close from an OnState handler, during the
// backoff and during a dial, returns.
func TestCloseFromAStateHandler(t *testing.T) {
	for _, at := range []client.State{client.Disconnected, client.Resuming} {
		url := scripted(t, func(k int, sc *scriptConn) {
			if k == 0 {
				sc.put("%s", welcomeFrame("s-1", false, 0, ""))
				sc.ws.CloseNow()
			} // later connections never welcome
		})
		c := dial(t, url, fast(client.Options{}))
		done := make(chan struct{})
		var once sync.Once
		c.OnState(func(sc client.StateChange) {
			if sc.State == at {
				once.Do(func() { _ = c.Close(); close(done) })
			}
		})
		select {
		case <-done:
		case <-time.After(wait):
			t.Fatalf("Close from an OnState(%v) handler hung", at)
		}
		<-c.Done()
	}
}

// TestSendThenClose: frames queued by Send go out before Close's close
// handshake.
func TestSendThenClose(t *testing.T) {
	_, url := startServer(t, nil)
	b := dial(t, url, nil)
	rb := record(b, "bye")
	_, err := b.Join(ctx(t), "r")
	require.NoError(t, err)
	const n = 20
	for i := range n {
		a, err := client.Dial(ctx(t), url, nil)
		require.NoError(t, err)
		ar, err := a.Join(ctx(t), "r")
		require.NoError(t, err)
		require.NoError(t, ar.Send("bye", i))
		require.NoError(t, a.Close())
		<-a.Done()
	}
	require.Eventually(t, func() bool { return len(rb.messages()) == n }, wait, 5*time.Millisecond,
		"of %d Send+Close, %d frames arrived", n, len(rb.messages()))
}

// TestBackoffGrowsWhenConnectionsDieYoung: a server that welcomes the
// client and drops it at once is retried with a growing wait, not every
// MinBackoff: the count of attempts starts over only after a connection
// has lasted a while.
func TestBackoffGrowsWhenConnectionsDieYoung(t *testing.T) {
	url := scripted(t, func(k int, sc *scriptConn) {
		sc.put("%s", welcomeFrame("s-1", k > 0, 0, ""))
		sc.ws.CloseNow()
	})
	var mu sync.Mutex
	var waits []time.Duration
	o := fast(client.Options{NoJitter: true, OnState: func(s client.StateChange) {
		if s.State == client.Disconnected {
			mu.Lock()
			waits = append(waits, s.RetryIn)
			mu.Unlock()
		}
	}})
	o.MinBackoff, o.MaxBackoff = 10*time.Millisecond, time.Second
	dial(t, url, o)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(waits) >= 4 }, wait, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}, waits[:4])
}
