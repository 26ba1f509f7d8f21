package client_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/client"
)

type chat struct {
	Text string `json:"text"`
	N    int    `json:"n"`
}

// TestRoomsPresenceAndCodecs: two clients, either codec, join a room, see
// each other, publish with an answer, and read what the other sent,
// non-ASCII text and raw bytes included.
func TestRoomsPresenceAndCodecs(t *testing.T) {
	_, url := startServer(t, nil)
	for _, codecs := range [][2]client.Codec{{client.JSON, client.JSON}, {client.Binary, client.Binary}, {client.JSON, client.Binary}} {
		t.Run(fmt.Sprint(codecs), func(t *testing.T) {
			a := dial(t, url, &client.Options{Codec: codecs[0]})
			b := dial(t, url, &client.Options{Codec: codecs[1]})
			ra := record(a, "chat", "raw")
			room := fmt.Sprintf("r-%d-%d", codecs[0], codecs[1])
			ar, err := a.Join(ctx(t), room)
			require.NoError(t, err)
			var joinedA []client.Presence
			presence := make(chan client.Presence, 4)
			ar.OnPresence(func(p client.Presence) { presence <- p })
			br, err := b.Join(ctx(t), room)
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{a.Session(), b.Session()}, br.Members())
			select {
			case p := <-presence:
				joinedA = append(joinedA, p)
			case <-time.After(wait):
				t.Fatal("no presence event")
			}
			assert.Equal(t, []client.Presence{{Room: room, Session: b.Session(), Joined: true}}, joinedA)
			assert.Eventually(t, func() bool { return len(ar.Members()) == 2 }, wait, 5*time.Millisecond)

			require.NoError(t, br.Publish(ctx(t), "chat", chat{Text: "héllo wörld ✓", N: 1}))
			require.NoError(t, br.Publish(ctx(t), "raw", []byte{0, 1, 2, 0xff}))
			require.Eventually(t, func() bool { return len(ra.messages()) == 2 }, wait, 5*time.Millisecond)
			msgs := ra.messages()
			var got chat
			require.NoError(t, msgs[0].Decode(&got))
			assert.Equal(t, chat{Text: "héllo wörld ✓", N: 1}, got)
			assert.Equal(t, b.Session(), msgs[0].From)
			assert.Equal(t, room, msgs[0].Room)
			assert.Equal(t, []byte{0, 1, 2, 0xff}, msgs[1].Payload)
			assert.True(t, msgs[1].Binary)
			assert.Equal(t, msgs[0].Seq+1, msgs[1].Seq)

			require.NoError(t, br.Leave(ctx(t)))
			select {
			case p := <-presence:
				assert.Equal(t, client.Presence{Room: room, Session: b.Session(), Joined: false}, p)
			case <-time.After(wait):
				t.Fatal("no presence event for the leave")
			}
			assert.False(t, br.Joined())
			assert.Nil(t, b.Room(room))
			assert.Equal(t, []string{room}, a.Rooms())
		})
	}
}

// TestDirectMessagesCallsAndErrors: direct messages, calls to a server
// handler, and $error codes as typed errors.
func TestDirectMessagesCallsAndErrors(t *testing.T) {
	srv, url := startServer(t, nil)
	srv.Handle("vote", func(c *api.Conn, f *api.Frame) error {
		if string(f.Payload) != `"yes"` {
			return api.NewError(api.CodeForbidden, "only yes")
		}
		return nil
	})
	a := dial(t, url, nil)
	b := dial(t, url, nil)
	rb := record(b, "dm")
	require.NoError(t, a.SendTo(ctx(t), b.Session(), "dm", json.RawMessage(`{"hi":1}`)))
	require.Eventually(t, func() bool { return len(rb.messages()) == 1 }, wait, 5*time.Millisecond)
	m := rb.messages()[0]
	assert.Equal(t, a.Session(), m.From)
	assert.JSONEq(t, `{"hi":1}`, string(m.Payload))

	err := a.SendTo(ctx(t), "s-nobody", "dm", nil)
	var e *client.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, client.CodeNoSuchSession, e.Code)

	require.NoError(t, a.Call(ctx(t), "vote", "yes"))
	err = a.Call(ctx(t), "vote", "no")
	require.ErrorAs(t, err, &e)
	assert.Equal(t, client.CodeForbidden, e.Code)
	assert.Equal(t, "only yes", e.Message)
	err = a.Call(ctx(t), "nohandler", nil)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, client.CodeBadRequest, e.Code)

	r, err := a.Join(ctx(t), "x")
	require.NoError(t, err)
	require.NoError(t, r.Leave(ctx(t)))
	err = r.Publish(ctx(t), "chat", nil)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, client.CodeNotMember, e.Code)

	err = a.Call(ctx(t), "$join", nil)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, client.CodeBadRequest, e.Code, "reserved events are refused before they are sent")
	_, err = a.Join(ctx(t), string(make([]byte, 200)))
	require.ErrorAs(t, err, &e)
	assert.Equal(t, client.CodeBadRequest, e.Code)
}
