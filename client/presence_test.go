package client_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/client"
)

// TestPresenceDiffExpanded: the server sends a room's joins and leaves as
// coalesced $presence diffs; the client reports each member's change to
// OnPresence and keeps Members and Count equal to the room.
func TestPresenceDiffExpanded(t *testing.T) {
	const others = 6
	srv, url := startServer(t, &api.Options{MaxMembersListed: -1})
	a := dial(t, url, nil)
	var mu sync.Mutex
	joins, leaves := map[string]int{}, map[string]int{}
	ar, err := a.Join(ctx(t), "r", func(r *client.Room) {
		r.OnPresence(func(p client.Presence) {
			mu.Lock()
			defer mu.Unlock()
			if p.Joined {
				joins[p.Session]++
			} else {
				leaves[p.Session]++
			}
		})
	})
	require.NoError(t, err)
	var rooms []*client.Room
	for range others {
		rooms = append(rooms, joinRoom(t, dial(t, url, nil), "r"))
	}
	inSync := func() bool {
		ids, n := srv.Members("r", -1)
		return assert.ObjectsAreEqual(sorted(ids), ar.Members()) && ar.Count() == n
	}
	reported := func(j, l int) bool { // handlers run after the state changed
		mu.Lock()
		defer mu.Unlock()
		return len(joins) == j && len(leaves) == l
	}
	require.Eventually(t, func() bool { return len(ar.Members()) == others+1 && inSync() && reported(others, 0) },
		wait, 5*time.Millisecond)
	// Half of them leave at once.
	for _, r := range rooms[:others/2] {
		require.NoError(t, r.Leave(ctx(t)))
	}
	require.Eventually(t, func() bool { return len(ar.Members()) == others/2+1 && inSync() && reported(others, others/2) },
		wait, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for s, n := range joins {
		assert.Equal(t, 1, n, s)
	}
	for s, n := range leaves {
		assert.Equal(t, 1, n, s)
	}
}

func sorted(ids []string) []string { return slices.Sorted(slices.Values(ids)) }
