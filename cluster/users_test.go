package cluster

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
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
// (naming no node, or naming a node that is not theirs) are reached from
// any node by Send, Join and Kick, and by a client's direct message; a
// user's sessions on several nodes are listed, sent to and kicked from a
// node that has none of them.
func TestChosenIDsAndUsersAcrossNodes(t *testing.T) {
	_, nodes := startClusterOpts(t, 3, api.Options{Authorize: byQuery})
	phone, _ := dialURL(t, nodes[0].url+"?sid=alice-phone&user=alice")
	laptop, _ := dialURL(t, nodes[1].url+"?sid=alice.n3&user=alice") // names n3, lives on n2
	bob, _ := dialURL(t, nodes[2].url+"?sid=bob&user=bob")
	require.Equal(t, "alice-phone", phone.id)
	require.Equal(t, "alice.n3", laptop.id)

	note := func(n int) api.Frame {
		return api.Frame{Event: "note", Kind: frame.JSONPayload, Payload: []byte(`{"n":` + string(rune('0'+n)) + `}`)}
	}
	require.NoError(t, nodes[2].srv.Send("alice-phone", note(1)))
	assert.Equal(t, 1, payloadN(t, phone.next("note")))
	require.NoError(t, nodes[0].srv.Send("alice.n3", note(2)))
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

	assert.Equal(t, []string{"alice-phone", "alice.n3"}, nodes[2].srv.SessionsOf("alice"))
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
