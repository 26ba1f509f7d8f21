package api

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemberListAgainstMap drives a member list through joins, moves and
// leaves across indexAbove in both directions and compares it, after each
// step, with a plain map of id to home: the same members, each once, at
// its latest home, found where it is.
func TestMemberListAgainstMap(t *testing.T) {
	var m memberList
	want := map[string]nodeRef{}
	check := func(step string) {
		require.Equal(t, len(want), m.len(), step)
		seen := map[string]bool{}
		for i, e := range m.list {
			require.False(t, seen[e.id], "%s: %s listed twice", step, e.id)
			seen[e.id] = true
			require.Equal(t, want[e.id], e.home, "%s: home of %s", step, e.id)
			require.Equal(t, i, m.find(e.id), step)
		}
		require.Equal(t, -1, m.find("nobody"), step)
		require.Equal(t, m.len() > indexAbove || m.index != nil && m.len() > indexAbove/2, m.index != nil, "%s: index with %d members", step, m.len())
	}
	const n = 3 * indexAbove
	for i := range n {
		id := "s" + strconv.Itoa(i)
		assert.False(t, m.put(id, nodeRef(i%3)))
		want[id] = nodeRef(i % 3)
		if i%50 == 0 || i == indexAbove || i == indexAbove+1 {
			check("join " + id)
		}
	}
	for i := 0; i < n; i += 7 { // a session moved: listed once, new home
		id := "s" + strconv.Itoa(i)
		assert.True(t, m.put(id, 9))
		want[id] = 9
	}
	check("moves")
	for i := 0; i < n; i++ {
		id := "s" + strconv.Itoa((i*37)%n) // leaves in a scattered order
		at := m.find(id)
		require.GreaterOrEqual(t, at, 0, id)
		m.remove(at)
		delete(want, id)
		if i%25 == 0 || m.len() == indexAbove || m.len() == indexAbove/2 {
			check("leave " + id)
		}
	}
	check("empty")
	assert.Nil(t, m.index)
	assert.LessOrEqual(t, cap(m.list), 16, "an emptied list gives its slack back")
	assert.Equal(t, []string{}, m.ids(-1))
}

// TestMemberListIDs: ids lists at most max members, in list order.
func TestMemberListIDs(t *testing.T) {
	var m memberList
	for _, id := range []string{"a", "b", "c"} {
		m.put(id, 0)
	}
	assert.Equal(t, []string{"a", "b", "c"}, m.ids(-1))
	assert.Equal(t, []string{"a", "b"}, m.ids(2))
	assert.Equal(t, []string{}, m.ids(0))
	m.remove(0)
	assert.Equal(t, []string{"c", "b"}, m.ids(-1), "the last member takes the leaver's place")
}

// TestNodeNames: one number per node id, stable, names back.
func TestNodeNames(t *testing.T) {
	var n nodeNames
	a, b := n.ref("a"), n.ref("b")
	assert.NotEqual(t, a, b)
	assert.Equal(t, a, n.ref("a"))
	assert.Equal(t, "b", n.name(b))
}
