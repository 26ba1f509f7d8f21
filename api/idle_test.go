package api_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// TestIdleConnectionsNeedNoGoroutines holds 5,000 idle clients, each in a
// room, and requires the server's goroutine count to be what it is with 50.
// (The gorilla clients here run no goroutines of their own while idle.)
func TestIdleConnectionsNeedNoGoroutines(t *testing.T) {
	n := 5000
	if testing.Short() {
		n = 1000
	}
	ts := startServer(t, &api.Options{DisablePresence: true, ResumeWindow: 100 * time.Millisecond})
	open := func(count int) []*websocket.Conn {
		conns := make([]*websocket.Conn, count)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range conns {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				ws, resp, err := websocket.DefaultDialer.Dial(ts.url, nil)
				if err != nil {
					t.Error(err)
					return
				}
				_ = resp.Body.Close()
				_, _, _ = ws.ReadMessage() // $welcome
				_ = ws.WriteJSON(map[string]string{"event": "$join", "room": "idle"})
				_, _, _ = ws.ReadMessage() // $joined
				conns[i] = ws
			}()
		}
		wg.Wait()
		return conns
	}
	settled := func() int {
		// Pool workers left from the connect burst expire after about a
		// second: wait until the count holds still for 1.5s.
		g := runtime.NumGoroutine()
		for range 20 {
			time.Sleep(1500 * time.Millisecond)
			g2 := runtime.NumGoroutine()
			if g2 == g {
				break
			}
			g = g2
		}
		return g
	}

	few := open(50)
	require.False(t, t.Failed())
	base := settled()

	many := open(n - 50)
	require.False(t, t.Failed())
	require.Eventually(t, func() bool { return ts.Stats().Sessions == n }, 10*time.Second, 20*time.Millisecond)
	after := settled()
	t.Logf("goroutines: %d with 50 idle connections, %d with %d", base, after, n)
	// A margin for pool workers that a busy machine has not expired yet;
	// one goroutine per connection would be thousands.
	if after-base > 32 {
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
	require.LessOrEqual(t, after-base, 32, "goroutines must not grow with idle connections")

	for _, ws := range append(few, many...) {
		_ = ws.Close()
	}
	require.Eventually(t, func() bool {
		st := ts.Stats()
		return st.Sessions == 0 && st.Rooms == 0 // an emptied room is removed
	}, 20*time.Second, 20*time.Millisecond)
}
