package frame

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonCodec implements roomloop.json. It is stateless and safe for
// concurrent use.
type jsonCodec struct{}

// Name returns "roomloop.json".
func (jsonCodec) Name() string { return jsonName }

// Binary returns false: roomloop.json uses WebSocket text messages.
func (jsonCodec) Binary() bool { return false }

// ID returns 0.
func (jsonCodec) ID() int { return jsonID }

// member identifies a known member of a frame object.
type member uint8

const (
	memberUnknown member = iota
	memberEvent
	memberRoom
	memberTo
	memberFrom
	memberID
	memberSeq
	memberPayload
	memberBin
)

// lookupMember returns the member called name, or memberUnknown.
func lookupMember(name []byte) member {
	switch string(name) {
	case "event":
		return memberEvent
	case "room":
		return memberRoom
	case "to":
		return memberTo
	case "from":
		return memberFrom
	case "id":
		return memberID
	case "seq":
		return memberSeq
	case "payload":
		return memberPayload
	case "bin":
		return memberBin
	}
	return memberUnknown
}

// String returns the member's name as written on the wire.
func (m member) String() string {
	switch m {
	case memberEvent:
		return "event"
	case memberRoom:
		return "room"
	case memberTo:
		return "to"
	case memberFrom:
		return "from"
	case memberID:
		return "id"
	case memberSeq:
		return "seq"
	case memberPayload:
		return "payload"
	case memberBin:
		return "bin"
	}
	return ""
}

// Decode parses one client→server roomloop.json message.
//
// A message that is not one well-formed JSON object is refused without
// echoing anything. Otherwise the first problem found is reported (member
// types and duplicates in document order, then event, room, to, id, payload
// and bin), echoing the frame's id and room when each is valid on its own.
func (jsonCodec) Decode(msg []byte, lim Limits) (Frame, error) {
	lim = lim.WithDefaults()
	d := jsonDecoder{s: scanner{b: msg}}
	if err := d.parse(); err != nil {
		return Frame{}, err
	}
	if d.err != nil {
		return Frame{}, d.c.echo(d.err, lim)
	}
	if err := d.c.validate(lim); err != nil {
		return Frame{}, d.c.echo(err, lim)
	}
	if d.has(memberBin) {
		if err := d.decodeBin(); err != nil {
			return Frame{}, d.c.echo(err, lim)
		}
	}
	return d.c.frame(), nil
}

// jsonDecoder holds the state of one JSON Decode call.
type jsonDecoder struct {
	s scanner
	c clientFields
	// seen has bit 1<<m set for every known member m met so far.
	seen uint16
	// unknown holds the names of unknown members met so far, to find
	// duplicates; allocated only when there is one.
	unknown map[string]struct{}
	// bin is the unescaped text of the bin member.
	bin []byte
	// err is the first member-level error, in document order; parsing
	// goes on after it to tell a malformed message from a refused frame.
	err *DecodeError
}

// has reports whether member m was present.
func (d *jsonDecoder) has(m member) bool { return d.seen&(1<<m) != 0 }

// fail records err unless an earlier member-level error was recorded.
func (d *jsonDecoder) fail(err *DecodeError) {
	if d.err == nil {
		d.err = err
	}
}

// parse scans the whole message as one JSON object, storing known members in
// d.c and recording member-level errors in d.err. It returns an error only
// when the message is not a single well-formed JSON object.
func (d *jsonDecoder) parse() *DecodeError {
	s := &d.s
	if len(s.b) == 0 {
		return newError("", "message is empty")
	}
	s.skipSpace()
	if s.peek() != '{' {
		if s.i >= len(s.b) {
			return newError("", "message is empty")
		}
		return newError("", "message is not a JSON object")
	}
	s.i++
	s.skipSpace()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			s.skipSpace()
			if s.peek() != '"' {
				return s.fail("expected a member name").decodeError("")
			}
			start, end, esc, err := s.str()
			if err != nil {
				return err.decodeError("")
			}
			s.skipSpace()
			if s.peek() != ':' {
				return s.fail("expected ':'").decodeError("")
			}
			s.i++
			s.skipSpace()
			if err := d.member(start, end, esc); err != nil {
				return err
			}
			s.skipSpace()
			if s.peek() == ',' {
				s.i++
				continue
			}
			if s.peek() == '}' {
				s.i++
				break
			}
			return s.fail("expected ',' or '}'").decodeError("")
		}
	}
	s.skipSpace()
	if s.i != len(s.b) {
		return newError("", "trailing data after the object at offset "+strconv.Itoa(s.i))
	}
	return nil
}

// member parses the value of the member whose name spans s.b[start:end],
// starting at the current offset.
func (d *jsonDecoder) member(start, end int, esc bool) *DecodeError {
	raw := d.s.b[start:end]
	name := raw
	if esc {
		name = appendUnescaped(make([]byte, 0, len(raw)), raw)
	}
	m := lookupMember(name)
	if m == memberUnknown {
		d.noteUnknown(raw, name)
		return d.skip("")
	}
	if d.has(m) {
		d.fail(newError(m.String(), "duplicate member \""+m.String()+"\""))
		d.c.noEchoID = d.c.noEchoID || m == memberID
		d.c.noEchoRoom = d.c.noEchoRoom || m == memberRoom
	}
	d.seen |= 1 << m
	switch m {
	case memberSeq:
		if c := d.s.peek(); c != '-' && !isDigit(c) {
			d.fail(newError("seq", "seq must be a number, got "+typeName(c)))
			return d.skip("seq")
		}
		if err := d.s.number(); err != nil {
			return err.decodeError("")
		}
		return nil
	case memberPayload:
		start := d.s.i
		if err := d.s.value(); err != nil {
			return err.decodeError("payload")
		}
		d.c.kind, d.c.payload = JSONPayload, d.s.b[start:d.s.i]
		if !utf8.Valid(d.c.payload) {
			d.fail(newError("payload", "payload is not valid UTF-8"))
		}
		if d.has(memberBin) {
			d.fail(newError("bin", "payload and bin are both set"))
		}
		return nil
	}
	// The rest are strings.
	if c := d.s.peek(); c != '"' {
		d.fail(newError(m.String(), m.String()+" must be a string, got "+typeName(c)))
		return d.skip(m.String())
	}
	vs, ve, vesc, err := d.s.str()
	if err != nil {
		return err.decodeError("")
	}
	if m == memberFrom {
		// Ignored from clients, but the message must still be UTF-8.
		if !utf8.Valid(d.s.b[vs:ve]) {
			d.fail(newError("from", "from is not valid UTF-8"))
		}
		return nil
	}
	v := d.s.b[vs:ve:ve]
	if vesc {
		v = appendUnescaped(make([]byte, 0, len(v)), v)
	}
	switch m {
	case memberEvent:
		d.c.event = v
	case memberRoom:
		d.c.room = v
	case memberTo:
		d.c.to = v
	case memberID:
		d.c.id = v
	case memberBin:
		d.bin = v
		if d.has(memberPayload) {
			d.fail(newError("bin", "payload and bin are both set"))
		}
	}
	return nil
}

// noteUnknown records an unknown member name, raw as written and name
// unescaped, and flags it when duplicated or not valid UTF-8.
func (d *jsonDecoder) noteUnknown(raw, name []byte) {
	if !utf8.Valid(raw) {
		d.fail(newError("", "member name is not valid UTF-8"))
	}
	if d.unknown == nil {
		d.unknown = make(map[string]struct{})
	}
	if _, dup := d.unknown[string(name)]; dup {
		d.fail(newError("", "duplicate member "+strconv.Quote(string(name))))
		return
	}
	d.unknown[string(name)] = struct{}{}
}

// skip scans a value that is ignored or of the wrong type, checking that it
// is well-formed JSON and valid UTF-8. field names the member for nesting
// errors.
func (d *jsonDecoder) skip(field string) *DecodeError {
	start := d.s.i
	if err := d.s.value(); err != nil {
		return err.decodeError(field)
	}
	if !utf8.Valid(d.s.b[start:d.s.i]) {
		d.fail(newError(field, "value is not valid UTF-8"))
	}
	return nil
}

// decodeBin decodes the bin member as standard, padded base64 (RFC 4648
// section 4) in its canonical form: line breaks and non-zero padding bits are
// refused. An empty string means no payload.
func (d *jsonDecoder) decodeBin() *DecodeError {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(d.bin)))
	n, err := base64.StdEncoding.Decode(out, d.bin)
	if err != nil || !canonicalBase64(d.bin) {
		return newError("bin", "bin is not valid standard base64")
	}
	if n > 0 {
		d.c.kind, d.c.payload, d.c.payloadOwned = BytesPayload, out[:n:n], true
	}
	return nil
}

// stdAlphabet is the standard base64 alphabet.
const stdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// canonicalBase64 reports whether b, which base64.StdEncoding decodes
// without error, is canonical: no line breaks and zero padding bits.
func canonicalBase64(b []byte) bool {
	if bytes.ContainsAny(b, "\r\n") {
		return false
	}
	n := len(b)
	switch {
	case n >= 3 && b[n-1] == '=' && b[n-2] == '=':
		return strings.IndexByte(stdAlphabet, b[n-3])&0x0f == 0
	case n >= 2 && b[n-1] == '=':
		return strings.IndexByte(stdAlphabet, b[n-2])&0x03 == 0
	}
	return true
}
