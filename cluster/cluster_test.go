package cluster

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// TestThreeNodesOneRoomOrder: six members on three nodes; three senders,
// one per node, each send 40 frames at once. Every member gets every
// other member's frames exactly once, in each sender's order, with
// contiguous seq, and all members see the room's frames in one order.
// Each frame is one record in the stream.
func TestThreeNodesOneRoomOrder(t *testing.T) {
	ns, nodes := startCluster(t, 3)
	var clients []*client
	for i := range 6 {
		c := dial(t, nodes[i%3])
		c.join("lobby")
		clients = append(clients, c)
	}
	waitCount(t, nodes, "lobby", 6)

	const perSender = 40
	senders := clients[:3]
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perSender {
				if err := s.ws.WriteJSON(map[string]any{"event": "msg", "room": "lobby", "payload": map[string]int{"n": n}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	orders := make([][]string, len(clients))
	for i, c := range clients {
		want := perSender * len(senders)
		if slices.Contains(senders, c) {
			want -= perSender // a sender does not hear itself
		}
		var lastSeq uint64
		next := map[string]int{}
		for len(orders[i]) < want {
			f := c.read()
			if f.Seq != 0 {
				if lastSeq != 0 {
					require.Equal(t, lastSeq+1, f.Seq, "client %d: seq is contiguous", i)
				}
				lastSeq = f.Seq
			}
			if f.Event != "msg" {
				continue
			}
			require.NotEqual(t, c.id, f.From, "a sender does not hear itself")
			n := payloadN(t, f)
			require.Equal(t, next[f.From], n, "client %d: %s's frames in its order, once", i, f.From)
			next[f.From]++
			orders[i] = append(orders[i], label(f, n))
		}
	}
	// One order: any two members agree on the frames both got.
	for i := range clients {
		for j := i + 1; j < len(clients); j++ {
			a := slices.DeleteFunc(slices.Clone(orders[i]), func(s string) bool { return !slices.Contains(orders[j], s) })
			b := slices.DeleteFunc(slices.Clone(orders[j]), func(s string) bool { return !slices.Contains(orders[i], s) })
			require.Equal(t, a, b, "clients %d and %d see one order", i, j)
		}
	}
	// One record per frame and per join: nothing published twice.
	info, err := nodes[0].broker.stream.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(6+perSender*len(senders)), info.State.Msgs)
	_ = ns
}

// TestPresenceAcrossNodes: a member on one node sees joins and leaves on
// the others in its $presence diffs; $joined lists every node's members;
// every node, holder or not, reports the same members.
func TestPresenceAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a := dial(t, nodes[0])
	assert.Equal(t, 1, a.join("room").Count)
	b := dial(t, nodes[1])
	j := b.join("room")
	assert.Equal(t, 2, j.Count)
	assert.ElementsMatch(t, []string{a.id, b.id}, j.Members)
	var p frame.PresencePayload
	require.NoError(t, json.Unmarshal(a.next("$presence").Payload, &p))
	assert.Equal(t, []string{b.id}, p.Joined)

	for _, n := range nodes { // n3 holds no member: it asks the holders
		ids, count := n.srv.Members("room", -1)
		assert.Equal(t, 2, count, n.broker.Node())
		assert.ElementsMatch(t, []string{a.id, b.id}, ids)
	}
	b.send(map[string]any{"event": "$leave", "room": "room"})
	b.next("$left")
	require.NoError(t, json.Unmarshal(a.next("$presence").Payload, &p))
	assert.Equal(t, []string{b.id}, p.Left)
	waitCount(t, nodes[:2], "room", 1)
}

// TestDirectAndAPIAcrossNodes: direct messages and the server-side API
// (Send, Broadcast, Join, Kick) reach a session on another node; an
// unknown session is no_such_session.
func TestDirectAndAPIAcrossNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a := dial(t, nodes[0])
	b := dial(t, nodes[1])

	a.send(map[string]any{"event": "hi", "to": b.id, "id": "d1", "payload": map[string]int{"n": 7}})
	assert.Equal(t, "d1", a.next("$ack").ID)
	f := b.next("hi")
	assert.Equal(t, a.id, f.From)
	assert.Equal(t, 7, payloadN(t, f))

	// A sender's direct messages to another node keep their order.
	for n := range 20 {
		a.send(map[string]any{"event": "seq", "to": b.id, "payload": map[string]int{"n": n}})
	}
	for n := range 20 {
		assert.Equal(t, n, payloadN(t, b.next("seq")))
	}

	for _, to := range []string{"s-nobody.n3", "s-nobody.n9", "s-nobody"} {
		a.send(map[string]any{"event": "hi", "to": to, "id": "d-" + to})
		e := a.next("$error")
		assert.Equal(t, "d-"+to, e.ID)
		assert.Contains(t, string(e.Payload), api.CodeNoSuchSession, to)
	}

	require.NoError(t, nodes[2].srv.Send(b.id, api.Frame{Event: "note", Kind: frame.JSONPayload, Payload: []byte(`{"n":1}`)}))
	assert.Equal(t, 1, payloadN(t, b.next("note")))
	assert.ErrorIs(t, nodes[2].srv.Send("s-nobody.n1", api.Frame{Event: "note"}), api.ErrNoSuchSession)

	require.NoError(t, nodes[2].srv.Join(b.id, "ops"))
	var jp frame.JoinedPayload
	require.NoError(t, json.Unmarshal(b.next("$joined").Payload, &jp))
	assert.Equal(t, 1, jp.Count)
	n, err := nodes[0].srv.Broadcast("ops", api.Frame{Event: "alert", Kind: frame.JSONPayload, Payload: []byte(`{"n":2}`)})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the room's members on every node")
	assert.Equal(t, 2, payloadN(t, b.next("alert")))

	require.NoError(t, nodes[0].srv.Kick(b.id, "bye"))
	require.NoError(t, b.ws.SetReadDeadline(time.Now().Add(wait)))
	for {
		if _, _, err := b.ws.ReadMessage(); err != nil {
			assert.Contains(t, err.Error(), "4001")
			break
		}
	}
}

// TestNodeCrashReapsItsMembers: a node that goes silent (its NATS
// connection cut, with no goodbye) is taken for dead: its members leave
// every room, and a member on another node hears each leave once.
func TestNodeCrashReapsItsMembers(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a := dial(t, nodes[0])
	a.join("room")
	b1, b2 := dial(t, nodes[1]), dial(t, nodes[1])
	b1.join("room")
	b2.join("room")
	waitCount(t, []*node{nodes[0], nodes[2]}, "room", 3)

	nodes[1].broker.nc.Close() // the crash, as the others see it
	left := map[string]int{}
	for len(left) < 2 {
		var p frame.PresencePayload
		require.NoError(t, json.Unmarshal(a.next("$presence").Payload, &p))
		for _, id := range p.Left {
			left[id]++
		}
	}
	assert.Equal(t, map[string]int{b1.id: 1, b2.id: 1}, left)
	waitCount(t, []*node{nodes[0], nodes[2]}, "room", 1)
}

// twoNodesInARoom starts nodes n1 and n2 on ns and a client of each,
// both in "room".
func twoNodesInARoom(t *testing.T, ns *natsServer) (nodes []*node, a, b *client) {
	t.Helper()
	nodes = []*node{startNode(t, ns.url(), "n1", api.Options{}), startNode(t, ns.url(), "n2", api.Options{})}
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.broker.peers.alive() == 1 }, wait, 10*time.Millisecond)
	}
	a, b = dial(t, nodes[0]), dial(t, nodes[1])
	a.join("room")
	b.join("room")
	waitCount(t, nodes, "room", 2)
	return nodes, a, b
}

// sendUntilAcked sends frame m1 ({"n":1}) to "room" from a, again after
// each $error, until it is acknowledged, for at most within.
func sendUntilAcked(t *testing.T, a *client, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		a.send(map[string]any{"event": "msg", "room": "room", "id": "m1", "payload": map[string]int{"n": 1}})
		f := a.read()
		for f.Event != "$ack" && f.Event != "$error" {
			f = a.read()
		}
		return f.Event == "$ack"
	}, within, 100*time.Millisecond)
}

// TestNATSOutage: while NATS is away a room frame gets $error internal at
// once and its id is not used up; once NATS is back (restarted on its
// port, storage lost), the retry is applied and delivered once.
func TestNATSOutage(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	port := ns.port()
	nodes, a, b := twoNodesInARoom(t, ns)

	ns.s.Shutdown()
	ns.s.WaitForShutdown()
	require.Eventually(t, func() bool { return !nodes[0].broker.nc.IsConnected() }, wait, 10*time.Millisecond)
	a.send(map[string]any{"event": "msg", "room": "room", "id": "m1", "payload": map[string]int{"n": 1}})
	e := a.next("$error")
	assert.Equal(t, "m1", e.ID)
	assert.Contains(t, string(e.Payload), api.CodeInternal)

	startNATS(t, port, dir)
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.broker.nc.IsConnected() }, wait, 10*time.Millisecond)
	}
	// The retry goes through once the stream is back.
	sendUntilAcked(t, a, wait)
	f := b.next("msg")
	assert.Equal(t, 1, payloadN(t, f))
	// Once: the next frame b gets is the next one sent.
	a.send(map[string]any{"event": "msg", "room": "room", "payload": map[string]int{"n": 2}})
	f = b.next("msg")
	assert.Equal(t, 2, payloadN(t, f))
}

// TestConnectFailsWithoutNATS: a node never starts alone by mistake.
func TestConnectFailsWithoutNATS(t *testing.T) {
	_, err := Connect(testConfig("nats://127.0.0.1:1", "n1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connecting to NATS")
	_, err = Connect(Config{URL: "nats://127.0.0.1:1", Node: "Bad.Node"})
	assert.ErrorContains(t, err, "node id")
}

// TestStreamMadeWhenJetStreamComesBack: NATS restarts on its port without
// JetStream (or with it not ready yet), so the nodes cannot make the room
// stream again when they reconnect; once JetStream is enabled, they do,
// and the room serves again without a process restart.
func TestStreamMadeWhenJetStreamComesBack(t *testing.T) {
	dir := t.TempDir()
	ns := startNATS(t, 0, dir)
	port := ns.port()
	nodes, a, b := twoNodesInARoom(t, ns)

	ns.s.Shutdown()
	ns.s.WaitForShutdown()
	plain, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go plain.Start()
	require.True(t, plain.ReadyForConnections(wait))
	t.Cleanup(func() { plain.Shutdown(); plain.WaitForShutdown() })
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.broker.nc.IsConnected() }, wait, 10*time.Millisecond)
	}
	require.NoError(t, plain.EnableJetStream(&natsserver.JetStreamConfig{StoreDir: dir}))
	sendUntilAcked(t, a, 2*wait)
	assert.Equal(t, 1, payloadN(t, b.next("msg")))
}
