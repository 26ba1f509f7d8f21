package wsrooms

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// A wsrooms message is five fields in this order: room, event, dst, src,
// payload. Each is a uint32 big-endian byte count followed by that many
// bytes, and nothing else is in the message.

// Field indexes.
const (
	fieldRoom = iota
	fieldEvent
	fieldDst
	fieldSrc
	fieldPayload
	numFields
)

var fieldNames = [numFields]string{"room", "event", "dst", "src", "payload"}

// minMessage is the size of a message whose fields are all empty.
const minMessage = 4 * numFields

// errTrailing: bytes after the payload.
var errTrailing = errors.New("wsrooms: bytes after the payload field")

// split returns the five fields of msg, aliasing it. A message shorter
// than five length prefixes, a length that runs past the end, and bytes
// after the last field are errors. It allocates nothing and reads each
// length only against what is left, so a huge length costs nothing.
func split(msg []byte) (fields [numFields][]byte, err error) {
	if len(msg) < minMessage {
		return fields, errors.New("wsrooms: a message is at least 20 bytes (five 4-byte lengths), got " + strconv.Itoa(len(msg)))
	}
	rest := msg
	for i := range fields {
		if len(rest) < 4 {
			return fields, errors.New("wsrooms: the " + fieldNames[i] + " length runs past the end")
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return fields, errors.New("wsrooms: the " + fieldNames[i] + " field (" + strconv.FormatUint(uint64(n), 10) +
				" bytes) runs past the end")
		}
		fields[i], rest = rest[:n:n], rest[n:]
	}
	if len(rest) > 0 {
		return fields, errTrailing
	}
	return fields, nil
}

// appendFields appends fields in the layout.
func appendFields(dst []byte, fields ...[]byte) []byte {
	for _, f := range fields {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

// fieldsLen returns the layout's size for fields.
func fieldsLen(fields ...[]byte) int {
	n := 0
	for _, f := range fields {
		n += 4 + len(f)
	}
	return n
}
