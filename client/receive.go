package client

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/roomloop/roomloop/frame"
)

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// receive handles one decoded frame on link l: the seq check, then control
// frames at once and application frames through the dispatch queue. An
// error ends the link (the client then resumes).
func (c *Client) receive(l *link, f frame.Frame) error {
	c.mu.Lock()
	last := c.recvSeq
	c.mu.Unlock()
	switch {
	case f.Seq == 0:
		c.postFrom(l, c.errorCall(&ProtocolError{Problem: "a " + f.Event + " frame without seq; ignored"}))
		return nil
	case f.Seq <= last:
		c.postFrom(l, c.errorCall(&ProtocolError{Problem: "seq repeats (the last was " + itoa(last) + "); the frame is ignored", Seq: f.Seq}))
		return nil
	case f.Seq > last+1:
		return &ProtocolError{Problem: "seq jumps from " + itoa(last) + "; resuming to fetch what was skipped", Seq: f.Seq}
	}
	if !c.handle(l, &f) {
		return nil // the link ended while the frame waited; it comes again after the resume
	}
	c.mu.Lock()
	c.recvSeq = f.Seq
	held := c.held != nil
	c.releaseHeld()
	c.mu.Unlock()
	if held {
		c.kick()
	}
	return nil
}

// handle acts on one in-order frame. It returns false when the link
// ended before the frame could be queued for the handlers.
func (c *Client) handle(l *link, f *frame.Frame) bool {
	switch f.Event {
	case "$ack":
		return c.settle(l, f.ID, nil)
	case "$error":
		var p frame.ErrorPayload
		_ = json.Unmarshal(f.Payload, &p)
		e := &Error{Code: p.Code, Message: p.Message, Room: f.Room, ID: f.ID}
		if f.ID != "" {
			// An answer nobody waits for any more (its caller gave up, or
			// it came again in a replay) is dropped.
			return c.settle(l, f.ID, e)
		}
		return c.postFrom(l, c.errorCall(e))
	case "$joined":
		var p frame.JoinedPayload
		_ = json.Unmarshal(f.Payload, &p)
		c.mu.Lock()
		r := c.roomLocked(f.Room)
		var changes []Presence
		if r.joined { // a rejoin after a gap: tell what changed meanwhile
			changes = r.diff(p.Members)
		}
		r.joined, r.count, r.truncated = true, p.Count, p.Truncated
		clear(r.members)
		for _, m := range p.Members {
			r.members[m] = struct{}{}
		}
		c.mu.Unlock()
		for _, ch := range changes {
			if !c.postFrom(l, r.presence(ch)) {
				return false
			}
		}
		return c.settle(l, f.ID, nil)
	case "$left":
		c.mu.Lock()
		r := c.rooms[f.Room]
		if r != nil {
			r.joined = false
			delete(c.rooms, f.Room)
		}
		self := c.session
		c.mu.Unlock()
		if f.ID != "" {
			return c.settle(l, f.ID, nil)
		}
		if r != nil { // the server took the client out
			return c.postFrom(l, r.presence(Presence{Room: f.Room, Session: self}))
		}
	case "$presence":
		var p frame.PresencePayload
		_ = json.Unmarshal(f.Payload, &p)
		c.mu.Lock()
		r := c.rooms[f.Room]
		var changes []Presence
		if r != nil {
			changes = r.apply(p)
		}
		c.mu.Unlock()
		for _, ch := range changes {
			if !c.postFrom(l, r.presence(ch)) {
				return false
			}
		}
	case "$refreshed":
		var p frame.RefreshedPayload
		_ = json.Unmarshal(f.Payload, &p)
		c.mu.Lock()
		c.expiresIn(p.ExpiresInMS)
		c.mu.Unlock()
		return c.settle(l, f.ID, nil)
	case "$pong":
	default:
		if f.IsControl() {
			return c.postFrom(l, c.errorCall(&ProtocolError{Problem: "unknown control event " + strconv.Quote(f.Event) + "; ignored", Seq: f.Seq}))
		}
		return c.postFrom(l, c.deliver(f))
	}
	return true
}

// settle delivers an answer for id, if it has one, and reports what its
// after hook returns.
func (c *Client) settle(l *link, id string, err error) bool {
	if id == "" {
		return true
	}
	if _, report := c.answered(id, err); report != nil {
		return c.postFrom(l, c.errorCall(report))
	}
	return true
}

// deliver returns the handler calls for an application frame.
func (c *Client) deliver(f *frame.Frame) func() {
	m := Message{Event: f.Event, Room: f.Room, To: f.To, From: f.From, Seq: f.Seq,
		Payload: f.Payload, Binary: f.Kind == frame.BytesPayload}
	return func() {
		c.mu.Lock()
		var fns []func(Message)
		if h := c.handlers[m.Event]; h != nil {
			fns = h.snapshot()
		}
		if r := c.rooms[m.Room]; r != nil && m.Room != "" {
			if h := r.handlers[m.Event]; h != nil {
				fns = append(fns, h.snapshot()...)
			}
		}
		c.mu.Unlock()
		call(fns, m)
	}
}

// diff returns the presence changes from r's members to members: those
// gone first, then those new, each in sorted order. c.mu must be held.
func (r *Room) diff(members []string) []Presence {
	now := make(map[string]struct{}, len(members))
	for _, m := range members {
		now[m] = struct{}{}
	}
	var out []Presence
	for _, m := range slices.Sorted(maps.Keys(r.members)) {
		if _, ok := now[m]; !ok {
			out = append(out, Presence{Room: r.name, Session: m})
		}
	}
	for _, m := range slices.Sorted(maps.Keys(now)) {
		if _, ok := r.members[m]; !ok {
			out = append(out, Presence{Room: r.name, Session: m, Joined: true})
		}
	}
	return out
}

// apply applies a $presence diff to r's members and returns it as one
// Presence per member, those gone first, each list in the server's order;
// a session already where the diff puts it is skipped (in a room whose
// $joined list was truncated, a member not listed may still leave). c.mu
// must be held.
func (r *Room) apply(p frame.PresencePayload) []Presence {
	var out []Presence
	for _, s := range p.Left {
		if _, had := r.members[s]; (had || r.truncated) && s != "" {
			delete(r.members, s)
			r.count--
			out = append(out, Presence{Room: r.name, Session: s})
		}
	}
	for _, s := range p.Joined {
		if _, had := r.members[s]; !had && s != "" {
			r.members[s] = struct{}{}
			r.count++
			out = append(out, Presence{Room: r.name, Session: s, Joined: true})
		}
	}
	return out
}

// presence returns the presence handler calls for p.
func (r *Room) presence(p Presence) func() {
	return func() {
		r.c.mu.Lock()
		fns := r.onPresence.snapshot()
		r.c.mu.Unlock()
		call(fns, p)
	}
}

// postFrom queues fn for the handlers from link l's reader, waiting while
// the queue is full; false if l ends first.
func (c *Client) postFrom(l *link, fn func()) bool {
	select {
	case c.dispatch <- fn:
		return true
	default:
	}
	l.busy.Store(true)
	defer l.busy.Store(false)
	select {
	case c.dispatch <- fn:
		return true
	case <-l.ctx.Done():
		return false
	}
}
