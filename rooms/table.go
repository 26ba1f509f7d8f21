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

// Table is a sharded room table: each shard's lock guards its map from
// names to rooms, and each room has a lock of its own for its members, so
// that a long fan-out holds up that room alone. All methods are safe for
// concurrent use.
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

// room returns room's member set, creating it if create is set (nil when
// it does not exist, or would exceed MaxRooms). The set is returned
// unlocked: the caller locks it and must check dead, since a leave may
// have emptied and removed it meanwhile.
func (t *Table[M]) room(name string, create bool) (*memberSet[M], error) {
	s := t.shardFor(name)
	s.mu.RLock()
	r := s.rooms[name]
	s.mu.RUnlock()
	if r != nil || !create {
		return r, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r = s.rooms[name]; r != nil {
		return r, nil
	}
	if !t.reserveRoom() {
		return nil, ErrTooManyRooms
	}
	r = &memberSet[M]{}
	s.rooms[strings.Clone(name)] = r
	return r, nil
}

// JoinThen is Join that also calls then with the room's members (m
// among them) while the room is still locked: whatever then queues for
// the members is ordered with everything queued under the room's lock
// (Deliver, other joins and leaves), and the members it sees are exactly
// those that joined before m. then must not block, keep members, or call
// back into the table. It is not called when Join fails.
func (t *Table[M]) JoinThen(room string, m M, then func(added bool, members []M)) (added bool, count int, err error) {
	for {
		r, err := t.room(room, true)
		if err != nil {
			return false, 0, err
		}
		if added, count, ok := r.joinLocked(m, then); ok {
			return added, count, nil
		}
	}
}

// joinLocked adds m under r's lock (released even if then panics), and
// reports false if r was removed meanwhile.
func (r *memberSet[M]) joinLocked(m M, then func(added bool, members []M)) (added bool, count int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead { // emptied and removed since: the caller tries again
		return false, 0, false
	}
	if r.find(m) < 0 {
		r.add(m)
		added = true
	}
	if then != nil {
		then(added, r.members)
	}
	return added, len(r.members), true
}

// Leave removes m from room. removed is false if m was not a member. count is
// the member count after the call. An emptied room is deleted at once.
func (t *Table[M]) Leave(room string, m M) (removed bool, count int) {
	return t.LeaveThen(room, m, nil)
}

// LeaveThen is Leave that, when m was a member, also calls then with the
// members that remain while the room is still locked: what then queues is
// ordered as JoinThen's is, and the members it sees are exactly those that
// joined before m left. The rules for then are JoinThen's.
func (t *Table[M]) LeaveThen(room string, m M, then func(rest []M)) (removed bool, count int) {
	r, _ := t.room(room, false)
	if r == nil {
		return false, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.find(m)
	if r.dead || i < 0 {
		return false, len(r.members)
	}
	r.removeAt(i)
	if len(r.members) == 0 {
		r.dead = true
		s := t.shardFor(room)
		s.mu.Lock()
		if s.rooms[room] == r {
			delete(s.rooms, room)
			t.nrooms.Add(-1)
		}
		s.mu.Unlock()
	}
	if then != nil {
		then(r.members)
	}
	return true, len(r.members)
}

// Deliver calls fn with room's members while the room is locked, and
// reports whether the room exists. Calls for one room, and the callbacks
// of JoinThen and LeaveThen, are serialized: whatever each queues for the
// members reaches every member in the same order. fn must not block, keep
// members, or call back into the table; it holds up joins and leaves of
// this room only, for as long as it runs.
func (t *Table[M]) Deliver(room string, fn func(members []M)) bool {
	r, _ := t.room(room, false)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead {
		return false
	}
	fn(r.members)
	return true
}

// Contains reports whether m is a member of room.
func (t *Table[M]) Contains(room string, m M) bool {
	r, _ := t.room(room, false)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.dead && r.find(m) >= 0
}

// Count returns the number of members of room (0 if it does not exist).
func (t *Table[M]) Count(room string) int {
	r, _ := t.room(room, false)
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// AppendMembers appends up to max members of room to dst (max < 0: all) and
// returns dst and the total member count. Called with a dst of sufficient
// capacity it allocates nothing. Order is unspecified but stable while
// membership does not change. The members are a snapshot taken under the
// room's lock.
func (t *Table[M]) AppendMembers(dst []M, room string, max int) ([]M, int) {
	r, _ := t.room(room, false)
	if r == nil {
		return dst, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
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
