package client

import (
	"encoding/json"
	"errors"

	"github.com/roomloop/roomloop/frame"
)

// Message is an application frame from the server.
type Message struct {
	// Event is the application event.
	Event string
	// Room is the room it was sent to; empty for a direct message.
	Room string
	// To is this session's id on a direct message.
	To string
	// From is the sender's session id; empty when the server sent it.
	From string
	// Seq is the frame's place in the session: 1, 2, 3…
	Seq uint64
	// Payload is the payload: JSON text, or bytes when Binary is set.
	Payload []byte
	// Binary reports that the payload came as raw bytes (always so on
	// the binary codec, which carries JSON as its text).
	Binary bool
}

// Decode unmarshals the payload as JSON into v.
func (m Message) Decode(v any) error { return json.Unmarshal(m.Payload, v) }

// Presence reports a member joining or leaving a room.
type Presence struct {
	// Room is the room.
	Room string
	// Session is the member's session id.
	Session string
	// Joined is true for a join, false for a leave.
	Joined bool
}

// errBadPayload is returned for a json.RawMessage that is not one JSON value.
var errBadPayload = errors.New("roomloop: payload is a json.RawMessage that is not valid JSON")

// payloadOf turns a payload given to a send into a frame payload: nil is
// none, []byte is raw bytes, json.RawMessage is sent as it is, and
// anything else is marshalled to JSON.
func payloadOf(p any) (frame.PayloadKind, []byte, error) {
	switch v := p.(type) {
	case nil:
		return frame.NoPayload, nil, nil
	case []byte:
		return frame.BytesPayload, v, nil
	case json.RawMessage:
		if !json.Valid(v) {
			return 0, nil, errBadPayload
		}
		return frame.JSONPayload, v, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return 0, nil, err
	}
	return frame.JSONPayload, b, nil
}
