package api

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/frame"
)

// Presence is coalesced (docs/protocol.md, "Presence"): the joins and
// leaves of a room are gathered, in the room's order, for
// Options.PresenceInterval, then every member gets one $presence frame
// with the changes it has not seen yet. A join storm of N members costs
// about N frames per interval instead of N²/2 events.
//
// Concurrency: changes are recorded and taken under the room's lock (in
// the callbacks of rooms.Table), so a room's log and its member list
// always agree; presence.mu, which guards the map of logs, is taken under
// a room's lock and never before one.

// maxPresenceChanges bounds the changes gathered for one room: at this
// many, the room's diff goes out at once rather than at the end of the
// interval. It bounds a $presence frame (256 session ids at most, about
// 8 KiB) and the work and memory of one flush: the members that joined
// during the interval each get the changes after their own join, at most
// 256²/2 ids in all.
const maxPresenceChanges = 256

// presence holds the changes of every room that has some not yet sent.
type presence struct {
	mu      sync.Mutex
	pending map[string]*roomChanges
	closed  bool           // the server shut down: nothing more is recorded
	timers  sync.WaitGroup // one per armed or running flush timer
	frames  atomic.Uint64  // $presence frames queued (Stats.PresenceFrames)
}

// roomChanges are a room's membership changes since its last diff, in
// the room's order, and the timer that sends them.
type roomChanges struct {
	log   []change
	timer *time.Timer
}

// change is one member joining or leaving.
type change struct {
	session string
	joined  bool
}

// recordPresence notes that c joined or left room, whose members are now
// members. Called under the room's lock. The first change arms the room's
// timer; the maxPresenceChanges-th sends the diff at once; a room left
// empty forgets its changes, since nobody remains to hear them.
func (s *Server) recordPresence(room, id string, joined bool, members []member) {
	if s.opts.DisablePresence {
		return
	}
	p := &s.presence
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	rc := p.pending[room]
	if len(members) == 0 {
		if rc != nil {
			p.forgetLocked(room, rc)
		}
		p.mu.Unlock()
		return
	}
	if rc == nil {
		if p.pending == nil {
			p.pending = make(map[string]*roomChanges)
		}
		// A copy: room may share the bytes of a client's whole message.
		name := strings.Clone(room)
		rc = &roomChanges{}
		p.pending[name] = rc
		p.timers.Add(1)
		rc.timer = time.AfterFunc(s.opts.PresenceInterval, func() { s.flushPresence(name, rc) })
	}
	rc.log = append(rc.log, change{session: id, joined: joined})
	var full []change
	if len(rc.log) >= maxPresenceChanges {
		full = rc.log
		p.forgetLocked(room, rc)
	}
	p.mu.Unlock()
	if full != nil {
		s.sendPresence(room, members, full)
	}
}

// flushPresence is the timer of rc, room's changes: it sends them, in the
// room's order, unless they went out already (a full log) or were
// forgotten (the room emptied, or the server shut down).
func (s *Server) flushPresence(room string, rc *roomChanges) {
	defer s.presence.timers.Done()
	s.rooms.Deliver(room, func(members []member) {
		if log := s.presence.take(room, rc); log != nil {
			s.sendPresence(room, members, log)
		}
	})
}

// take removes rc from the pending rooms and returns its log, or nil if
// rc is no longer room's pending changes. Called under the room's lock
// when the timer has fired.
func (p *presence) take(room string, rc *roomChanges) []change {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending[room] != rc {
		return nil
	}
	delete(p.pending, room)
	return rc.log
}

// forgetLocked removes rc from the pending rooms and stops its timer.
// Called with p.mu held.
func (p *presence) forgetLocked(room string, rc *roomChanges) {
	delete(p.pending, room)
	if rc.timer.Stop() {
		p.timers.Done() // it will not run
	}
}

// close stops recording and waits for the flush timers: after it, no
// presence goroutine runs. Called by Shutdown once every session ended.
func (p *presence) close() {
	p.mu.Lock()
	p.closed = true
	for room, rc := range p.pending {
		p.forgetLocked(room, rc)
	}
	p.mu.Unlock()
	p.timers.Wait()
}

// sendPresence queues for each of a room's members the changes of log
// it has not seen: a member that was in the room before log began gets
// them all (one frame, encoded once, shared by all such members); one
// that joined during log gets those after its latest join, which its
// $joined did not list. A member whose changes cancel out gets nothing.
// Called under the room's lock, so the diffs take their place in the
// room's one order.
func (s *Server) sendPresence(room string, members []member, log []change) {
	count := len(members)
	if s.cl != nil {
		count = s.cl.memberCount(room)
	}
	if !s.presenceAllowed(count - 1) {
		return
	}
	joinedAt := make(map[string]int) // a newcomer's latest join in log
	for i, ch := range log {
		if ch.joined {
			joinedAt[ch.session] = i
		}
	}
	var all *frame.Outgoing
	for _, m := range members {
		out := all
		if i, ok := joinedAt[m.c.id]; ok {
			out = presenceFrame(room, log[i+1:])
		} else if all == nil {
			all = presenceFrame(room, log)
			out = all
		}
		if out == nil {
			continue
		}
		// Counted before it is queued, so a client never reads a frame
		// that Stats does not count yet; uncounted if refused.
		s.presence.frames.Add(1)
		if m.st.Send(out) != nil {
			s.presence.frames.Add(^uint64(0))
		}
	}
}

// presenceAllowed reports whether a room with others members besides one
// hears presence (Options.PresenceMaxMembers).
func (s *Server) presenceAllowed(others int) bool {
	max := s.opts.PresenceMaxMembers
	return max < 0 || others <= max
}

// presenceFrame returns the $presence frame for changes, or nil when they
// cancel out.
func presenceFrame(room string, changes []change) *frame.Outgoing {
	p := netChanges(changes)
	if len(p.Joined) == 0 && len(p.Left) == 0 {
		return nil
	}
	return controlFrame(evPresence, room, "", p)
}

// netChanges sums changes up per session, in the order sessions first
// appear: one whose first and last change are joins joined, one whose
// first and last are leaves left, and one that joined and left again, or
// left and came back, is where it was.
func netChanges(changes []change) frame.PresencePayload {
	type span struct{ first, last bool }
	spans := make(map[string]*span, len(changes))
	order := make([]string, 0, len(changes))
	for _, ch := range changes {
		if sp := spans[ch.session]; sp != nil {
			sp.last = ch.joined
			continue
		}
		spans[ch.session] = &span{ch.joined, ch.joined}
		order = append(order, ch.session)
	}
	p := frame.PresencePayload{Joined: []string{}, Left: []string{}}
	for _, id := range order {
		switch sp := spans[id]; {
		case sp.first && sp.last:
			p.Joined = append(p.Joined, id)
		case !sp.first && !sp.last:
			p.Left = append(p.Left, id)
		}
	}
	return p
}
