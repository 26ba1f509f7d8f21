package cluster

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// TestResumeChaos: while one node broadcasts into a room without pause,
// its members drop their connections again and again and resume on
// another node each time. Every resume is exact: resumed, seq contiguous
// across the moves, and every broadcast frame once, in order. 48 moves;
// ROOMLOOP_TEST_CLUSTER_RESUMES sets another number.
func TestResumeChaos(t *testing.T) {
	moves := 48
	if v, err := strconv.Atoi(os.Getenv("ROOMLOOP_TEST_CLUSTER_RESUMES")); err == nil && v > 0 {
		moves = v
	}
	const members = 6
	perMember := max(1, moves/members)
	_, nodes := startCluster(t, 3)

	type member struct {
		c     *client
		token string
		home  int
	}
	ms := make([]*member, members)
	for i := range ms {
		c, token := welcomed(t, nodes[i%3])
		c.join("room")
		ms[i] = &member{c: c, token: token, home: i % 3}
	}
	waitCount(t, nodes, "room", members)

	ctx, stop := context.WithCancel(context.Background())
	flooded := make(chan int, 1)
	var latest atomic.Int64 // the last n broadcast
	latest.Store(-1)
	go func() {
		tick := time.NewTicker(time.Millisecond) // pacing, not a wait
		defer tick.Stop()
		n := 0
		defer func() { flooded <- n }()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := nodes[0].srv.Broadcast("room", api.Frame{Event: "msg", Kind: frame.JSONPayload,
				Payload: []byte(`{"n":` + strconv.Itoa(n) + `}`)}); err != nil {
				t.Error(err)
				return
			}
			latest.Store(int64(n))
			n++
		}
	}()

	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seq uint64
			want := -1 // the next n; -1 until the first
			// read reads at least count frames, and on until it has
			// caught up with the flood, so that no backlog builds up
			// over the moves.
			read := func(c *client, count int) {
				for got := 0; got < count || want <= int(latest.Load()); {
					f := c.read()
					if seq != 0 && f.Seq != seq+1 {
						t.Errorf("member %d: seq %d after %d", i, f.Seq, seq)
					}
					seq = f.Seq
					if f.Event != "msg" {
						continue
					}
					n := payloadN(t, f)
					if want >= 0 && n != want {
						t.Errorf("member %d: frame %d, want %d", i, n, want)
					}
					want = n + 1
					got++
				}
			}
			read(m.c, 3)
			for move := range perMember {
				_ = m.c.ws.UnderlyingConn().Close()
				m.home = (m.home + 1 + move%2) % 3
				c, w := resumeOn(t, nodes[m.home], m.token, seq)
				if !w.Resumed {
					t.Errorf("member %d, move %d: not resumed: %s", i, move, w.Reason)
					return
				}
				m.c = c
				read(c, 3)
			}
		}()
	}
	wg.Wait()
	stop()
	n := <-flooded
	assert.Positive(t, n)
	_, count := nodes[1].srv.Members("room", -1)
	require.Equal(t, members, count, "every member is in the room once")
}
