package api

import (
	"sync"

	"github.com/roomloop/roomloop/frame"
)

// A node keeps, for each room it holds, the member list of the whole
// cluster, so that $joined, Members and presence answer at once and in the
// room's order. Every holder keeps an entry for every member: this list is
// what a cluster costs per connection beyond one node (docs/cluster.md,
// "Memory"), so an entry is kept small: the session id (shared with the
// session's own for this node's members) and the home as a small number.

// roomMember is one member of a held room.
type roomMember struct {
	id   string
	home nodeRef
}

// memberList is a held room's members, every node's. A leave moves the
// last member into the leaver's place, as a room on one node does, so the
// list is in join order only until the first leave. Up to indexAbove
// members it is searched in place; above, an index finds a member. Guarded
// by its clusterRoom's mu.
type memberList struct {
	list  []roomMember
	index map[string]int32 // id → position in list; nil up to indexAbove members
}

// indexAbove is the size above which a member list keeps an index: up to
// it, a search reads at most that many ids, which costs less than an
// index's memory for every member.
const indexAbove = 256

func (m *memberList) len() int { return len(m.list) }

// find returns the position of id, or -1.
func (m *memberList) find(id string) int {
	if m.index != nil {
		if i, ok := m.index[id]; ok {
			return int(i)
		}
		return -1
	}
	for i := range m.list {
		if m.list[i].id == id {
			return i
		}
	}
	return -1
}

// put lists id at home, or moves it to home if it is listed; it reports
// whether id was listed already.
func (m *memberList) put(id string, home nodeRef) (listed bool) {
	if i := m.find(id); i >= 0 {
		m.list[i].home = home
		return true
	}
	m.list = append(m.list, roomMember{id: id, home: home})
	switch {
	case m.index != nil:
		m.index[id] = int32(len(m.list) - 1)
	case len(m.list) > indexAbove:
		m.index = make(map[string]int32, len(m.list))
		for i, e := range m.list {
			m.index[e.id] = int32(i)
		}
	}
	return false
}

// remove takes out the member at position i.
func (m *memberList) remove(i int) {
	last := len(m.list) - 1
	gone := m.list[i].id
	if i != last {
		m.list[i] = m.list[last]
		if m.index != nil {
			m.index[m.list[i].id] = int32(i)
		}
	}
	m.list[last] = roomMember{}
	m.list = m.list[:last]
	if m.index != nil {
		delete(m.index, gone)
		if len(m.list) <= indexAbove/2 {
			m.index = nil
		}
	}
	if cap(m.list) > 16 && len(m.list) < cap(m.list)/4 {
		m.list = append([]roomMember(nil), m.list...) // give the slack back
	}
}

// reset empties the list.
func (m *memberList) reset() {
	m.list, m.index = nil, nil
}

// ids returns up to max member ids (max < 0: all), in a new slice.
func (m *memberList) ids(max int) []string {
	n := len(m.list)
	if max >= 0 && max < n {
		n = max
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = m.list[i].id
	}
	return ids
}

// joinedPayload is the $joined payload for a room whose members are m.
func (s *Server) joinedPayload(m *memberList) frame.JoinedPayload {
	listed := m.ids(s.opts.MaxMembersListed)
	return frame.JoinedPayload{Count: m.len(), Members: listed, Truncated: m.len() > len(listed)}
}

// nodeRef is a node's id as a number, the same on one node for its life
// (nodeNames); numbers are not shared between nodes.
type nodeRef uint32

// nodeNames numbers the node ids a node has seen in member records. It
// grows by one short string per node id ever seen (a node restarted under
// a new id adds one), and is safe for concurrent use.
type nodeNames struct {
	mu    sync.RWMutex
	refs  map[string]nodeRef
	names []string
}

// ref returns name's number, giving it one on first sight.
func (n *nodeNames) ref(name string) nodeRef {
	n.mu.RLock()
	r, ok := n.refs[name]
	n.mu.RUnlock()
	if ok {
		return r
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if r, ok := n.refs[name]; ok {
		return r
	}
	if n.refs == nil {
		n.refs = make(map[string]nodeRef)
	}
	r = nodeRef(len(n.names))
	n.refs[name] = r
	n.names = append(n.names, name)
	return r
}

// name returns the node id numbered r.
func (n *nodeNames) name(r nodeRef) string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.names[r]
}
