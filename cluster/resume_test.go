package cluster

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// resumeOn dials n resuming the session of token after lastSeq, and
// returns the client and its $welcome.
func resumeOn(t *testing.T, n *node, token string, lastSeq uint64) (*client, frame.WelcomePayload) {
	t.Helper()
	q := url.Values{"resume": {token}, "last_seq": {strconv.FormatUint(lastSeq, 10)}}
	return dialURL(t, n.url+"?"+q.Encode())
}

// welcomed dials n and returns the client with its resume token.
func welcomed(t *testing.T, n *node) (*client, string) {
	t.Helper()
	c, w := dialURL(t, n.url)
	return c, w.Resume
}

// TestResumeOnAnotherNode: a client of n1 whose connection drops resumes
// on n2: the same session, resumed:true, every frame it had not read
// (those sent while it was away included) once, in order, with seq
// running on; then live frames there; and the room lists it once.
func TestResumeOnAnotherNode(t *testing.T) {
	_, nodes := startCluster(t, 3)
	x, token := welcomed(t, nodes[0])
	x.join("room")
	y := dial(t, nodes[2])
	y.join("room")
	waitCount(t, nodes, "room", 2)

	sendN := func(from, to int) {
		for n := from; n < to; n++ {
			y.send(map[string]any{"event": "msg", "room": "room", "payload": map[string]int{"n": n}})
		}
	}
	sendN(0, 5)
	var last uint64
	for range 3 { // x reads three, then drops
		f := x.next("msg")
		last = f.Seq
	}
	require.NoError(t, x.ws.UnderlyingConn().Close())
	sendN(5, 10) // while x is away

	x2, w := resumeOn(t, nodes[1], token, last)
	require.True(t, w.Resumed, "resume_refused: %q", w.Reason)
	assert.Equal(t, x.id, w.Session)
	// Every frame after last comes once, in order: seq runs on.
	seq := last
	nextMsg := func() serverFrame {
		for {
			f := x2.read()
			require.Equal(t, seq+1, f.Seq, "seq runs on: %+v", f)
			seq = f.Seq
			if f.Event == "msg" {
				return f
			}
		}
	}
	for want := 3; want < 10; want++ {
		assert.Equal(t, want, payloadN(t, nextMsg()))
	}
	sendN(10, 11)
	assert.Equal(t, 10, payloadN(t, nextMsg()))

	for _, n := range nodes {
		ids, count := n.srv.Members("room", -1)
		assert.Equal(t, 2, count, n.broker.Node())
		assert.ElementsMatch(t, []string{x.id, y.id}, ids)
	}
	// A direct message to the moved session reaches it on its new node.
	y.send(map[string]any{"event": "dm", "to": x.id, "id": "d1"})
	assert.Equal(t, "d1", y.next("$ack").ID)
	x2.next("dm")
}

// TestResumeRaceOneWins: two resumes of one session on two other nodes
// at once. As on one node, they are applied one after the other: the
// first is resumed, and the second is either refused (unknown: the first
// was still arriving) or resumes after it, closing the first with 4003.
// Either way exactly one connection holds the session in the end, and no
// frame goes to both.
func TestResumeRaceOneWins(t *testing.T) {
	_, nodes := startCluster(t, 3)
	x, token := welcomed(t, nodes[0])
	x.join("room")
	require.NoError(t, x.ws.UnderlyingConn().Close())

	var wg sync.WaitGroup
	clients := make([]*client, 2)
	results := make([]frame.WelcomePayload, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i], results[i] = resumeOn(t, nodes[i+1], token, 0)
		}()
	}
	wg.Wait()
	var resumed []*client
	for i, w := range results {
		if w.Resumed {
			assert.Equal(t, x.id, w.Session)
			resumed = append(resumed, clients[i])
		} else {
			assert.Equal(t, "unknown", w.Reason)
		}
	}
	require.NotEmpty(t, resumed)
	// The holder is the client of the node where the session is
	// connected; a replaced one reads 4003.
	var holder *client
	require.Eventually(t, func() bool {
		holder = nil
		for i := range 2 {
			if c, ok := nodes[i+1].srv.Conn(x.id); ok && c.Connected() && results[i].Resumed {
				if holder != nil {
					return false
				}
				holder = clients[i]
			}
		}
		return holder != nil
	}, wait, 10*time.Millisecond)
	for _, c := range resumed {
		if c != holder {
			require.NoError(t, c.ws.SetReadDeadline(time.Now().Add(wait)))
			for {
				_, _, err := c.ws.ReadMessage()
				if err != nil {
					assert.True(t, websocket.IsCloseError(err, 4003), "%v", err)
					break
				}
			}
		}
	}
	y := dial(t, nodes[0])
	y.join("room")
	y.send(map[string]any{"event": "msg", "room": "room", "payload": map[string]int{"n": 1}})
	assert.Equal(t, 1, payloadN(t, holder.next("msg")))
	_, count := nodes[0].srv.Members("room", -1)
	assert.Equal(t, 2, count)
}

// TestResumeHomeGone: when the session's home is gone the client gets a
// plain resumed:false (unknown), never a partial replay.
func TestResumeHomeGone(t *testing.T) {
	_, nodes := startCluster(t, 2)
	x, token := welcomed(t, nodes[0])
	x.join("room")
	nodes[0].broker.nc.Close()
	_, w := resumeOn(t, nodes[1], token, 0)
	assert.False(t, w.Resumed)
	assert.Equal(t, "unknown", w.Reason)
	assert.NotEqual(t, x.id, w.Session)
}

// TestDrainThenResumeElsewhere: a node that shuts down (1001 to its
// clients) keeps their sessions for HandoverWait; a client resumes on
// another node, exactly, and the drained node's Shutdown returns once
// its sessions have moved.
func TestDrainThenResumeElsewhere(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	b1, err := Connect(testConfig(ns.url(), "n1"))
	require.NoError(t, err)
	n1 := startBrokerNodeOpts(t, b1, api.Options{HandoverWait: wait})
	n2 := startNode(t, ns.url(), "n2", api.Options{})
	require.Eventually(t, func() bool { return n2.broker.peers.alive() == 1 }, wait, 10*time.Millisecond)

	x, token := welcomed(t, n1)
	x.join("room")
	y := dial(t, n2)
	y.join("room")
	y.send(map[string]any{"event": "msg", "room": "room", "payload": map[string]int{"n": 0}})
	last := x.next("msg").Seq

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
		defer cancel()
		done <- n1.srv.Shutdown(ctx)
	}()
	require.NoError(t, x.ws.SetReadDeadline(time.Now().Add(wait)))
	for {
		_, _, err := x.ws.ReadMessage()
		if err != nil {
			require.True(t, websocket.IsCloseError(err, 1001), "%v", err)
			break
		}
	}
	y.send(map[string]any{"event": "msg", "room": "room", "payload": map[string]int{"n": 1}})
	x2, w := resumeOn(t, n2, token, last)
	require.True(t, w.Resumed, w.Reason)
	f := x2.next("msg")
	assert.Equal(t, 1, payloadN(t, f))
	assert.Equal(t, last+1, f.Seq)
	select {
	case err := <-done:
		require.NoError(t, err)
		assert.Less(t, time.Since(start), wait, "Shutdown returned once the session moved")
	case <-time.After(2 * wait):
		t.Fatal("Shutdown did not return")
	}
}

// TestLastNodeDoesNotWaitForHandovers: the last node up has no one to
// hand its drained sessions to, so its Shutdown ends them at once rather
// than keeping them for HandoverWait.
func TestLastNodeDoesNotWaitForHandovers(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	b, err := Connect(testConfig(ns.url(), "n1"))
	require.NoError(t, err)
	const handoverWait = time.Minute
	n1 := startBrokerNodeOpts(t, b, api.Options{HandoverWait: handoverWait})
	x, _ := welcomed(t, n1)
	x.join("room")
	done := make(chan error, 1)
	go func() { done <- n1.srv.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(wait): // a generous bound, far below HandoverWait
		require.Fail(t, "Shutdown kept the sessions for their handover with no other node up")
		<-done
	}
}
