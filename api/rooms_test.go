package api_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

func TestJoinLeaveAndPresence(t *testing.T) {
	ts := startServer(t, nil)
	a := dial(t, ts, nil)
	b := dial(t, ts, nil)

	ja := a.join("lobby")
	assert.Equal(t, 1, ja.Count)
	assert.Equal(t, []string{a.id}, ja.Members)
	assert.False(t, ja.Truncated)

	jb := b.join("lobby")
	assert.Equal(t, 2, jb.Count)
	assert.ElementsMatch(t, []string{a.id, b.id}, jb.Members)

	a.expectDiff("lobby", []string{b.id}, nil)

	// Joining again answers $joined and announces nothing.
	again := b.join("lobby")
	assert.Equal(t, 2, again.Count)

	b.send(map[string]any{"event": "$leave", "room": "lobby", "id": "l1"})
	left := b.expect("$left")
	assert.Equal(t, "l1", left.ID)
	assert.Equal(t, "lobby", left.Room)
	var lp struct{ Reason string }
	left.payload(t, &lp)
	assert.Equal(t, "left", lp.Reason)

	a.expectDiff("lobby", nil, []string{b.id})

	// Leaving a room one is not in.
	b.send(map[string]any{"event": "$leave", "room": "lobby", "id": "l2"})
	e, _ := b.expectError("not_member")
	assert.Equal(t, "l2", e.ID)

	// A client that closes (close handshake) ends its session: it is
	// listed as left.
	c := dial(t, ts, nil)
	c.join("lobby")
	a.expectDiff("lobby", []string{c.id}, nil)
	c.closeNormally()
	a.expectDiff("lobby", nil, []string{c.id})

	ids, n := ts.Members("lobby", -1)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{a.id}, ids)
}

func TestRoomCapPerConnection(t *testing.T) {
	ts := startServer(t, &api.Options{MaxRoomsPerConn: 3})
	a := dial(t, ts, nil)
	for _, r := range []string{"r1", "r2", "r3"} {
		a.join(r)
	}
	a.send(map[string]any{"event": "$join", "room": "r4", "id": "j4"})
	e, _ := a.expectError("too_many_rooms")
	assert.Equal(t, "j4", e.ID)
	assert.Equal(t, "r4", e.Room)
	assert.ElementsMatch(t, []string{"r1", "r2", "r3"}, ts.Rooms())

	// Leaving one makes room for another.
	a.send(map[string]any{"event": "$leave", "room": "r1"})
	a.expect("$left")
	a.join("r4")
	assert.ElementsMatch(t, []string{"r2", "r3", "r4"}, ts.Rooms())
}

// TestDroppedClientLeavesAfterResumeWindow: a dropped connection (no close
// handshake) suspends the session, which stays in its rooms until the
// resume window passes; then the room's next diff lists it as left.
func TestDroppedClientLeavesAfterResumeWindow(t *testing.T) {
	var disconnected atomic.Int32
	// Long enough that the checks made while suspended run inside the
	// window even on a loaded machine.
	const window = 2 * time.Second
	ts := startServer(t, &api.Options{ResumeWindow: window,
		OnDisconnect: func(*api.Conn, api.CloseInfo) { disconnected.Add(1) }})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.join("lobby")
	b.join("lobby")
	a.expectDiff("lobby", []string{b.id}, nil)
	start := time.Now()              // before the drop: the window cannot have begun earlier
	require.NoError(t, b.ws.Close()) // TCP close, no close frame
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, 15*time.Second, 5*time.Millisecond)
	assert.Equal(t, 2, ts.Stats().Sessions, "a suspended session is still live")
	ids, _ := ts.Members("lobby", -1)
	assert.Len(t, ids, 2, "it keeps its rooms while suspended")
	a.expectDiff("lobby", nil, []string{b.id}) // within wait (5 s): the window has been running since the drop
	// Guards ending the session early: load only delays the announcement,
	// so it can never come sooner than the whole window after the drop.
	assert.GreaterOrEqual(t, time.Since(start), window)
	// OnDisconnect runs just after the announcement.
	require.Eventually(t, func() bool { return disconnected.Load() == 1 && ts.Stats().Suspended == 0 },
		wait, 5*time.Millisecond, "OnDisconnect once, when the session ends")
	time.Sleep(50 * time.Millisecond) // deliberate: a second OnDisconnect would show within this window
	assert.EqualValues(t, 1, disconnected.Load(), "and only once")
}

// TestJoinedComesFirst: while a room is busy, a joiner's $joined precedes
// every frame of that room it receives.
func TestJoinedComesFirst(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	pub := dial(t, ts, nil)
	pub.join("busy")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				// Paced so that a joiner slowed by the race detector
				// does not overflow its queue before it reads.
				ts.Broadcast("busy", api.Frame{Event: "tick", Room: "busy"}, pub.id)
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	for range 20 {
		c := dial(t, ts, nil)
		c.send(map[string]any{"event": "$join", "room": "busy"})
		assert.Equal(t, "$joined", c.next().Event)
		require.NoError(t, c.ws.Close())
	}
	close(stop)
	<-done
}

// TestPresenceMatchesJoinedList: a member listed in one's $joined is never
// listed in a diff to one afterwards: a diff holds only the changes after
// its recipient's $joined. Two sessions join the same rooms at the same
// moment, room after room; each must hear of the other exactly when its
// $joined did not list the other.
func TestPresenceMatchesJoinedList(t *testing.T) {
	const rooms = 300
	ts := startServer(t, &api.Options{MaxRoomsPerConn: rooms})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	var wg sync.WaitGroup
	for i := range rooms {
		room := fmt.Sprintf("r%d", i)
		wg.Add(2)
		go func() { defer wg.Done(); assert.NoError(t, ts.Join(a.id, room)) }()
		go func() { defer wg.Done(); assert.NoError(t, ts.Join(b.id, room)) }()
		wg.Wait()
	}
	for _, c := range []struct{ self, other *client }{{a, b}, {b, a}} {
		listed := map[string]bool{}   // rooms whose $joined listed the other
		announced := map[string]int{} // diffs listing the other, per room
		known := 0                    // rooms where self knows of the other
		for known < rooms {
			m := c.self.next()
			switch m.Event {
			case "$joined":
				var j frame.JoinedPayload
				m.payload(t, &j)
				listed[m.Room] = slices.Contains(j.Members, c.other.id)
				if listed[m.Room] {
					known++
				}
			case "$presence":
				require.Contains(t, listed, m.Room, "$presence before $joined in %s", m.Room)
				var p frame.PresencePayload
				m.payload(t, &p)
				require.Empty(t, p.Left, m.Room)
				require.NotContains(t, p.Joined, c.self.id, "%s: a diff lists its recipient", m.Room)
				require.Equal(t, []string{c.other.id}, p.Joined, m.Room)
				require.False(t, listed[m.Room], "%s: listed in $joined and in a diff too", m.Room)
				announced[m.Room]++
				require.Equal(t, 1, announced[m.Room], "%s: announced twice", m.Room)
				known++
			default:
				t.Fatalf("unexpected %s", m.Event)
			}
		}
	}
}

// TestPresenceStopsInLargeRooms: a room with more than PresenceMaxMembers
// other members when its diff is due gets none; $joined still counts
// everyone.
func TestPresenceStopsInLargeRooms(t *testing.T) {
	const interval = 20 * time.Millisecond
	ts := startServer(t, &api.Options{PresenceMaxMembers: 2, PresenceInterval: interval})
	a := dial(t, ts, nil)
	a.join("r")
	b := dial(t, ts, nil)
	b.join("r") // 1 other: announced
	a.expectDiff("r", []string{b.id}, nil)
	c := dial(t, ts, nil)
	c.join("r") // 2 others: announced
	a.expectDiff("r", []string{c.id}, nil)
	b.expectDiff("r", []string{c.id}, nil)
	d := dial(t, ts, nil)
	j := d.join("r") // 3 others: not announced
	assert.Equal(t, 4, j.Count, "$joined still counts everyone")
	// Deliberate: proving that nothing comes takes a wait, here 25
	// intervals; load could only hide a diff, never invent one.
	a.quietFor(25 * interval)
}
