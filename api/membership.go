package api

import (
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/rooms"
)

// join adds c to room and answers $joined (echoing id); the other members
// get $member_joined unless c was already in. The answer and the
// announcement are queued under c.mu (queueing never blocks), so that a
// racing leave or disconnect of c cannot announce out of order. Lock
// order: api Conn.mu, then the room table's shard lock.
func (s *Server) join(c *Conn, room, id string) error {
	if !s.validRoom(room) {
		return ErrInvalidRoom
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
	// $joined is queued under the room's lock, so no frame of the room can
	// reach the joiner before it.
	answer := func(_ bool, count int, members []*Conn) {
		ids := make([]string, len(members))
		for i, m := range members {
			ids[i] = m.id
		}
		_ = c.sendOut(controlFrame(evJoined, room, id, joinedPayload{count, ids, count > len(ids)}))
	}
	if _, _, err := s.rooms.JoinThen(room, c, s.opts.MaxMembersListed, answer); err != nil {
		if err == rooms.ErrTooManyRooms {
			return ErrTooManyRooms
		}
		return err
	}
	if !already {
		c.rooms = append(c.rooms, room)
		if !s.opts.DisablePresence {
			s.announce(room, evMemberJoined, c)
		}
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
	s.rooms.Leave(room, c)
	_ = c.sendOut(controlFrame(evLeft, room, id, reasonPayload{reason}))
	if !s.opts.DisablePresence {
		s.announce(room, evMemberLeft, c)
	}
	return nil
}

// leaveRoomsLocked removes an ended session from all its rooms, announced.
// Called with c.mu held.
func (s *Server) leaveRoomsLocked(c *Conn) {
	for _, room := range c.rooms {
		s.rooms.Leave(room, c)
		if !s.opts.DisablePresence {
			s.announce(room, evMemberLeft, c)
		}
	}
	c.rooms = nil
}

// announce tells room's other members that c joined or left.
func (s *Server) announce(room, event string, c *Conn) {
	out := controlFrame(event, room, "", memberPayload{c.id})
	s.fanOut(room, out, func(m *Conn) bool { return m == c })
}

// fanOut queues out, encoded once, for every member of room that skip
// does not exclude, and returns how many accepted it. It is the one place
// where local delivery to a room happens.
func (s *Server) fanOut(room string, out *frame.Outgoing, skip func(*Conn) bool) int {
	buf := getMembers()
	defer putMembers(buf)
	members, _ := s.rooms.AppendMembers((*buf)[:0], room, -1)
	*buf = members
	n := 0
	for _, m := range members {
		if skip != nil && skip(m) {
			continue
		}
		if m.stream.Send(out) == nil {
			n++
		}
	}
	return n
}

// validRoom applies the room field rules to a server-side join.
func (s *Server) validRoom(room string) bool {
	if room == "" || len(room) > s.opts.Limits.MaxRoom || !utf8.ValidString(room) {
		return false
	}
	for _, r := range room {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return false
		}
	}
	return true
}

// memberBufs recycles member snapshots so a broadcast allocates nothing
// per member.
var memberBufs = sync.Pool{New: func() any { b := make([]*Conn, 0, 64); return &b }}

func getMembers() *[]*Conn { return memberBufs.Get().(*[]*Conn) }

func putMembers(b *[]*Conn) {
	clear(*b)
	if cap(*b) <= 1<<16 {
		*b = (*b)[:0]
		memberBufs.Put(b)
	}
}
