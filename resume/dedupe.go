package resume

import "slices"

// Dedupe remembers the ids of a session's most recent accepted client
// frames, up to a fixed window, so that a frame resent after a reconnect is
// applied once. Its zero value is one pointer wide and it allocates
// nothing until the first id, so a session that never sends an id pays 8
// bytes for it. Not safe for concurrent use: the session's lock guards it.
type Dedupe struct {
	s *dedupeState // nil until the first id
}

// dedupeState is a Dedupe's ids, allocated with its first.
type dedupeState struct {
	ids   []string          // ring of the window's ids, oldest at next
	next  int               // ring position the next id takes
	index map[string]uint64 // id -> its insertion number
	count uint64            // ids inserted so far
}

// Reserve records id as taken and reports true, or reports false if id is
// already in the window (the frame is a duplicate). window bounds the ids
// kept; the oldest is forgotten first.
func (dd *Dedupe) Reserve(id string, window int) bool {
	if dd.s == nil {
		dd.s = &dedupeState{index: make(map[string]uint64), ids: make([]string, 0, min(window, 16))}
	}
	d := dd.s
	if _, dup := d.index[id]; dup {
		return false
	}
	d.count++
	if len(d.ids) < window {
		d.ids = append(d.ids, id)
	} else {
		old := d.ids[d.next]
		if n, ok := d.index[old]; ok && n == d.count-uint64(window) {
			delete(d.index, old)
		}
		d.ids[d.next] = id
		d.next = (d.next + 1) % window
	}
	d.index[id] = d.count
	return true
}

// Release forgets id again: a refused frame does not use up its id.
func (dd *Dedupe) Release(id string) {
	if dd.s != nil {
		delete(dd.s.index, id)
	}
}

// Len returns the number of ids remembered.
func (dd *Dedupe) Len() int {
	if dd.s == nil {
		return 0
	}
	return len(dd.s.index)
}

// IDs returns the ids remembered, oldest first: Reserve them in order into
// an empty Dedupe to carry the window over (a session moving to another
// server).
func (dd *Dedupe) IDs() []string {
	if dd.s == nil {
		return nil
	}
	d := dd.s
	out := make([]string, 0, len(d.index))
	n := len(d.ids)
	for i := range n {
		id := d.ids[(d.next+i)%n]
		if _, ok := d.index[id]; ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
