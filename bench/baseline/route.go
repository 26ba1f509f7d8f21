package baseline

import (
	"encoding/json"
	"strings"

	"github.com/roomloop/roomloop/frame"
)

// route decodes one client message and acts on it.
func (c *client) route(msg []byte) {
	var f inFrame
	if err := json.Unmarshal(msg, &f); err != nil || f.Event == "" || (f.Room != "" && f.To != "") {
		c.fail(f.ID, "", "bad_request", "malformed frame")
		return
	}
	if strings.HasPrefix(f.Event, "$") {
		c.control(&f)
		return
	}
	body := appendBody(nil, &outFrame{Event: f.Event, Room: f.Room, To: f.To, From: c.id, Payload: f.Payload})
	switch {
	case f.Room != "":
		if _, ok := c.rooms[f.Room]; !ok {
			c.fail(f.ID, f.Room, "not_member", "not a member of room "+f.Room)
			return
		}
		c.s.hub.broadcast(f.Room, c, body, c.s.prepare(body)) // prepared once for the whole room
	case f.To != "":
		if !c.s.hub.direct(f.To, body) {
			c.fail(f.ID, "", "no_such_session", "no session "+f.To)
			return
		}
	default:
		c.fail(f.ID, "", "bad_request", "no handler for event "+f.Event)
		return
	}
	if f.ID != "" {
		c.enqueue(controlBody("$ack", "", f.ID, nil))
	}
}

// control handles the reserved events a client may send.
func (c *client) control(f *inFrame) {
	switch f.Event {
	case "$join":
		if f.Room == "" {
			c.fail(f.ID, "", "bad_request", "$join needs a room")
			return
		}
		c.rooms[f.Room] = struct{}{}
		n, members := c.s.hub.join(c, f.Room, c.s.opts.MaxMembersListed)
		c.enqueue(controlBody("$joined", f.Room, f.ID, frame.JoinedPayload{Count: n, Members: members, Truncated: n > len(members)}))
	case "$leave":
		if _, ok := c.rooms[f.Room]; !ok {
			c.fail(f.ID, f.Room, "not_member", "not a member of room "+f.Room)
			return
		}
		delete(c.rooms, f.Room)
		c.s.hub.leave(c, f.Room)
		c.enqueue(controlBody("$left", f.Room, f.ID, frame.LeftPayload{Reason: "left"}))
	case "$ping":
		c.enqueue(controlBody("$pong", "", f.ID, nil))
	case "$seen":
	default:
		c.fail(f.ID, f.Room, "bad_request", "event "+f.Event+" is reserved")
	}
}

// fail answers a refused frame with $error.
func (c *client) fail(id, room, code, message string) {
	c.enqueue(controlBody("$error", room, id, frame.ErrorPayload{Code: code, Message: message}))
}
