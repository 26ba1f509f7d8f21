package api_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// TestBroadcastConcurrentSenders: 200 members, 10 of them sending 30
// messages each at once. Every member gets every other sender's messages
// exactly once, in the order sent, never its own, with seq rising by one.
func TestBroadcastConcurrentSenders(t *testing.T) {
	const members, senders, perSender = 200, 10, 30
	ts := startServer(t, &api.Options{DisablePresence: true})
	clients := make([]*client, members)
	for i := range clients {
		clients[i] = dial(t, ts, nil)
		clients[i].join("hall")
	}

	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[s]
			for n := range perSender {
				data, _ := json.Marshal(map[string]any{"event": "say", "room": "hall",
					"id": fmt.Sprintf("m%d", n), "payload": map[string]int{"n": n}})
				if err := c.ws.WriteMessage(websocket.TextMessage, data); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	for i, c := range clients {
		want := (senders - 1) * perSender
		if i >= senders {
			want = senders * perSender
		}
		next := map[string]int{}
		acks := 0
		for got := 0; got < want || (i < senders && acks < perSender); {
			m := c.next()
			if m.Event == "$ack" {
				acks++
				continue
			}
			require.Equal(t, "say", m.Event)
			require.Equal(t, "hall", m.Room)
			require.NotEqual(t, c.id, m.From, "sender got its own message")
			require.Empty(t, m.ID, "a forwarded frame carries no id")
			var p struct{ N int }
			m.payload(t, &p)
			require.Equal(t, next[m.From], p.N, "order from %s", m.From)
			next[m.From]++
			got++
		}
		if i < senders {
			assert.Len(t, next, senders-1)
		} else {
			assert.Len(t, next, senders)
		}
	}
}

func TestDirectMessages(t *testing.T) {
	ts := startServer(t, nil)
	a := dial(t, ts, nil)
	b := dial(t, ts, nil)

	a.send(map[string]any{"event": "dm", "to": b.id, "from": "someone-else", "id": "d1",
		"payload": "hello"})
	ack := a.expect("$ack")
	assert.Equal(t, "d1", ack.ID)

	m := b.expect("dm")
	assert.Equal(t, a.id, m.From, "the server overwrites a spoofed from")
	assert.Equal(t, b.id, m.To)
	assert.Empty(t, m.ID)
	assert.JSONEq(t, `"hello"`, string(m.Payload))

	a.send(map[string]any{"event": "dm", "to": "s-nobody", "id": "d2"})
	e, _ := a.expectError("no_such_session")
	assert.Equal(t, "d2", e.ID)

	// Server-side Send reaches the client; unknown ids are an error.
	require.NoError(t, ts.Send(b.id, api.Frame{Event: "notice"}))
	assert.Equal(t, "notice", b.expect("notice").Event)
	require.ErrorIs(t, ts.Send("s-nobody", api.Frame{Event: "notice"}), api.ErrNoSuchSession)
}

func TestSpoofedFromInRoom(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	a := dial(t, ts, nil)
	b := dial(t, ts, nil)
	a.join("r")
	b.join("r")
	a.send(map[string]any{"event": "chat", "room": "r", "from": b.id, "seq": 999, "payload": 1})
	m := b.expect("chat")
	assert.Equal(t, a.id, m.From)

	// Sending to a room one is not in.
	c := dial(t, ts, nil)
	c.send(map[string]any{"event": "chat", "room": "r", "id": "x"})
	e, _ := c.expectError("not_member")
	assert.Equal(t, "x", e.ID)
	assert.Equal(t, "r", e.Room)
}

func TestServerSideRoomAPI(t *testing.T) {
	ts := startServer(t, nil)
	a := dial(t, ts, nil)
	b := dial(t, ts, nil)
	require.NoError(t, ts.Join(a.id, "news"))
	a.expect("$joined")
	require.NoError(t, ts.Join(b.id, "news"))
	b.expect("$joined")
	a.expectDiff("news", []string{b.id}, nil)

	n, err := ts.Broadcast("news", api.Frame{Event: "headline"}, b.id)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, "headline", a.expect("headline").Event)

	require.NoError(t, ts.Leave(a.id, "news"))
	var lp struct{ Reason string }
	a.expect("$left").payload(t, &lp)
	assert.Equal(t, "removed", lp.Reason)
	b.expectDiff("news", nil, []string{a.id})
	require.ErrorIs(t, ts.Leave(a.id, "news"), api.ErrNotMember)
	require.ErrorIs(t, ts.Join(a.id, ""), api.ErrInvalidRoom)

	st := ts.Stats()
	assert.Equal(t, 2, st.Sessions)
	assert.Equal(t, 1, st.Rooms)
	// The six frames the clients read went out in at least one write each
	// way; no write is counted without a frame.
	assert.GreaterOrEqual(t, st.FramesWritten, uint64(6))
	assert.Positive(t, st.Writes)
	assert.LessOrEqual(t, st.Writes, st.FramesWritten)

	require.NoError(t, ts.Kick(b.id, "bye"))
	assert.Equal(t, int(api.CloseKicked), b.expectClose())
}

// TestBusyFlusherCoalesces: frames queued while a flusher waits for its
// tick go out together. With a 50 ms tick, 200 broadcasts made in a quick
// loop reach the client in a handful of writes, in order, and the
// server's counters see every frame.
func TestBusyFlusherCoalesces(t *testing.T) {
	const frames = 200
	ts := startServer(t, &api.Options{DisablePresence: true, Tick: 50 * time.Millisecond})
	c := dial(t, ts, nil)
	c.join("burst")
	before := ts.Stats()
	for i := range frames {
		n, err := ts.Broadcast("burst", api.Frame{Event: "b", Kind: api.JSONPayload, Payload: []byte(strconv.Itoa(i))})
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	for i := range frames {
		m := c.expect("b")
		require.Equal(t, strconv.Itoa(i), string(m.Payload))
	}
	after := ts.Stats()
	writes, written := after.Writes-before.Writes, after.FramesWritten-before.FramesWritten
	t.Logf("%d frames in %d writes", written, writes)
	assert.Equal(t, uint64(frames), written)
	assert.LessOrEqual(t, writes, uint64(10), "one write per tick, not per frame")
}

// TestLargeMessagesReachEveryone: a configured message size above the
// flush chunk is delivered whole, not dropped by a write-buffer bound.
func TestLargeMessagesReachEveryone(t *testing.T) {
	ts := startServer(t, &api.Options{MaxMessageSize: 1 << 20, QueueBytes: 4 << 20, DisablePresence: true})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.join("r")
	b.join("r")
	big := strings.Repeat("z", 600_000)
	a.send(map[string]any{"event": "big", "room": "r", "payload": big})
	m := b.expect("big")
	assert.Equal(t, `"`+big+`"`, string(m.Payload))
}
