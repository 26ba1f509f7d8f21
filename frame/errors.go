package frame

// DecodeError says why a client frame was refused. The server answers it with
// $error bad_request, echoing ID and Room when they are set.
//
// A DecodeError is not modified after Decode returns it, so it is safe for
// concurrent reads.
type DecodeError struct {
	// Field names the offending member: "event", "room", "to", "id",
	// "payload", "bin", "from" or "seq" (wrong JSON type), or "" when the
	// message as a whole is malformed.
	Field string
	// Reason is a human-readable explanation, e.g.
	// "room is 200 bytes, limit 128".
	Reason string
	// ID is the frame's id, set only when the id was itself parsed and
	// valid, so that $error can echo it.
	ID string
	// Room is the frame's room, set only when it was parsed and valid.
	Room string
}

// Error returns the reason, prefixed with the field when there is one.
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "frame: " + e.Reason
	}
	return "frame: bad " + e.Field + ": " + e.Reason
}

// newError returns a DecodeError for field with the given reason.
func newError(field, reason string) *DecodeError {
	return &DecodeError{Field: field, Reason: reason}
}
