package api_test

import (
	"encoding/json"
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

// TestOneRoomOrder: frames from concurrent publishers (clients and the
// server) and $presence diffs reach every member of a room in one order.
// 3 members publish 200 frames each while the server broadcasts 100 and a
// client joins and leaves 10 times; the 57 other members must see the same
// sequence, and each publisher that sequence less its own frames.
func TestOneRoomOrder(t *testing.T) {
	const (
		members    = 60
		publishers = 3
		perPub     = 200
		serverPubs = 100
		churns     = 10
	)
	ts := startServer(t, &api.Options{QueueFrames: 4096})
	clients := make([]*client, members)
	watchers := make([]*watcher, members)
	for i := range clients {
		clients[i] = dial(t, ts, nil)
		watchers[i] = watch(clients[i], "r")
		clients[i].send(map[string]any{"event": "$join", "room": "r"})
	}
	// Every member has heard of every other before the start: the diffs
	// of the joins above are not part of the sequence compared.
	require.Eventually(t, func() bool { return len(roomMembers(ts, "r")) == members }, wait, time.Millisecond)
	for _, w := range watchers {
		w.readUntil(roomMembers(ts, "r"))
	}
	start, err := api.JSON("start", nil)
	require.NoError(t, err)
	_, err = ts.Broadcast("r", start)
	require.NoError(t, err)

	// Each member records the room's frames from "start" to "end".
	seen := make([][]string, members)
	pongs := make(chan struct{}, members)
	var readers sync.WaitGroup
	for i, c := range clients {
		readers.Add(1)
		go func() {
			defer readers.Done()
			seen[i] = recordRoom(t, c.ws, pongs)
		}()
	}

	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for k := range perPub {
				frame := map[string]any{"event": "m", "room": "r", "payload": strconv.Itoa(p*1000 + k)}
				if !assert.NoError(t, clients[p].ws.WriteJSON(frame)) {
					return
				}
			}
		}()
	}
	pubs.Add(2)
	go func() {
		defer pubs.Done()
		for k := range serverPubs {
			f, _ := api.JSON("m", strconv.Itoa(9000+k))
			_, err := ts.Broadcast("r", f)
			assert.NoError(t, err)
		}
	}()
	go func() {
		defer pubs.Done()
		churner := dial(t, ts, nil)
		for range churns {
			for _, ev := range []string{"$join", "$leave"} {
				if !assert.NoError(t, churner.ws.WriteJSON(map[string]any{"event": ev, "room": "r"})) {
					return
				}
				answer := map[string]string{"$join": "$joined", "$leave": "$left"}[ev]
				for { // the room's frames come meanwhile
					var m msg
					_ = churner.ws.SetReadDeadline(time.Now().Add(wait))
					if !assert.NoError(t, churner.ws.ReadJSON(&m)) || m.Event == answer {
						break
					}
				}
			}
		}
	}()
	pubs.Wait()
	// A sender's frames are handled in order: each publisher's $pong
	// proves all of its frames went out before the end marker.
	for p := range publishers {
		require.NoError(t, clients[p].ws.WriteJSON(map[string]any{"event": "$ping", "id": "done"}))
	}
	for range publishers {
		select {
		case <-pongs:
		case <-time.After(30 * time.Second):
			t.Fatal("a publisher's $pong never came")
		}
	}
	end, _ := api.JSON("end", nil)
	_, err = ts.Broadcast("r", end)
	require.NoError(t, err)
	readers.Wait()

	ref := seen[publishers]
	diffs := 0
	for _, e := range ref {
		if strings.HasPrefix(e, "$presence ") {
			diffs++
		}
	}
	// The churner's joins and leaves come as diffs, as many as the
	// intervals they spanned: one that joined and left within one
	// interval is in none.
	require.Len(t, ref, publishers*perPub+serverPubs+diffs, "every frame reached the reference member")
	assert.LessOrEqual(t, diffs, 2*churns)
	differ := 0
	for i := publishers; i < members; i++ {
		if !assert.Equal(t, ref, seen[i], "member %d saw another order", i) {
			differ++
		}
	}
	for p := range publishers {
		var want []string
		for _, e := range ref {
			if e != "" && !isFrom(e, p) {
				want = append(want, e)
			}
		}
		assert.Equal(t, want, seen[p], "publisher %d: the room's order less its own frames", p)
	}
	t.Logf("%d members, %d frames and presence events each: %d saw an order other than the first's", members, len(ref), differ)
}

// recordRoom reads ws until the "end" marker and returns the room's frames
// after "start": application frames by payload, $presence diffs by theirs.
// It reports each $pong on pongs.
func recordRoom(t *testing.T, ws *websocket.Conn, pongs chan<- struct{}) []string {
	var out []string
	started := false
	for {
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, data, err := ws.ReadMessage()
		if !assert.NoError(t, err) {
			return out
		}
		var m msg
		if !assert.NoError(t, json.Unmarshal(data, &m)) {
			return out
		}
		switch {
		case m.Event == "start":
			started = true
		case m.Event == "end":
			return out
		case m.Event == "$pong":
			pongs <- struct{}{}
		case !started || m.Room != "r":
		case m.Event == "m":
			out = append(out, string(m.Payload))
		case m.Event == "$presence":
			out = append(out, "$presence "+string(m.Payload))
		}
	}
}

// isFrom reports whether a recorded payload was published by client p.
func isFrom(entry string, p int) bool {
	n, err := strconv.Atoi(entry[1 : len(entry)-1])
	return err == nil && n/1000 == p && n < 9000
}
