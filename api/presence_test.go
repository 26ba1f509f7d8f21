package api_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// watcher is one client's view of a room: the member list of its latest
// $joined, with every $presence diff since applied strictly (a diff may
// name only a member in the view as left, only one not in it as joined,
// and never the client itself).
type watcher struct {
	*client
	room   string
	view   map[string]bool // nil while not a member
	diffs  int             // $presence frames received
	leaves bool            // it expects its own $left
}

func watch(c *client, room string) *watcher { return &watcher{client: c, room: room} }

// read reads one frame of the watcher's room and applies it.
func (w *watcher) read() {
	w.t.Helper()
	m := w.next()
	switch m.Event {
	case "$joined":
		require.Equal(w.t, w.room, m.Room)
		var j frame.JoinedPayload
		m.payload(w.t, &j)
		require.False(w.t, j.Truncated)
		w.view = map[string]bool{}
		for _, id := range j.Members {
			w.view[id] = true
		}
	case "$left":
		require.Equal(w.t, w.room, m.Room)
		w.view = nil
	case "$presence":
		require.Equal(w.t, w.room, m.Room)
		require.NotNil(w.t, w.view, "$presence while not a member")
		var p frame.PresencePayload
		m.payload(w.t, &p)
		require.False(w.t, len(p.Joined) == 0 && len(p.Left) == 0, "an empty diff")
		w.diffs++
		for _, id := range p.Left {
			require.NotEqual(w.t, w.id, id, "a diff lists its recipient")
			require.True(w.t, w.view[id], "%s left, but the view does not hold it", id)
			delete(w.view, id)
		}
		for _, id := range p.Joined {
			require.NotEqual(w.t, w.id, id, "a diff lists its recipient")
			require.False(w.t, w.view[id], "%s joined, but the view holds it already", id)
			w.view[id] = true
		}
	default:
		w.t.Fatalf("unexpected %s %s", m.Event, m.Payload)
	}
}

// readUntil reads frames until the view holds exactly members.
func (w *watcher) readUntil(members []string) {
	w.t.Helper()
	for !w.sees(members) {
		w.read()
	}
}

func (w *watcher) sees(members []string) bool {
	if w.view == nil || len(w.view) != len(members) {
		return false
	}
	for _, id := range members {
		if !w.view[id] {
			return false
		}
	}
	return true
}

// roomMembers returns room's members as the server has them.
func roomMembers(ts *testServer, room string) []string {
	ids, _ := ts.Members(room, -1)
	return ids
}

// TestPresenceViewsExactUnderChurn: joins, $leave, clean closes, TCP
// drops, a leave and rejoin, a join and leave, and newcomers, all at once
// in one room. Every member that remains must end with a view (its
// $joined list plus the diffs since, applied strictly) equal to the room.
func TestPresenceViewsExactUnderChurn(t *testing.T) {
	const (
		initial    = 40 // members before the churn
		leavers    = 8  // $leave
		closers    = 8  // close handshake 1000
		droppers   = 8  // TCP drop: they end when the resume window passes
		rejoiners  = 6  // $leave then $join at once
		newcomers  = 16 // $join
		passers    = 6  // $join then $leave at once
		room       = "r"
		remainSize = initial - leavers - closers - droppers + newcomers
	)
	ts := startServer(t, &api.Options{MaxMembersListed: -1, ResumeWindow: 300 * time.Millisecond})
	var all []*watcher
	for range initial {
		w := watch(dial(t, ts, nil), room)
		w.send(map[string]any{"event": "$join", "room": room})
		all = append(all, w)
	}
	require.Eventually(t, func() bool { return len(roomMembers(ts, room)) == initial }, wait, time.Millisecond)
	settled := roomMembers(ts, room)
	for _, w := range all {
		w.readUntil(settled)
	}

	// The churn: each action is one or two writes, made in a random order
	// in a few milliseconds, while the server handles them concurrently.
	var actions []func()
	var remain []*watcher
	for i, w := range all {
		switch {
		case i < leavers:
			actions = append(actions, func() { w.send(map[string]any{"event": "$leave", "room": room}) })
		case i < leavers+closers:
			actions = append(actions, func() {
				msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
				require.NoError(t, w.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)))
			})
		case i < leavers+closers+droppers:
			actions = append(actions, func() { require.NoError(t, w.ws.UnderlyingConn().Close()) })
		case i < leavers+closers+droppers+rejoiners:
			actions = append(actions, func() {
				w.send(map[string]any{"event": "$leave", "room": room})
				w.send(map[string]any{"event": "$join", "room": room})
			})
			remain = append(remain, w)
		default:
			remain = append(remain, w)
		}
	}
	for range newcomers {
		w := watch(dial(t, ts, nil), room)
		actions = append(actions, func() { w.send(map[string]any{"event": "$join", "room": room}) })
		remain = append(remain, w)
	}
	for range passers {
		c := dial(t, ts, nil)
		actions = append(actions, func() {
			c.send(map[string]any{"event": "$join", "room": room})
			c.send(map[string]any{"event": "$leave", "room": room})
		})
	}
	rand.Shuffle(len(actions), func(i, j int) { actions[i], actions[j] = actions[j], actions[i] })
	for _, act := range actions {
		act()
	}

	require.Eventually(t, func() bool { return len(roomMembers(ts, room)) == remainSize && ts.Stats().Suspended == 0 },
		15*time.Second, 5*time.Millisecond, "the churn settles")
	final := roomMembers(ts, room)
	for _, w := range remain {
		w.readUntil(final)
	}
	// A last joiner: every view must reach the room with it added, with
	// no stray diff on the way.
	last := dial(t, ts, nil)
	last.join(room)
	final = append(final, last.id)
	for _, w := range remain {
		w.readUntil(final)
	}
	assert.ElementsMatch(t, final, roomMembers(ts, room))
}

// TestPresenceJoinStorm: N sessions join one room at once; the $presence
// frames stay within the bound of joinStorm and every view ends exact.
// ROOMLOOP_TEST_STORM sets N (default 300).
func TestPresenceJoinStorm(t *testing.T) {
	n := 300
	if v, err := strconv.Atoi(os.Getenv("ROOMLOOP_TEST_STORM")); err == nil && v > 0 {
		n = v
	}
	ts := startServer(t, &api.Options{MaxMembersListed: -1})
	frames, bound := joinStorm(t, ts, "storm", n)
	assert.LessOrEqual(t, frames, bound)
	assert.Equal(t, uint64(frames), ts.Stats().PresenceFrames, "every $presence frame queued was read")
}

// joinStorm has n new sessions join room at once and reads every one's
// frames until its view equals the room. It returns the $presence frames
// they got and the bound they must stay within: each member gets at most
// one frame per diff of the room, and the room sends one diff at the end
// of each interval with changes plus one per 256 changes, so n × (the
// intervals the storm spanned + n/256 + 2), where one event per join
// would cost n(n-1)/2. ts must list every member in $joined and use the
// default PresenceInterval.
func joinStorm(t *testing.T, ts *testServer, room string, n int) (frames, bound int) {
	t.Helper()
	ws := make([]*watcher, n)
	for i := range ws {
		ws[i] = watch(dial(t, ts, nil), room)
	}
	start := time.Now()
	for _, w := range ws {
		w.send(map[string]any{"event": "$join", "room": room})
	}
	require.Eventually(t, func() bool { return len(roomMembers(ts, room)) == n }, 60*time.Second, time.Millisecond)
	took := time.Since(start)
	final := roomMembers(ts, room)
	for _, w := range ws {
		w.readUntil(final)
		frames += w.diffs
	}
	// +2: the interval under way at the start, and the diff after the
	// last join.
	intervals := int(took/api.DefaultPresenceInterval) + 2
	bound = n * (intervals + (n+255)/256)
	t.Logf("%d joins in %v: %d $presence frames (bound %d; one event per join: %d)",
		n, took.Round(time.Millisecond), frames, bound, n*(n-1)/2)
	return frames, bound
}

// TestPresenceForgottenWhenRoomEmpties: a room whose last member leaves
// while a diff is pending keeps nothing: its changes are forgotten at
// once, not at the end of the interval, and the room is gone.
func TestPresenceForgottenWhenRoomEmpties(t *testing.T) {
	ts := startServer(t, &api.Options{PresenceInterval: time.Hour})
	a, b := dial(t, ts, nil), dial(t, ts, nil)
	a.join("r")
	b.join("r")
	assert.Equal(t, 1, ts.PendingPresenceRooms(), "b's join waits for the interval")
	for _, c := range []*client{a, b} {
		c.send(map[string]any{"event": "$leave", "room": "r"})
		c.expect("$left")
	}
	assert.Zero(t, ts.PendingPresenceRooms())
	assert.Zero(t, ts.Stats().Rooms)
	assert.Zero(t, ts.Stats().PresenceFrames)
}

// TestPresenceNotToLeaver: a session that leaves while a diff is pending
// gets none, and the others' views end exact.
func TestPresenceNotToLeaver(t *testing.T) {
	ts := startServer(t, nil)
	a, b, c := watch(dial(t, ts, nil), "r"), dial(t, ts, nil), watch(dial(t, ts, nil), "r")
	a.send(map[string]any{"event": "$join", "room": "r"})
	b.join("r")
	c.send(map[string]any{"event": "$join", "room": "r"})
	b.send(map[string]any{"event": "$leave", "room": "r"})
	for m := b.next(); m.Event != "$left"; m = b.next() {
		require.Equal(t, "$presence", m.Event)
	}
	final := []string{a.id, c.id}
	require.Eventually(t, func() bool { return len(roomMembers(ts, "r")) == 2 }, wait, time.Millisecond)
	a.readUntil(final)
	c.readUntil(final)
	// Every diff is queued by now (a's view is complete): any for b would
	// come before its $pong.
	b.ping()
}
