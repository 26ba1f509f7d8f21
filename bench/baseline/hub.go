package baseline

import (
	"sync"

	"github.com/gorilla/websocket"
)

// hub keeps the rooms and the sessions behind one mutex, as typical
// goroutine-model servers do. It is safe for concurrent use.
type hub struct {
	mu       sync.RWMutex
	rooms    map[string]map[*client]struct{}
	sessions map[string]*client
	closed   bool
}

// newHub returns an empty hub.
func newHub() *hub {
	return &hub{rooms: make(map[string]map[*client]struct{}), sessions: make(map[string]*client)}
}

// register adds c to the sessions and adds its two goroutines to wg; it
// reports false, adding nothing, once closeAll has run.
func (h *hub) register(c *client, wg *sync.WaitGroup) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.sessions[c.id] = c
	wg.Add(2)
	return true
}

// unregister removes c from the sessions and from rooms, the rooms it is
// in (owned by its read goroutine, the only caller).
func (h *hub) unregister(c *client, rooms map[string]struct{}) {
	h.mu.Lock()
	delete(h.sessions, c.id)
	for r := range rooms {
		h.removeLocked(c, r)
	}
	h.mu.Unlock()
}

// join adds c to room and returns the member count and up to max member
// ids (the joiner included).
func (h *hub) join(c *client, room string, max int) (count int, members []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.rooms[room]
	if m == nil {
		m = make(map[*client]struct{})
		h.rooms[room] = m
	}
	m[c] = struct{}{}
	members = append(members, c.id)
	for o := range m {
		if len(members) >= max {
			break
		}
		if o != c {
			members = append(members, o.id)
		}
	}
	return len(m), members
}

// leave removes c from room.
func (h *hub) leave(c *client, room string) {
	h.mu.Lock()
	h.removeLocked(c, room)
	h.mu.Unlock()
}

// removeLocked removes c from room and drops the room when it empties.
func (h *hub) removeLocked(c *client, room string) {
	m := h.rooms[room]
	delete(m, c)
	if len(m) == 0 {
		delete(h.rooms, room)
	}
}

// broadcast queues body, or pm, its prepared message, when not nil
// (Options.Compression), for every member of room except from and
// returns how many it was queued for. A member whose queue is full is
// dropped.
func (h *hub) broadcast(room string, from *client, body []byte, pm *websocket.PreparedMessage) int {
	n := 0
	h.mu.RLock()
	for c := range h.rooms[room] {
		if c != from && c.enqueueShared(body, pm) {
			n++
		}
	}
	h.mu.RUnlock()
	return n
}

// direct queues body for session id and reports whether it exists.
func (h *hub) direct(id string, body []byte) bool {
	h.mu.RLock()
	c := h.sessions[id]
	h.mu.RUnlock()
	if c == nil {
		return false
	}
	c.enqueue(body)
	return true
}

// closeAll refuses further registrations and returns every registered
// client.
func (h *hub) closeAll() []*client {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	cs := make([]*client, 0, len(h.sessions))
	for _, c := range h.sessions {
		cs = append(cs, c)
	}
	return cs
}
