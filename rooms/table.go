// Package rooms is roomloop's room table: a map from room name to the set of
// members in that room, split into independently locked shards so that
// joins, leaves and fan-out snapshots on different rooms rarely contend.
//
// The table knows nothing about connections or queues; members are opaque
// comparable values (the server uses a pointer to its session type).
// Bookkeeping per member, such as the rooms a member is in and a per-member
// room cap, belongs to the caller.
package rooms

import (
	"math/bits"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

const (
	defaultShards = 64
	maxShards     = 1 << 16
)

// Options configures a Table. Zero values take defaults.
// New only reads an Options value, so one may be shared freely.
type Options struct {
	Shards   int // power of two; default 64; a non-power-of-two is rounded up (at most 65536)
	MaxRooms int // global cap on the number of rooms; 0 (or negative) = unlimited
}

// Table is a sharded room table. All methods are safe for concurrent use.
// No method calls user code; the only operations performed on members are
// ==, hashing as a map key, and copying. If M is an interface type and a
// member holds a non-comparable value, the call panics with its lock released
// and the table unchanged. A Table must be created with New and must not be
// copied after first use. A room holds at most math.MaxInt32 members.
type Table[M comparable] struct {
	shards   []shard[M]
	mask     uint64
	maxRooms int64
	_        [64]byte // keep the hot read-only fields off nrooms' cache line
	nrooms   atomic.Int64
	_        [56]byte
}

// New returns an empty Table configured by opts.
func New[M comparable](opts Options) *Table[M] {
	n := opts.Shards
	switch {
	case n <= 0:
		n = defaultShards
	case n > maxShards:
		n = maxShards
	default:
		n = 1 << bits.Len(uint(n-1)) // round up to a power of two
	}
	t := &Table[M]{
		shards: make([]shard[M], n),
		mask:   uint64(n - 1),
	}
	if opts.MaxRooms > 0 {
		t.maxRooms = int64(opts.MaxRooms)
	}
	for i := range t.shards {
		t.shards[i].rooms = make(map[string]*memberSet[M])
	}
	return t
}

// shardFor returns the shard that owns room.
func (t *Table[M]) shardFor(room string) *shard[M] {
	return &t.shards[xxhash.Sum64String(room)&t.mask]
}

// reserveRoom counts one more room, or reports false if that would exceed
// MaxRooms. The counter never goes above MaxRooms, so Len never reports more.
func (t *Table[M]) reserveRoom() bool {
	if t.maxRooms == 0 {
		t.nrooms.Add(1)
		return true
	}
	for {
		n := t.nrooms.Load()
		if n >= t.maxRooms {
			return false
		}
		if t.nrooms.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Join adds m to room, creating the room if needed. added is false if m was
// already a member (nothing changes). count is the member count after the
// call. Creating a room beyond MaxRooms returns ErrTooManyRooms, with added
// false and count 0.
func (t *Table[M]) Join(room string, m M) (added bool, count int, err error) {
	return t.JoinThen(room, m, nil)
}

// JoinThen is Join that also calls then with the room's members (m
// among them), while the room's shard is still locked: whatever then
// queues for m comes before anything queued by a fan-out that sees m as a
// member, and a snapshot then takes holds exactly the members that joined
// before m. then must not block, keep members, or call back into the
// table. It is not called when Join fails.
func (t *Table[M]) JoinThen(room string, m M, then func(added bool, members []M)) (added bool, count int, err error) {
	s := t.shardFor(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	switch {
	case r == nil:
		if !t.reserveRoom() {
			return false, 0, ErrTooManyRooms
		}
		r = &memberSet[M]{members: []M{m}}
		s.rooms[strings.Clone(room)] = r
		added = true
	case r.find(m) >= 0:
	default:
		r.add(m)
		added = true
	}
	if then != nil {
		then(added, r.members)
	}
	return added, len(r.members), nil
}

// Leave removes m from room. removed is false if m was not a member. count is
// the member count after the call. An emptied room is deleted at once.
func (t *Table[M]) Leave(room string, m M) (removed bool, count int) {
	return t.LeaveThen(room, m, nil)
}

// LeaveThen is Leave that, when m was a member, also calls then with the
// members that remain, while the room's shard is still locked: a snapshot
// then takes holds exactly the members that joined before m left. The
// rules for then are JoinThen's.
func (t *Table[M]) LeaveThen(room string, m M, then func(rest []M)) (removed bool, count int) {
	s := t.shardFor(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil {
		return false, 0
	}
	i := r.find(m)
	if i < 0 {
		return false, len(r.members)
	}
	r.removeAt(i)
	if len(r.members) == 0 {
		delete(s.rooms, room)
		t.nrooms.Add(-1)
	}
	if then != nil {
		then(r.members)
	}
	return true, len(r.members)
}

// Contains reports whether m is a member of room.
func (t *Table[M]) Contains(room string, m M) bool {
	s := t.shardFor(room)
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rooms[room]
	return r != nil && r.find(m) >= 0
}

// Count returns the number of members of room (0 if it does not exist).
func (t *Table[M]) Count(room string) int {
	s := t.shardFor(room)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.rooms[room]; r != nil {
		return len(r.members)
	}
	return 0
}

// AppendMembers appends up to max members of room to dst (max < 0: all) and
// returns dst and the total member count. It is the fan-out primitive:
// called with a dst of sufficient capacity it allocates nothing. Order is
// unspecified but stable while membership does not change. The members are
// a snapshot taken under the shard's read lock.
func (t *Table[M]) AppendMembers(dst []M, room string, max int) ([]M, int) {
	s := t.shardFor(room)
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.rooms[room]
	if r == nil {
		return dst, 0
	}
	n := len(r.members)
	if max >= 0 && max < n {
		return append(dst, r.members[:max]...), n
	}
	return append(dst, r.members...), n
}

// AppendRooms appends the names of all rooms to dst, in unspecified order.
// Each shard is read under its own lock, so with concurrent joins and leaves
// the result is not one atomic snapshot of the whole table.
func (t *Table[M]) AppendRooms(dst []string) []string {
	dst = slices.Grow(dst, t.Len())
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for name := range s.rooms {
			dst = append(dst, name)
		}
		s.mu.RUnlock()
	}
	return dst
}

// Len returns the number of rooms.
func (t *Table[M]) Len() int {
	return int(t.nrooms.Load())
}
