// Package frame holds the roomloop Frame and its two wire codecs:
// roomloop.json (JSON objects in WebSocket text messages) and roomloop.bin
// (a length-prefixed layout in WebSocket binary messages), as specified in
// docs/protocol.md, section "Frames".
//
// Decoding validates every field against Limits and the field rules of the
// protocol and refuses, never truncates, anything invalid. Encoding follows
// "encode once, sequence per recipient": a server→client frame's body
// (everything but seq) is encoded once per codec by an Outgoing and shared by
// every recipient, whose message is then a short seq prefix plus that body.
//
// The package has no mutable package-level state; the codecs are stateless.
package frame

import (
	"encoding/json"
	"errors"
)

// PayloadKind says how a Frame's Payload is to be read.
type PayloadKind uint8

const (
	// NoPayload means the frame has no payload: no payload member in JSON,
	// an empty payload in the binary codec.
	NoPayload PayloadKind = iota
	// JSONPayload means Payload is exactly one JSON value as UTF-8 text
	// (possibly null).
	JSONPayload
	// BytesPayload means Payload is opaque bytes.
	BytesPayload
)

// String returns the kind's name, for messages and tests.
func (k PayloadKind) String() string {
	switch k {
	case NoPayload:
		return "none"
	case JSONPayload:
		return "json"
	case BytesPayload:
		return "bytes"
	}
	return "invalid"
}

// Frame is one roomloop frame.
//
// A Frame is a plain value: concurrent reads are safe, a write must not race
// with anything else. Frames returned by a Codec's Decode own their memory and
// never alias the decoded message.
type Frame struct {
	// Event is the application event name, or a control event starting
	// with '$'.
	Event string
	// Room is the room the frame is about; empty for session-level frames
	// and direct messages.
	Room string
	// To is the destination session id of a direct message.
	To string
	// From is the sending session id; set by the server only.
	From string
	// ID is the client-chosen message id.
	ID string
	// Ref is data for other wires (package wire), which roomloop's own
	// codecs neither read nor write: on a client frame, what the wire
	// decoded into it (a wspulse frame's id), carried to the recipients
	// of a routed frame; on $joined and $left, the id of the session
	// that joined or left.
	Ref string
	// Seq is the per-session sequence number of a server→client frame;
	// 0 means none ($welcome).
	Seq uint64
	// Kind says how to read Payload.
	Kind PayloadKind
	// Payload is the frame's application data, read according to Kind.
	Payload []byte
}

// IsControl reports whether f is a control frame: its event starts with '$'.
func (f *Frame) IsControl() bool {
	return isControl(f.Event)
}

// isControl reports whether event names a reserved control event.
func isControl(event string) bool {
	return len(event) > 0 && event[0] == '$'
}

// Errors of Frame.Check.
var (
	ErrNoEvent            = errors.New("frame: no event")
	ErrPayloadWithoutKind = errors.New("frame: a payload without a kind (set Kind to JSONPayload or BytesPayload)")
	ErrInvalidJSON        = errors.New("frame: a JSONPayload that is not one JSON value")
	ErrUnknownKind        = errors.New("frame: unknown payload kind")
)

// Check reports whether f is fit to send: it has an event, and its
// payload agrees with its kind (none for NoPayload, exactly one JSON
// value for JSONPayload). Its error is one of the Err values above.
func (f *Frame) Check() error {
	switch {
	case f.Event == "":
		return ErrNoEvent
	case f.Kind > BytesPayload:
		return ErrUnknownKind
	case f.Kind == NoPayload && len(f.Payload) > 0:
		return ErrPayloadWithoutKind
	case f.Kind == JSONPayload && !json.Valid(f.Payload):
		return ErrInvalidJSON
	}
	return nil
}
