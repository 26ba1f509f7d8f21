package cluster

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/httpapi"
)

// byQuery is an Authorize that takes the session id and the user from the
// query (?sid=&user=), as a backend that names its own sessions does.
func byQuery(r *http.Request) (api.Identity, error) {
	q := r.URL.Query()
	return api.Identity{SessionID: q.Get("sid"), User: q.Get("user")}, nil
}

// closedWith reads until the connection ends and returns the error.
func closedWith(t *testing.T, c *client) string {
	t.Helper()
	require.NoError(t, c.ws.SetReadDeadline(time.Now().Add(wait)))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			return err.Error()
		}
	}
}

// TestChosenIDsAndUsersAcrossNodes: sessions whose ids Authorize chose
// (naming no node) are reached from any node by Send, Join and Kick, and
// by a client's direct message; a user's sessions on several nodes are
// listed, sent to and kicked from a node that has none of them.
func TestChosenIDsAndUsersAcrossNodes(t *testing.T) {
	_, nodes := startClusterOpts(t, 3, api.Options{Authorize: byQuery})
	phone, _ := dialURL(t, nodes[0].url+"?sid=alice-phone&user=alice")
	laptop, _ := dialURL(t, nodes[1].url+"?sid=alice.laptop&user=alice") // "laptop" is no node
	bob, _ := dialURL(t, nodes[2].url+"?sid=bob&user=bob")
	require.Equal(t, "alice-phone", phone.id)
	require.Equal(t, "alice.laptop", laptop.id)

	note := func(n int) api.Frame {
		return api.Frame{Event: "note", Kind: frame.JSONPayload, Payload: []byte(`{"n":` + string(rune('0'+n)) + `}`)}
	}
	require.NoError(t, nodes[2].srv.Send("alice-phone", note(1)))
	assert.Equal(t, 1, payloadN(t, phone.next("note")))
	require.NoError(t, nodes[2].srv.Send("alice.laptop", note(2)))
	assert.Equal(t, 2, payloadN(t, laptop.next("note")))
	assert.ErrorIs(t, nodes[0].srv.Send("carol", note(3)), api.ErrNoSuchSession)
	assert.ErrorIs(t, nodes[0].srv.Send("carol.n2", note(3)), api.ErrNoSuchSession)

	bob.send(map[string]any{"event": "dm", "to": "alice-phone", "id": "d1", "payload": map[string]int{"n": 4}})
	assert.Equal(t, "d1", bob.next("$ack").ID)
	f := phone.next("dm")
	assert.Equal(t, "bob", f.From)
	assert.Equal(t, 4, payloadN(t, f))

	require.NoError(t, nodes[2].srv.Join("alice-phone", "ops"))
	assert.Equal(t, "ops", phone.next("$joined").Room)

	assert.Equal(t, []string{"alice-phone", "alice.laptop"}, nodes[2].srv.SessionsOf("alice"))
	assert.Equal(t, []string{"bob"}, nodes[0].srv.SessionsOf("bob"))
	assert.Empty(t, nodes[0].srv.SessionsOf("carol"))

	n, err := nodes[2].srv.SendUser("alice", note(5))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "both of alice's sessions, on two other nodes")
	assert.Equal(t, 5, payloadN(t, phone.next("note")))
	assert.Equal(t, 5, payloadN(t, laptop.next("note")))
	n, err = nodes[0].srv.SendUser("carol", note(6))
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = nodes[0].srv.SendUser("alice", api.Frame{})
	assert.ErrorIs(t, err, api.ErrInvalidFrame)

	n, err = nodes[2].srv.KickUser("alice", "bye")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Contains(t, closedWith(t, phone), "4001")
	assert.Contains(t, closedWith(t, laptop), "4001")
	assert.Eventually(t, func() bool { return len(nodes[1].srv.SessionsOf("alice")) == 0 }, wait, 10*time.Millisecond)

	require.NoError(t, nodes[0].srv.Kick("bob", "bye"))
	assert.Contains(t, closedWith(t, bob), "4001")
}

// notesUntil reads c's frames until the "mark" frame and returns the n of
// each "note" before it.
func notesUntil(t *testing.T, c *client) []int {
	t.Helper()
	var ns []int
	for {
		f := c.read()
		switch f.Event {
		case "mark":
			return ns
		case "note":
			ns = append(ns, payloadN(t, f))
		}
	}
}

// TestChosenIDOnTwoNodesGetsOneRequest: an id Authorize chose can be live
// on two nodes at once (a client that reconnects by id to another node
// starts a session there). A Send from a third node reaches one of them,
// once.
func TestChosenIDOnTwoNodesGetsOneRequest(t *testing.T) {
	_, nodes := startClusterOpts(t, 3, api.Options{Authorize: byQuery})
	a, _ := dialURL(t, nodes[0].url+"?sid=alice")
	b, _ := dialURL(t, nodes[1].url+"?sid=alice")
	note := api.Frame{Event: "note", Kind: frame.JSONPayload, Payload: []byte(`{"n":1}`)}
	require.NoError(t, nodes[2].srv.Send("alice", note))
	mark := api.Frame{Event: "mark", Kind: frame.JSONPayload, Payload: []byte(`{}`)}
	require.NoError(t, nodes[0].srv.Send("alice", mark)) // each node's own
	require.NoError(t, nodes[1].srv.Send("alice", mark))
	got := append(notesUntil(t, a), notesUntil(t, b)...)
	assert.Equal(t, []int{1}, got, "one Send, delivered once")
}

// slowNode is a cluster node that answers every request, after delay,
// that it has no such session.
type slowNode struct{ delay time.Duration }

func (slowNode) RoomState(string) (uint64, []byte, bool) { return 0, nil, false }
func (slowNode) RoomReset(string, uint64, []byte)        {}
func (slowNode) RoomRecord(string, uint64, []byte)       {}
func (slowNode) RoomLost(string, uint64)                 {}
func (slowNode) NodeDown(string)                         {}
func (s slowNode) Handle([]byte) []byte {
	time.Sleep(s.delay)
	return []byte{1} // no such session
}

// TestLookupsAndSlowOrDeadNodes: looking a session up on every node
// returns as soon as a node has it connected, though another node is slow
// to answer; a node's own ids are answered at once; and a node that is
// listed but gone (no responder) counts as not having the session.
func TestLookupsAndSlowOrDeadNodes(t *testing.T) {
	const slow = 1500 * time.Millisecond // under the test config's 2 s request timeout
	ns, nodes := startClusterOpts(t, 2, api.Options{Authorize: byQuery})
	b, err := Connect(testConfig(ns.url(), "n9"))
	require.NoError(t, err)
	require.NoError(t, b.Attach(slowNode{delay: slow}))
	t.Cleanup(b.Detach)
	require.Eventually(t, func() bool { return nodes[1].broker.peers.alive() == 2 }, wait, 10*time.Millisecond)

	phone, _ := dialURL(t, nodes[0].url+"?sid=alice-phone")
	note := api.Frame{Event: "note", Kind: frame.JSONPayload, Payload: []byte(`{"n":1}`)}
	start := time.Now()
	require.NoError(t, nodes[1].srv.Send("alice-phone", note))
	assert.Less(t, time.Since(start), slow, "the call waited for the slow node")
	assert.Equal(t, 1, payloadN(t, phone.next("note")))

	start = time.Now()
	assert.ErrorIs(t, nodes[1].srv.Send("s-gone.n2", note), api.ErrNoSuchSession)
	assert.Less(t, time.Since(start), slow, "an id of this node's own was asked of the others")

	// A node heard from but without a responder: gone, not yet reaped.
	nc, err := nats.Connect(ns.url())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	require.NoError(t, nc.Publish(heartbeatPrefix+"n8", []byte("boot-8")))
	require.Eventually(t, func() bool { return nodes[0].broker.peers.alive() == 3 }, wait, 10*time.Millisecond)
	assert.ErrorIs(t, nodes[0].srv.Send("carol", note), api.ErrNoSuchSession)
}

// TestUserCallsWithASilentNode: when a node does not answer within the
// request timeout, SendUser and KickUser still do what the others can and
// say that the count is incomplete, as does the HTTP API (200 with
// "incomplete": true: a retry would reach the same sessions again).
func TestUserCallsWithASilentNode(t *testing.T) {
	ns, nodes := startClusterOpts(t, 2, api.Options{Authorize: byQuery})
	b, err := Connect(testConfig(ns.url(), "n9"))
	require.NoError(t, err)
	require.NoError(t, b.Attach(slowNode{delay: 2500 * time.Millisecond})) // past the 2 s timeout
	t.Cleanup(b.Detach)
	require.Eventually(t, func() bool { return nodes[1].broker.peers.alive() == 2 }, wait, 10*time.Millisecond)
	phone, _ := dialURL(t, nodes[0].url+"?sid=alice-phone&user=alice")

	n, err := nodes[1].srv.SendUser("alice", api.Frame{Event: "note", Kind: frame.JSONPayload, Payload: []byte(`{"n":1}`)})
	assert.ErrorIs(t, err, api.ErrIncomplete)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, payloadN(t, phone.next("note")))

	hs := httptest.NewServer(httpapi.New(nodes[1].srv, httpapi.Options{APIKey: "k"}))
	t.Cleanup(hs.Close)
	post := func(path, body string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, hs.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	code, body := post("/api/send_user", `{"user":"alice","event":"note","payload":{"n":2}}`)
	assert.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"delivered":1,"incomplete":true}`, body)
	assert.Equal(t, 2, payloadN(t, phone.next("note")))
	code, body = post("/api/kick_user", `{"user":"alice","reason":"bye"}`)
	assert.Equal(t, http.StatusOK, code, body)
	assert.JSONEq(t, `{"kicked":1,"incomplete":true}`, body)
	assert.Contains(t, closedWith(t, phone), "4001")
}
