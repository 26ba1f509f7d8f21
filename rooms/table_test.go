package rooms

import (
	"fmt"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// member stands in for the server's session type.
type member struct{ id int }

func newMembers(n int) []*member {
	ms := make([]*member, n)
	for i := range ms {
		ms[i] = &member{id: i}
	}
	return ms
}

// checkInvariants verifies every room's internal consistency and that the
// room counter matches the shards' contents.
func checkInvariants[M comparable](t *testing.T, tb *Table[M]) {
	t.Helper()
	total := 0
	for i := range tb.shards {
		s := &tb.shards[i]
		s.mu.RLock()
		for name, r := range s.rooms {
			total++
			require.NotEmpty(t, r.members, "room %q is empty but present", name)
			if len(r.members) > smallRoom {
				require.NotNil(t, r.index, "room %q has %d members and no index", name, len(r.members))
			}
			if len(r.members) <= dropIndexAt {
				require.Nil(t, r.index, "room %q has %d members and an index", name, len(r.members))
			}
			if r.index != nil {
				require.Len(t, r.index, len(r.members), "room %q", name)
				for j, m := range r.members {
					require.Equal(t, int32(j), r.index[m], "room %q", name)
				}
			} else {
				seen := make(map[M]bool, len(r.members))
				for _, m := range r.members {
					require.False(t, seen[m], "room %q has a duplicate", name)
					seen[m] = true
				}
			}
			require.Equal(t, tb.shardFor(name), s, "room %q in the wrong shard", name)
		}
		s.mu.RUnlock()
	}
	require.Equal(t, total, tb.Len())
}

func TestNewShards(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, 64}, {-5, 64}, {1, 1}, {2, 2}, {3, 4}, {64, 64}, {65, 128}, {1000, 1024}, {1 << 30, maxShards},
	} {
		tb := New[int](Options{Shards: tc.in})
		assert.Len(t, tb.shards, tc.want, "Shards: %d", tc.in)
		assert.Equal(t, uint64(tc.want-1), tb.mask)
	}
	assert.Zero(t, unsafe.Sizeof(shard[int]{})%64, "shard should fill whole cache lines")
}

func TestJoinLeaveContainsCount(t *testing.T) {
	tb := New[*member](Options{})
	a, b := &member{1}, &member{2}

	assert.False(t, tb.Contains("lobby", a))
	assert.Zero(t, tb.Count("lobby"))
	assert.Zero(t, tb.Len())

	added, n, err := tb.Join("lobby", a)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, tb.Len())

	added, n, err = tb.Join("lobby", b)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, 2, n)

	// Double join changes nothing.
	added, n, err = tb.Join("lobby", a)
	require.NoError(t, err)
	assert.False(t, added)
	assert.Equal(t, 2, n)
	assert.Equal(t, 2, tb.Count("lobby"))

	assert.True(t, tb.Contains("lobby", a))
	assert.True(t, tb.Contains("lobby", b))
	assert.False(t, tb.Contains("lobby", &member{1}), "membership is by identity of M")
	assert.False(t, tb.Contains("other", a))

	// Leaving a room one is not in, or a room that does not exist.
	removed, n := tb.Leave("lobby", &member{3})
	assert.False(t, removed)
	assert.Equal(t, 2, n)
	removed, n = tb.Leave("nowhere", a)
	assert.False(t, removed)
	assert.Zero(t, n)
	assert.Equal(t, 1, tb.Len(), "Leave must not create rooms")

	removed, n = tb.Leave("lobby", a)
	assert.True(t, removed)
	assert.Equal(t, 1, n)
	assert.False(t, tb.Contains("lobby", a))
	removed, _ = tb.Leave("lobby", a)
	assert.False(t, removed, "second leave")

	// The emptied room is deleted at once.
	removed, n = tb.Leave("lobby", b)
	assert.True(t, removed)
	assert.Zero(t, n)
	assert.Zero(t, tb.Len())
	assert.Zero(t, tb.Count("lobby"))
	assert.Empty(t, tb.AppendRooms(nil))
	checkInvariants(t, tb)

	// The same name can be created again.
	added, n, err = tb.Join("lobby", b)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, tb.Len())
}

func TestEmptyRoomNameAndValueMembers(t *testing.T) {
	tb := New[string](Options{Shards: 1})
	added, _, err := tb.Join("", "x")
	require.NoError(t, err)
	assert.True(t, added)
	assert.True(t, tb.Contains("", "x"))
	assert.Equal(t, []string{""}, tb.AppendRooms(nil))
	removed, _ := tb.Leave("", "x")
	assert.True(t, removed)
	assert.Zero(t, tb.Len())
}

// TestGrowShrink walks rooms across the small/indexed boundary and the
// slice-shrinking threshold in several removal orders.
func TestGrowShrink(t *testing.T) {
	orders := map[string]func([]*member) []*member{
		"fifo": func(ms []*member) []*member { return ms },
		"lifo": func(ms []*member) []*member { r := slices.Clone(ms); slices.Reverse(r); return r },
		"interleaved": func(ms []*member) []*member {
			var r []*member
			for i := 0; i < len(ms); i += 2 {
				r = append(r, ms[i])
			}
			for i := 1; i < len(ms); i += 2 {
				r = append(r, ms[i])
			}
			return r
		},
	}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			tb := New[*member](Options{Shards: 2})
			ms := newMembers(300)
			for i, m := range ms {
				added, n, err := tb.Join("r", m)
				require.NoError(t, err)
				require.True(t, added)
				require.Equal(t, i+1, n)
				if i < 20 || i%50 == 0 {
					checkInvariants(t, tb)
				}
			}
			gone := map[*member]bool{}
			for i, m := range order(ms) {
				removed, n := tb.Leave("r", m)
				require.True(t, removed)
				require.Equal(t, len(ms)-i-1, n)
				gone[m] = true
				checkInvariants(t, tb)
				if i%37 == 0 {
					for _, x := range ms {
						require.Equal(t, !gone[x], tb.Contains("r", x))
					}
				}
			}
			assert.Zero(t, tb.Len())
		})
	}
}

func TestShrinkReleasesCapacity(t *testing.T) {
	tb := New[*member](Options{Shards: 1})
	ms := newMembers(4096)
	for _, m := range ms {
		_, _, err := tb.Join("big", m)
		require.NoError(t, err)
	}
	for _, m := range ms[10:] {
		tb.Leave("big", m)
	}
	r := tb.shards[0].rooms["big"]
	require.NotNil(t, r)
	assert.Len(t, r.members, 10)
	assert.Less(t, cap(r.members), 4*minShrinkCap, "slice capacity not given back")
	checkInvariants(t, tb)
}

func TestRemovedMemberNotRetained(t *testing.T) {
	tb := New[*member](Options{Shards: 1})
	ms := newMembers(3)
	for _, m := range ms {
		_, _, err := tb.Join("r", m)
		require.NoError(t, err)
	}
	tb.Leave("r", ms[2])
	tb.Leave("r", ms[0])
	r := tb.shards[0].rooms["r"]
	full := r.members[:cap(r.members)]
	for _, x := range full[len(r.members):] {
		assert.Nil(t, x, "vacated slot still references a member")
	}
}

func TestAppendMembers(t *testing.T) {
	tb := New[*member](Options{})
	ms := newMembers(20)
	for _, m := range ms {
		_, _, err := tb.Join("r", m)
		require.NoError(t, err)
	}

	got, total := tb.AppendMembers(nil, "r", -1)
	assert.Equal(t, 20, total)
	assert.ElementsMatch(t, ms, got)

	// Order is stable while membership does not change.
	again, _ := tb.AppendMembers(nil, "r", -1)
	assert.Equal(t, got, again)

	for _, max := range []int{0, 1, 5, 19, 20, 21, 1000} {
		part, total := tb.AppendMembers(nil, "r", max)
		assert.Equal(t, 20, total, "max %d", max)
		require.Len(t, part, min(max, 20), "max %d", max)
		for i := range part {
			assert.Same(t, got[i], part[i], "max %d: a prefix of the full order", max)
		}
	}

	// Appends to, and keeps, what dst already holds.
	sentinel := &member{-1}
	dst := []*member{sentinel}
	dst, total = tb.AppendMembers(dst, "r", 3)
	assert.Equal(t, 20, total)
	require.Len(t, dst, 4)
	assert.Same(t, sentinel, dst[0])

	// Missing room.
	dst, total = tb.AppendMembers(dst[:1], "missing", -1)
	assert.Zero(t, total)
	assert.Equal(t, []*member{sentinel}, dst)

	// The returned slice is a copy: changing it does not change the room.
	got[0] = nil
	assert.Equal(t, again, func() []*member { s, _ := tb.AppendMembers(nil, "r", -1); return s }())
}

func TestAppendRooms(t *testing.T) {
	tb := New[int](Options{Shards: 4})
	var want []string
	for i := range 100 {
		name := fmt.Sprintf("room-%d", i)
		want = append(want, name)
		for m := range i%3 + 1 {
			_, _, err := tb.Join(name, m)
			require.NoError(t, err)
		}
	}
	assert.Equal(t, 100, tb.Len())
	got := tb.AppendRooms([]string{"keep"})
	require.Equal(t, "keep", got[0])
	assert.ElementsMatch(t, want, got[1:])

	for i := range 50 {
		name := want[i]
		for m := range i%3 + 1 {
			tb.Leave(name, m)
		}
	}
	assert.Equal(t, 50, tb.Len())
	assert.ElementsMatch(t, want[50:], tb.AppendRooms(nil))
	checkInvariants(t, tb)
}

func TestRoomNameIsCloned(t *testing.T) {
	tb := New[int](Options{Shards: 1})
	buf := []byte("xxxxroom-name-inside-a-larger-bufferxxxx")
	name := string(buf)[4:13] // "room-name", sharing the converted string's memory
	_, _, err := tb.Join(name, 1)
	require.NoError(t, err)
	for k := range tb.shards[0].rooms {
		assert.Equal(t, "room-name", k)
		assert.NotSame(t, unsafe.StringData(name), unsafe.StringData(k), "key aliases the caller's string")
	}
}

func TestMaxRooms(t *testing.T) {
	tb := New[int](Options{MaxRooms: 2})
	_, _, err := tb.Join("a", 1)
	require.NoError(t, err)
	_, _, err = tb.Join("b", 1)
	require.NoError(t, err)

	added, n, err := tb.Join("c", 1)
	assert.ErrorIs(t, err, ErrTooManyRooms)
	assert.False(t, added)
	assert.Zero(t, n)
	assert.Equal(t, 2, tb.Len())
	assert.False(t, tb.Contains("c", 1))

	// Joining existing rooms is still allowed at the cap.
	added, n, err = tb.Join("a", 2)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, 2, n)

	// Deleting a room frees a slot.
	tb.Leave("b", 1)
	_, _, err = tb.Join("c", 1)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "c"}, tb.AppendRooms(nil))
	checkInvariants(t, tb)
}

func TestNegativeMaxRoomsIsUnlimited(t *testing.T) {
	tb := New[int](Options{MaxRooms: -1})
	for i := range 100 {
		_, _, err := tb.Join(fmt.Sprint(i), 1)
		require.NoError(t, err)
	}
	assert.Equal(t, 100, tb.Len())
}

func TestComparablePanicLeavesTableUnchanged(t *testing.T) {
	// Interface members holding non-comparable values panic when hashed or
	// compared; the lock must be released and the room left intact.
	tb := New[any](Options{Shards: 1})
	for i := range smallRoom {
		_, _, err := tb.Join("r", i)
		require.NoError(t, err)
	}
	assert.Panics(t, func() { tb.Join("r", []int{1}) }) // would build the index
	assert.Equal(t, smallRoom, tb.Count("r"))
	_, _, err := tb.Join("r", smallRoom) // lock was released
	require.NoError(t, err)
	assert.Panics(t, func() { tb.Join("r", []int{1}) }) // hashes into the index
	assert.Panics(t, func() { tb.Contains("r", []int{1}) })
	assert.Equal(t, smallRoom+1, tb.Count("r"))
	checkInvariants(t, tb)
}

// TestThenSeesMembersUnderLock: JoinThen and LeaveThen hand their callback
// the room's members as they are right after the change, and a failed
// change calls nothing.
func TestThenSeesMembersUnderLock(t *testing.T) {
	tb := New[int](Options{MaxRooms: 1})
	var seen []int
	var added bool
	record := func(a bool, ms []int) { added, seen = a, slices.Clone(ms) }

	_, _, err := tb.JoinThen("r", 1, record)
	require.NoError(t, err)
	assert.True(t, added)
	assert.Equal(t, []int{1}, seen)
	_, _, err = tb.JoinThen("r", 2, record)
	require.NoError(t, err)
	assert.ElementsMatch(t, []int{1, 2}, seen)
	_, _, err = tb.JoinThen("r", 2, record)
	require.NoError(t, err)
	assert.False(t, added, "already a member")

	seen = nil
	_, _, err = tb.JoinThen("other", 3, record)
	require.ErrorIs(t, err, ErrTooManyRooms)
	assert.Nil(t, seen, "not called when the join fails")

	var rest []int
	called := false
	leave := func(ms []int) { called, rest = true, slices.Clone(ms) }
	removed, n := tb.LeaveThen("r", 1, leave)
	assert.True(t, removed)
	assert.Equal(t, 1, n)
	assert.Equal(t, []int{2}, rest)
	called = false
	removed, _ = tb.LeaveThen("r", 1, leave)
	assert.False(t, removed)
	assert.False(t, called, "not called for a non-member")
	removed, n = tb.LeaveThen("r", 2, leave)
	assert.True(t, removed)
	assert.Zero(t, n)
	assert.Empty(t, rest)
	assert.Zero(t, tb.Len())
}
