package frame

// clientFields holds the members of a client frame as parsed by a codec,
// before validation. Its slices may alias the decoded message.
type clientFields struct {
	event, room, to, id []byte
	kind                PayloadKind
	payload             []byte
	// payloadOwned is set when payload was freshly allocated by the codec
	// rather than sliced from the message.
	payloadOwned bool
	// noEchoID and noEchoRoom are set when id or room must not be echoed in
	// a DecodeError even if valid, because the member was duplicated.
	noEchoID, noEchoRoom bool
}

// validate checks event, room, to and id against lim and the protocol's
// field rules and returns the first violation, or nil.
func (c *clientFields) validate(lim Limits) *DecodeError {
	if len(c.event) == 0 {
		return newError("event", "event is empty")
	}
	if err := checkField("event", c.event, lim.MaxEvent); err != nil {
		return err
	}
	if err := checkField("room", c.room, lim.MaxRoom); err != nil {
		return err
	}
	if err := checkField("to", c.to, lim.MaxTo); err != nil {
		return err
	}
	if len(c.room) > 0 && len(c.to) > 0 {
		return newError("to", "room and to are both set")
	}
	return checkField("id", c.id, lim.MaxID)
}

// echo sets e.ID and e.Room to the frame's id and room when each is valid on
// its own, and returns e.
func (c *clientFields) echo(e *DecodeError, lim Limits) *DecodeError {
	if !c.noEchoID && len(c.id) > 0 && checkField("id", c.id, lim.MaxID) == nil {
		e.ID = string(c.id)
	}
	if !c.noEchoRoom && len(c.room) > 0 && checkField("room", c.room, lim.MaxRoom) == nil {
		e.Room = string(c.room)
	}
	return e
}

// frame returns the validated fields as a Frame that owns its memory. Each
// string is its own allocation, so that keeping one (an id for
// deduplication, a room name) does not pin the others.
func (c *clientFields) frame() Frame {
	f := Frame{
		Event: string(c.event),
		Room:  string(c.room),
		To:    string(c.to),
		ID:    string(c.id),
		Kind:  c.kind,
	}
	switch {
	case c.kind == NoPayload:
	case c.payloadOwned:
		f.Payload = c.payload
	default:
		f.Payload = append([]byte(nil), c.payload...)
	}
	return f
}
