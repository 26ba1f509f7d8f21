package client

import (
	"encoding/json"
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
		c.report(&ProtocolError{Problem: "a " + f.Event + " frame without seq; ignored"})
		return nil
	case f.Seq <= last:
		c.report(&ProtocolError{Problem: "seq repeats (the last was " + itoa(last) + "); the frame is ignored", Seq: f.Seq})
		return nil
	case f.Seq > last+1:
		return &ProtocolError{Problem: "seq jumps from " + itoa(last) + "; resuming to fetch what was skipped", Seq: f.Seq}
	}
	if !c.handle(l, &f) {
		return nil // the link ended while the frame waited; it comes again after the resume
	}
	c.mu.Lock()
	c.recvSeq = f.Seq
	c.mu.Unlock()
	return nil
}

// handle acts on one in-order frame. It returns false when the link
// ended before the frame could be queued for the handlers.
func (c *Client) handle(l *link, f *frame.Frame) bool {
	switch f.Event {
	case "$ack":
		c.answered(f.ID, nil)
	case "$error":
		var p frame.ErrorPayload
		_ = json.Unmarshal(f.Payload, &p)
		e := &Error{Code: p.Code, Message: p.Message, Room: f.Room, ID: f.ID}
		if f.ID == "" || !c.answered(f.ID, e) {
			c.report(e)
		}
	case "$joined":
		var p frame.JoinedPayload
		_ = json.Unmarshal(f.Payload, &p)
		c.mu.Lock()
		r := c.roomLocked(f.Room)
		r.joined, r.count, r.truncated = true, p.Count, p.Truncated
		clear(r.members)
		for _, m := range p.Members {
			r.members[m] = struct{}{}
		}
		c.mu.Unlock()
		if f.ID != "" {
			c.answered(f.ID, nil)
		}
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
			c.answered(f.ID, nil)
		} else if r != nil { // the server took the client out
			return c.postFrom(l, r.presence(Presence{Room: f.Room, Session: self}))
		}
	case "$member_joined", "$member_left":
		var p frame.MemberPayload
		_ = json.Unmarshal(f.Payload, &p)
		joined := f.Event == "$member_joined"
		c.mu.Lock()
		r := c.rooms[f.Room]
		if r != nil && p.Session != "" {
			_, had := r.members[p.Session]
			switch {
			case joined && !had:
				r.members[p.Session] = struct{}{}
				r.count++
			case !joined && had:
				delete(r.members, p.Session)
				r.count--
			}
		}
		c.mu.Unlock()
		if r != nil {
			return c.postFrom(l, r.presence(Presence{Room: f.Room, Session: p.Session, Joined: joined}))
		}
	case "$pong":
	default:
		if f.IsControl() {
			c.report(&ProtocolError{Problem: "unknown control event " + strconv.Quote(f.Event) + "; ignored", Seq: f.Seq})
			return true
		}
		return c.postFrom(l, c.deliver(f))
	}
	return true
}

// deliver returns the handler calls for an application frame.
func (c *Client) deliver(f *frame.Frame) func() {
	m := Message{Event: f.Event, Room: f.Room, To: f.To, From: f.From, Seq: f.Seq,
		Payload: f.Payload, Binary: f.Kind == frame.BytesPayload}
	return func() {
		c.mu.Lock()
		fns := slices.Clone(c.handlers[m.Event])
		if r := c.rooms[m.Room]; r != nil && m.Room != "" {
			fns = append(fns, r.handlers[m.Event]...)
		}
		c.mu.Unlock()
		for _, fn := range fns {
			fn(m)
		}
	}
}

// presence returns the presence handler calls for p.
func (r *Room) presence(p Presence) func() {
	return func() {
		r.c.mu.Lock()
		fns := slices.Clone(r.onPresence)
		r.c.mu.Unlock()
		for _, fn := range fns {
			fn(p)
		}
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
