package resume

import "slices"

// Dedupe remembers the ids of a session's most recent accepted client
// frames, up to a fixed window, so that a frame resent after a reconnect is
// applied once. It costs nothing until the first id. Not safe for
// concurrent use: the session's lock guards it.
type Dedupe struct {
	ids   []string          // ring of the window's ids, oldest at next
	next  int               // ring position the next id takes
	index map[string]uint64 // id -> its insertion number
	count uint64            // ids inserted so far
}

// Reserve records id as taken and reports true, or reports false if id is
// already in the window (the frame is a duplicate). window bounds the ids
// kept; the oldest is forgotten first.
func (d *Dedupe) Reserve(id string, window int) bool {
	if _, dup := d.index[id]; dup {
		return false
	}
	if d.index == nil {
		d.index = make(map[string]uint64)
		d.ids = make([]string, 0, min(window, 16))
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
func (d *Dedupe) Release(id string) {
	delete(d.index, id)
}

// Len returns the number of ids remembered.
func (d *Dedupe) Len() int { return len(d.index) }

// IDs returns the ids remembered, oldest first: Reserve them in order into
// an empty Dedupe to carry the window over (a session moving to another
// server).
func (d *Dedupe) IDs() []string {
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
