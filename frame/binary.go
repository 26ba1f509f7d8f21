package frame

import (
	"encoding/binary"
	"slices"
	"strconv"
)

// binaryVersion is the first byte of every roomloop.bin message.
const binaryVersion = 0x01

// binaryCodec implements roomloop.bin. It is stateless and safe for
// concurrent use.
type binaryCodec struct{}

// Name returns "roomloop.bin".
func (binaryCodec) Name() string { return binaryName }

// Binary returns true: roomloop.bin uses WebSocket binary messages.
func (binaryCodec) Binary() bool { return true }

// ID returns 1.
func (binaryCodec) ID() int { return binaryID }

// Decode parses one client→server roomloop.bin message.
func (binaryCodec) Decode(msg []byte, lim Limits) (Frame, error) {
	lim = lim.WithDefaults()
	_, rest, herr := binaryHeader(msg)
	if herr != nil {
		return Frame{}, herr
	}
	var c clientFields
	var from []byte
	for _, fld := range [...]struct {
		name string
		dst  *[]byte
	}{
		{"event", &c.event},
		{"room", &c.room},
		{"to", &c.to},
		{"from", &from},
		{"id", &c.id},
	} {
		v, r, err := readBytes(fld.name, rest)
		if err != nil {
			return Frame{}, err
		}
		*fld.dst, rest = v, r
	}
	if len(rest) > 0 {
		c.kind, c.payload = BytesPayload, rest
	}
	if err := c.validate(lim); err != nil {
		return Frame{}, c.echo(err, lim)
	}
	return c.frame(), nil
}

// binaryHeader checks a roomloop.bin message's version byte and reads
// its seq, returning the bytes after it.
func binaryHeader(msg []byte) (seq uint64, rest []byte, err *DecodeError) {
	if len(msg) == 0 {
		return 0, nil, newError("", "message is empty")
	}
	if msg[0] != binaryVersion {
		return 0, nil, newError("", "unknown version byte "+strconv.Itoa(int(msg[0])))
	}
	seq, n := binary.Uvarint(msg[1:])
	if n <= 0 {
		return 0, nil, newError("", "seq is not a valid uvarint")
	}
	return seq, msg[1+n:], nil
}

// readBytes reads one uvarint-length-prefixed field from b and returns it and
// the bytes after it. The length is checked against what is left before any
// slicing.
func readBytes(field string, b []byte) (v, rest []byte, err *DecodeError) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, newError("", field+" length is not a valid uvarint")
	}
	b = b[k:]
	if n > uint64(len(b)) {
		return nil, nil, newError("", field+" length "+strconv.FormatUint(n, 10)+
			" runs past the end of the message ("+strconv.Itoa(len(b))+" bytes left)")
	}
	return b[:n:n], b[n:], nil
}

// AppendBody appends everything after the seq uvarint: the five
// length-prefixed fields and the payload. A JSONPayload is written as its
// JSON text; NoPayload writes nothing.
func (binaryCodec) AppendBody(dst []byte, f *Frame) []byte {
	size := 0
	for _, s := range [...]string{f.Event, f.Room, f.To, f.From, f.ID} {
		size += uvarintLen(uint64(len(s))) + len(s)
	}
	if f.Kind != NoPayload {
		size += len(f.Payload)
	}
	dst = slices.Grow(dst, size)
	for _, s := range [...]string{f.Event, f.Room, f.To, f.From, f.ID} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	if f.Kind != NoPayload {
		dst = append(dst, f.Payload...)
	}
	return dst
}

// MessageLen returns 1 + the uvarint length of seq + len(body).
func (binaryCodec) MessageLen(seq uint64, body []byte) int {
	return 1 + uvarintLen(seq) + len(body)
}

// AppendMessage appends the version byte, seq as a uvarint (0 included) and
// body.
func (b binaryCodec) AppendMessage(dst []byte, seq uint64, body []byte) []byte {
	dst = slices.Grow(dst, b.MessageLen(seq, body))
	dst = append(dst, binaryVersion)
	dst = binary.AppendUvarint(dst, seq)
	return append(dst, body...)
}

// uvarintLen returns the number of bytes binary.AppendUvarint writes for v.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
