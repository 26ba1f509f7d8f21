// Package wsrooms is the wire of joncody/wsrooms (and its rename,
// roomer), so that its unchanged browser client, wsrooms.js, connects to
// a roomloop server: mount it with
// api.Endpoint{Path: "/wsrooms", Wire: wsrooms.New(wsrooms.Options{})}.
//
// On the wire: binary messages of five length-prefixed fields (room,
// event, dst, src, payload; see layout.go). A connection gets a random
// UUID as its id and joins room "root" at once, answered with join_ack.
// The events join and leave join and leave rooms (join_ack, leave_ack);
// the members of a room hear new_member and member_left (from roomloop's
// presence diffs). Any other event goes to the session named by dst, or,
// without dst, to the room's other members. src is always the true
// sender, set by the server.
package wsrooms

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/wire"
)

// Options configure the wire.
type Options struct {
	// Root is the room every connection joins at connect. Default "root".
	Root string
}

// Wire is the wsrooms wire. It is immutable and safe for concurrent use.
type Wire struct {
	root string
}

// New returns the wsrooms wire configured by o.
func New(o Options) *Wire {
	if o.Root == "" {
		o.Root = "root"
	}
	return &Wire{root: o.Root}
}

// Name returns "wsrooms".
func (w *Wire) Name() string { return "wsrooms" }

// Rules are wsrooms': a room frame reaches the other members only, and a
// session ends with its connection (wsrooms.js never reconnects).
func (w *Wire) Rules() wire.Rules { return wire.Rules{EndOnClose: true} }

// Connect gives the connection a random UUID v4 and the root room.
func (w *Wire) Connect(*http.Request) (wire.Hello, error) {
	return wire.Hello{SessionID: newUUID(), Rooms: []string{w.root}}, nil
}

// newUUID returns a random UUID v4, 36 characters.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// Event names of the wire.
const (
	evJoin       = "join"
	evLeave      = "leave"
	evJoinAck    = "join_ack"
	evLeaveAck   = "leave_ack"
	evNewMember  = "new_member"
	evMemberLeft = "member_left"
)

// serverEvents are the events only the server sends, and wsrooms.js's
// own ("open", "close"): a client frame with one is refused, so that no
// client can forge a membership change.
var serverEvents = map[string]bool{evJoinAck: true, evLeaveAck: true, evNewMember: true,
	evMemberLeft: true, "open": true, "close": true}

// Decode reads one client message, of either WebSocket type. join and
// leave become $join and $leave of the room; an event with dst is a
// direct message to that session (carrying the sender's room in Ref);
// any other event is a frame to the room. src is ignored: the server
// sets the true sender.
func (w *Wire) Decode(msg []byte, _ bool, _ wire.Peer) (frame.Frame, error) {
	fields, err := split(msg)
	if err != nil {
		return frame.Frame{}, err
	}
	room, event, dst := string(fields[fieldRoom]), string(fields[fieldEvent]), string(fields[fieldDst])
	switch {
	case event == evJoin:
		return frame.Frame{Event: "$join", Room: room}, nil
	case event == evLeave:
		return frame.Frame{Event: "$leave", Room: room}, nil
	case event == "":
		return frame.Frame{}, errors.New("wsrooms: the event field is empty")
	case event[0] == '$' || serverEvents[event]:
		return frame.Frame{}, errors.New("wsrooms: event " + event + " is reserved")
	}
	f := frame.Frame{Event: event, Room: room}
	if dst != "" {
		if err := (frame.Limits{}).CheckRoom(room); room != "" && err != nil {
			return frame.Frame{}, err
		}
		f.Room, f.To, f.Ref = "", dst, room
	}
	if p := fields[fieldPayload]; len(p) > 0 {
		f.Kind, f.Payload = frame.BytesPayload, bytes.Clone(p)
	}
	return f, nil
}

// Encode writes f as binary messages: $joined as join_ack (the other
// members, src the joiner), $left as leave_ack, a $presence diff as one
// new_member or member_left per session, $error as the event "$error"
// in root with its JSON payload, and an application frame with its room (a
// direct message: its sender's room, or root), event, dst, the true
// sender as src, and its payload bytes. Other control frames append
// nothing.
func (w *Wire) Encode(dst []byte, f *frame.Frame) []byte {
	switch f.Event {
	case "$joined":
		var p frame.JoinedPayload
		if json.Unmarshal(f.Payload, &p) != nil {
			return dst
		}
		others := make([]string, 0, len(p.Members))
		for _, id := range p.Members {
			if id != f.Ref {
				others = append(others, id)
			}
		}
		list, _ := json.Marshal(others) // never fails: strings
		return appendMessage(dst, f.Room, evJoinAck, "", f.Ref, list)
	case "$left":
		return appendMessage(dst, f.Room, evLeaveAck, "", f.Ref, []byte(f.Ref))
	case "$presence":
		var p frame.PresencePayload
		if json.Unmarshal(f.Payload, &p) != nil {
			return dst
		}
		for _, id := range p.Joined {
			dst = appendMessage(dst, f.Room, evNewMember, "", "", []byte(id))
		}
		for _, id := range p.Left {
			dst = appendMessage(dst, f.Room, evMemberLeft, "", "", []byte(id))
		}
		return dst
	case "$error":
		// In root: wsrooms.js drops a frame for a room it does not
		// have, and the room an error is about may be one.
		return appendMessage(dst, w.root, f.Event, "", "", f.Payload)
	}
	if f.IsControl() {
		return dst
	}
	return appendMessage(dst, w.roomOf(f), f.Event, f.To, f.From, f.Payload)
}

// roomOf is the room a frame goes out with: its own, a direct message's
// sender's (Ref), or root.
func (w *Wire) roomOf(f *frame.Frame) string {
	switch {
	case f.Room != "":
		return f.Room
	case f.To != "" && f.Ref != "":
		return f.Ref
	}
	return w.root
}

// appendMessage appends one binary message of the five fields.
func appendMessage(dst []byte, room, event, to, src string, payload []byte) []byte {
	r, e, d, s := []byte(room), []byte(event), []byte(to), []byte(src)
	msg := appendFields(make([]byte, 0, fieldsLen(r, e, d, s, payload)), r, e, d, s, payload)
	return wire.AppendMessage(dst, true, msg)
}
