package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/roomloop/roomloop/frame"
)

// Room is the handle of a room the client joined. Its members are kept
// current by presence events. A Room is safe for concurrent use; it stays
// valid across reconnects and resumes, and is done once left.
type Room struct {
	c    *Client
	name string

	// Guarded by c.mu.
	joined     bool
	members    map[string]struct{}
	count      int
	truncated  bool
	handlers   map[string]*hooks[Message]
	onPresence hooks[Presence]
}

// Join joins room and waits for the server's $joined. Joining a room
// the client is in answers again with the same handle. Each setup runs
// with the handle before $join is sent: handlers registered there see
// every frame of the room, while those registered after Join returns may
// miss frames that arrived in between.
func (c *Client) Join(ctx context.Context, room string, setup ...func(*Room)) (*Room, error) {
	c.mu.Lock()
	r := c.roomLocked(room)
	c.mu.Unlock()
	for _, fn := range setup {
		fn(r)
	}
	err := c.call(ctx, frame.Frame{Event: "$join", Room: room}, nil)
	if err != nil {
		c.mu.Lock()
		if !r.joined && c.rooms[room] == r {
			delete(c.rooms, room)
		}
		c.mu.Unlock()
		return nil, err
	}
	return r, nil
}

// roomLocked returns the handle of room, made if new. c.mu must be held.
func (c *Client) roomLocked(name string) *Room {
	r := c.rooms[name]
	if r == nil {
		r = &Room{c: c, name: name, members: make(map[string]struct{}), handlers: make(map[string]*hooks[Message])}
		c.rooms[name] = r
	}
	return r
}

// Name returns the room's name.
func (r *Room) Name() string { return r.name }

// Members returns the members' session ids, sorted, the client's own
// included. It lists at most the server's bound (see Count).
func (r *Room) Members() []string {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return slices.Sorted(maps.Keys(r.members))
}

// Count returns how many members the room had when the client joined,
// kept current by presence events; it can exceed len(Members()) in a room
// larger than the server lists.
func (r *Room) Count() int {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.count
}

// Joined reports whether the client is in the room.
func (r *Room) Joined() bool {
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	return r.joined
}

// On registers fn for frames of event in this room and returns the
// function that removes it.
func (r *Room) On(event string, fn func(Message)) (off func()) {
	r.c.mu.Lock()
	h := eventHooks(r.handlers, event)
	r.c.mu.Unlock()
	return add(r.c, h, fn)
}

// OnPresence registers fn for members joining and leaving, and returns
// the function that removes it. The server gathers a room's joins and
// leaves into one $presence diff per interval (100 ms by default), which
// is reported here as one Presence per member, those that left first; a
// member that joined and left again within one interval is not reported.
// The server sends presence only in rooms up to its bound (10,000 other
// members by default).
func (r *Room) OnPresence(fn func(Presence)) (off func()) { return add(r.c, &r.onPresence, fn) }

// Publish sends a frame of event to the room's other members and waits
// for the server's answer: nil on $ack, an *Error on $error.
func (r *Room) Publish(ctx context.Context, event string, payload any) error {
	return r.c.request(ctx, frame.Frame{Event: event, Room: r.name}, payload)
}

// Send queues a frame of event to the room without an id: no answer, no
// resend after a resume. It fails only when the frame cannot be queued.
func (r *Room) Send(event string, payload any) error {
	f := frame.Frame{Event: event, Room: r.name}
	if err := r.c.fill(&f, payload); err != nil {
		return err
	}
	return r.c.send(f)
}

// Leave leaves the room and waits for the server's answer.
func (r *Room) Leave(ctx context.Context) error {
	err := r.c.call(ctx, frame.Frame{Event: "$leave", Room: r.name}, nil)
	if err == nil || errorCode(err) == CodeNotMember {
		r.c.mu.Lock()
		r.joined = false
		if r.c.rooms[r.name] == r {
			delete(r.c.rooms, r.name)
		}
		r.c.mu.Unlock()
		return nil
	}
	return err
}

// rejoins returns $join frames for every joined room, to send first on a
// new session. A room the server refuses is dropped and reported.
// c.mu must be held.
func (c *Client) rejoins() []*outFrame {
	var out []*outFrame
	for _, name := range slices.Sorted(maps.Keys(c.rooms)) {
		r := c.rooms[name]
		if !r.joined {
			continue
		}
		of := &outFrame{rejoin: true, after: func(err error) error {
			switch errorCode(err) {
			case "", CodeClosed, CodeSessionLost:
				return nil // joined; or the client or the session ended, which settles it anyway
			}
			c.mu.Lock()
			if c.rooms[name] == r {
				r.joined = false
				delete(c.rooms, name)
			}
			c.mu.Unlock()
			return fmt.Errorf("roomloop: rejoining room %q after a gap: %w", name, err)
		}}
		c.nextID++
		of.id = "c" + itoa(c.nextID)
		f := frame.Frame{Event: "$join", Room: name, ID: of.id}
		of.msg = c.encode(&f)
		out = append(out, of)
	}
	return out
}

// errorCode returns err's code if it is an *Error, else "".
func errorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
