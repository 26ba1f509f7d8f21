package api

import (
	"slices"
	"sync"
	"unsafe"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/resume"
	"github.com/roomloop/roomloop/rooms"
)

// join adds c to room and answers $joined (echoing id); unless c was
// already in, its join is recorded for the room's next $presence diff
// (presence.go). Both happen under c.mu (queueing never blocks), so that
// a racing leave or disconnect of c cannot be recorded out of order, and
// under the room's lock, so that they take their place in the room's one
// order: no frame of the room reaches c before $joined, and the diffs c
// gets afterwards hold exactly the changes its $joined did not list.
// Lock order: api Conn.mu, then the room's lock.
func (s *Server) join(c *Conn, room, id string) error {
	if !s.validRoom(room) {
		return ErrInvalidRoom
	}
	if s.cl != nil {
		return s.cl.join(c, room, id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return ErrClosed
	}
	already := slices.Contains(c.rooms, room)
	if !already && len(c.rooms) >= s.opts.MaxRoomsPerConn {
		return ErrTooManyRooms
	}
	answer := func(added bool, members []member) {
		listed := members
		if max := s.opts.MaxMembersListed; max >= 0 && max < len(listed) {
			listed = listed[:max]
		}
		ids := make([]string, len(listed))
		for i, m := range listed {
			ids[i] = m.c.id
		}
		_ = c.sendOut(sessionFrame(c, evJoined, room, id,
			frame.JoinedPayload{Count: len(members), Members: ids, Truncated: len(members) > len(ids)}))
		if added {
			s.recordPresence(room, c.id, true, members)
		}
	}
	if _, _, err := s.rooms.JoinThen(room, c.member(), answer); err != nil {
		if err == rooms.ErrTooManyRooms {
			return ErrTooManyRooms
		}
		return err
	}
	if !already {
		c.rooms = append(c.rooms, room)
	}
	return nil
}

// leave removes c from room and answers $left with reason.
func (s *Server) leave(c *Conn, room, id, reason string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.rooms, room)
	if i < 0 {
		return ErrNotMember
	}
	c.rooms = slices.Delete(c.rooms, i, i+1)
	s.leaveAnnounced(c, room)
	_ = c.sendOut(sessionFrame(c, evLeft, room, id, frame.LeftPayload{Reason: reason}))
	return nil
}

// leaveRoomsLocked removes an ended session from all its rooms, announced.
// Called with c.mu held.
func (s *Server) leaveRoomsLocked(c *Conn) {
	for _, room := range c.rooms {
		s.leaveAnnounced(c, room)
	}
	c.rooms = nil
}

// leaveAnnounced removes c from room and records the leave for the
// room's next $presence diff, under the room's lock (in the room's order;
// a later joiner's diffs never list c leaving).
func (s *Server) leaveAnnounced(c *Conn, room string) {
	if s.cl != nil {
		s.cl.leave(c, room)
		return
	}
	s.rooms.LeaveThen(room, c.member(), func(rest []member) {
		s.recordPresence(room, c.id, false, rest)
	})
}

// fanOut queues out, encoded once, for every member of room that skip
// does not exclude, and returns how many accepted it. It is the one place
// where local delivery to a room happens. It queues under the room's
// lock: frames fanned out into one room, by any number of goroutines, and
// its $presence diffs reach every member in one order.
func (s *Server) fanOut(room string, out *frame.Outgoing, skip func(*Conn) bool) int {
	n := 0
	s.rooms.Deliver(room, func(members []member) { n = deliver(members, out, skip) })
	if s.hist != nil {
		s.hist.fannedOut(unsafe.Pointer(unsafe.StringData(room)), n)
	}
	return n
}

// deliver queues out for every member that skip (if any) does not
// exclude, and returns how many accepted it.
func deliver(members []member, out *frame.Outgoing, skip func(*Conn) bool) int {
	n := 0
	for _, m := range members {
		if skip != nil && skip(m.c) {
			continue
		}
		if m.st.Send(out) == nil {
			n++
		}
	}
	return n
}

// validRoom applies the room field rules to a server-side join.
func (s *Server) validRoom(room string) bool {
	return s.opts.Limits.CheckRoom(room) == nil
}

// memberBufs recycles member snapshots so a broadcast allocates nothing
// per member.
var memberBufs = sync.Pool{New: func() any { b := make([]member, 0, 64); return &b }}

// maxPooledMembers is the largest snapshot kept for reuse (16 MiB): a
// broadcast to a room of a million would otherwise allocate that much
// garbage each time.
const maxPooledMembers = 1 << 20

// member is a session as a room holds it: with its stream beside it, so a
// fan-out reaches the stream without loading the Conn (at a million
// members, one cache miss less per recipient).
type member struct {
	c  *Conn
	st *resume.Stream
}

func (c *Conn) member() member { return member{c, c.stream} }

func getMembers() *[]member { return memberBufs.Get().(*[]member) }

func putMembers(b *[]member) {
	clear(*b)
	if cap(*b) <= maxPooledMembers {
		*b = (*b)[:0]
		memberBufs.Put(b)
	}
}
