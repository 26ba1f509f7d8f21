package rooms

import (
	"sync"
	"unsafe"
)

const (
	// smallRoom is the largest member count kept without an index map;
	// lookups in such rooms scan the member slice. An index costs about
	// 30 bytes per member; a scan of 255 members makes a join and a leave
	// 250 ns instead of 85 (BenchmarkJoinLeave), far below what the join's
	// $joined list of such a room costs to encode.
	smallRoom = 256
	// dropIndexAt is the member count at or below which a shrinking room
	// discards its index map. It is below smallRoom so that a room whose
	// size hovers around smallRoom does not rebuild the map on every call.
	dropIndexAt = smallRoom / 2
	// minShrinkCap is the smallest member-slice capacity that is ever
	// reallocated to give memory back after many removals.
	minShrinkCap = 64
)

// memberSet is the member set of one room: a dense slice for iteration plus,
// once the room outgrows smallRoom, a map from member to its slice index.
// Its lock guards every field. Lock order: a shard's lock is never held
// while a room's is taken (a leave that empties a room takes its shard's
// lock inside the room's to remove it).
type memberSet[M comparable] struct {
	mu      sync.Mutex
	dead    bool // emptied and removed from its shard: a join must retry
	members []M
	index   map[M]int32 // nil while the room is small
}

// find returns the position of m in r.members, or -1.
func (r *memberSet[M]) find(m M) int {
	if r.index != nil {
		if i, ok := r.index[m]; ok {
			return int(i)
		}
		return -1
	}
	for i := range r.members {
		if r.members[i] == m {
			return i
		}
	}
	return -1
}

// add appends m, which must not already be a member. Anything that can
// panic (hashing m) happens before r is modified.
func (r *memberSet[M]) add(m M) {
	n := len(r.members)
	switch {
	case r.index != nil:
		r.index[m] = int32(n)
	case n+1 > smallRoom:
		idx := make(map[M]int32, n+1)
		for i, x := range r.members {
			idx[x] = int32(i)
		}
		idx[m] = int32(n)
		r.index = idx
	}
	r.members = append(r.members, m)
}

// removeAt deletes the member at position i by moving the last member
// into its place.
func (r *memberSet[M]) removeAt(i int) {
	last := len(r.members) - 1
	m := r.members[i]
	if i != last {
		moved := r.members[last]
		r.members[i] = moved
		if r.index != nil {
			r.index[moved] = int32(i)
		}
	}
	var zero M
	r.members[last] = zero // do not keep the removed member reachable
	r.members = r.members[:last]
	if r.index != nil {
		delete(r.index, m)
	}
	r.shrink()
}

// shrink gives memory back after removals: it drops the index once the
// room is small again and reallocates the slice (and the index, since Go
// maps never shrink) once three quarters of its capacity is unused.
// Reallocation halves the slack each time, so its cost is amortised O(1)
// per removal.
func (r *memberSet[M]) shrink() {
	n := len(r.members)
	if n == 0 {
		return // the caller deletes the room
	}
	if r.index != nil && n <= dropIndexAt {
		r.index = nil
	}
	if c := cap(r.members); c >= minShrinkCap && n <= c/4 {
		r.members = append(make([]M, 0, 2*n), r.members...)
		if r.index != nil {
			idx := make(map[M]int32, n)
			for i, x := range r.members {
				idx[x] = int32(i)
			}
			r.index = idx
		}
	}
}

// shardPad pads a shard to a multiple of 128 bytes so that neighbouring
// shards' locks do not share a cache line (or an adjacent-line prefetch pair).
const shardPad = (128 - (unsafe.Sizeof(sync.RWMutex{})+unsafe.Sizeof(map[string]*int(nil)))%128) % 128

// shard is one lock-protected slice of the table's rooms: its lock
// guards the map, not the rooms in it.
type shard[M comparable] struct {
	mu    sync.RWMutex
	rooms map[string]*memberSet[M]
	_     [shardPad]byte
}
