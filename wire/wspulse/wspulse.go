// Package wspulse is the wire of wspulse servers (wspulse/server v0.2 and
// v0.3, wspulse/core v0.2), so that their unchanged clients (client-go
// included) connect to a roomloop server: mount it with
// api.Endpoint{Path: "/wspulse", Wire: wspulse.New(wspulse.Options{})}.
//
// On the wire: one JSON object {"id","event","payload"} per message,
// each key left out when empty, the payload any JSON value, embedded as
// it is. The server sends text messages and reads text or binary ones.
// There are no built-in events: a client is in the one room its connect
// request names (?room=&id= by default) and a frame it sends goes to
// every member of that room, itself included, unless a handler for its
// event says otherwise. Presence, acknowledgements and roomloop's other
// control frames are not sent; errors are, as the event "$error" with
// roomloop's {"code","message"} payload.
//
// Sessions resume by id: a client that comes back with the same id
// within the resume window gets every frame it has not confirmed, in
// order (see docs/compat.md for the safety note: without Authorize,
// whoever knows an id can take its session).
package wspulse

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/wire"
)

// Options configure the wire. The zero value is the convention of
// wspulse's test server: ?room=<room>&id=<connection id>.
type Options struct {
	// RoomParam is the query parameter naming the room. Default "room".
	RoomParam string
	// IDParam is the query parameter naming the connection id (the
	// session id); without it the server chooses one. Default "id".
	IDParam string
	// DefaultRoom is the room of a request without one. Default "": such a
	// request is refused with 401.
	DefaultRoom string
}

// Wire is the wspulse wire. It is immutable and safe for concurrent use.
type Wire struct {
	opts Options
}

// New returns the wspulse wire configured by o.
func New(o Options) *Wire {
	if o.RoomParam == "" {
		o.RoomParam = "room"
	}
	if o.IDParam == "" {
		o.IDParam = "id"
	}
	return &Wire{opts: o}
}

// Name returns "wspulse".
func (w *Wire) Name() string { return "wspulse" }

// Rules are wspulse's: a room frame reaches its sender too; the same id
// resumes a suspended session and replaces a connected one; a clean close
// suspends too; every close the server sends is 1000.
func (w *Wire) Rules() wire.Rules {
	return wire.Rules{EchoSender: true, ResumeByID: true, ReplaceConnected: true,
		SuspendOnClose: true, CloseNormally: true}
}

// errNoRoom refuses a connect request that names no room.
var errNoRoom = errors.New("wspulse: missing room")

// Connect reads the room and id from the query.
func (w *Wire) Connect(r *http.Request) (wire.Hello, error) {
	q := r.URL.Query()
	room := q.Get(w.opts.RoomParam)
	if room == "" {
		room = w.opts.DefaultRoom
	}
	if room == "" {
		return wire.Hello{}, errNoRoom
	}
	return wire.Hello{SessionID: q.Get(w.opts.IDParam), Rooms: []string{room}}, nil
}

// inbound is a client frame as encoding/json reads it (keys matched
// without regard to case, unknown keys ignored, as wspulse did).
type inbound struct {
	ID      *string         `json:"id"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

// Errors of Decode, sent to the client as the message of a bad_request
// "$error".
var (
	errNotFrame = errors.New(`not a wspulse frame: expected a JSON object {"id":string,"event":string,"payload":any}`)
	errNoEvent  = errors.New("the frame has no event")
	errReserved = errors.New("events starting with $ are reserved")
)

// Decode reads one client frame, of either message type, for the
// peer's room. A message that is not a JSON object with string id and
// event, or has no event, is an error (the client gets "$error").
func (w *Wire) Decode(msg []byte, _ bool, peer wire.Peer) (frame.Frame, error) {
	var in inbound
	if err := json.Unmarshal(msg, &in); err != nil {
		return frame.Frame{}, errNotFrame
	}
	switch {
	case in.Event == "":
		return frame.Frame{}, errNoEvent
	case in.Event[0] == '$':
		return frame.Frame{}, errReserved
	}
	rooms := peer.Rooms()
	if len(rooms) == 0 {
		return frame.Frame{}, errors.New("wspulse: the connection is in no room")
	}
	f := frame.Frame{Event: in.Event, Room: rooms[0]}
	if in.ID != nil {
		f.Ref = *in.ID
	}
	if len(in.Payload) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, in.Payload); err != nil {
			return frame.Frame{}, errNotFrame // unreachable: Unmarshal checked it
		}
		f.Kind, f.Payload = frame.JSONPayload, buf.Bytes()
	}
	return f, nil
}

// outbound is a server frame as wspulse's codec writes it.
type outbound struct {
	ID      string          `json:"id,omitempty"`
	Event   string          `json:"event,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Encode writes an application frame, or "$error", as one text message:
// id (a room frame's Ref), event and payload. A bytes payload (from a
// roomloop.bin client) becomes a base64 JSON string. Other control
// frames append nothing.
func (w *Wire) Encode(dst []byte, f *frame.Frame) []byte {
	if f.IsControl() && f.Event != "$error" {
		return dst
	}
	out := outbound{Event: f.Event}
	if f.To == "" { // a room frame's Ref is its sender's id; a direct one's is another wire's
		out.ID = f.Ref
	}
	switch f.Kind {
	case frame.JSONPayload:
		out.Payload = f.Payload
	case frame.BytesPayload:
		b, err := json.Marshal(f.Payload) // base64
		if err != nil {
			return dst
		}
		out.Payload = b
	}
	msg, err := json.Marshal(out) // compacts the payload and escapes <, >, &
	if err != nil {
		return dst // a payload that is not JSON: the server checks, so never
	}
	return wire.AppendMessage(dst, false, msg)
}
