package api

import (
	"encoding/json"
	"fmt"

	"github.com/roomloop/roomloop/frame"
)

// The frame types are the frame package's, re-exported so that users of
// api need not import it.
type (
	// Frame is one roomloop frame: Event, Room or To, ID, From, Seq, and
	// a Payload read according to Kind. Build one with JSON or Bytes, or
	// as a literal whose Kind agrees with its Payload.
	Frame = frame.Frame
	// PayloadKind says how a Frame's Payload is read.
	PayloadKind = frame.PayloadKind
	// Limits bounds the fields of client frames, in bytes. Each field
	// that is zero takes its default on its own (negative is an error, see
	// Options.Validate): event 64,
	// room 128, to 64, id 64.
	Limits = frame.Limits
)

// Payload kinds.
const (
	NoPayload    = frame.NoPayload    // no payload
	JSONPayload  = frame.JSONPayload  // Payload is exactly one JSON value
	BytesPayload = frame.BytesPayload // Payload is opaque bytes
)

// JSON returns a frame of event whose payload is v encoded with
// encoding/json, or the encoding's error. Set Room or To on it before
// sending.
func JSON(event string, v any) (Frame, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Frame{}, fmt.Errorf("%w: %w", ErrInvalidFrame, err)
	}
	return Frame{Event: event, Kind: JSONPayload, Payload: b}, nil
}

// Bytes returns a frame of event whose payload is b, opaque bytes (a
// JSON client receives them as its payload if they are JSON text, else
// base64 in "bin"). b must not be modified afterwards.
func Bytes(event string, b []byte) Frame {
	return Frame{Event: event, Kind: BytesPayload, Payload: b}
}

// checkFrame refuses a frame that is not fit to send (frame.Frame.Check).
func checkFrame(f *Frame) error {
	if err := f.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidFrame, err)
	}
	return nil
}
