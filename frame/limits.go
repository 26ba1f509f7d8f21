package frame

import (
	"strconv"
	"unicode/utf8"

	"github.com/roomloop/roomloop/internal/opt"
)

// Limits bounds the fields of a client frame, in bytes. Decode refuses a
// field over its limit; it never truncates.
//
// A Limits is a plain value and safe to share. A limit of zero or less means
// the default from DefaultLimits.
type Limits struct {
	// MaxEvent bounds event (which must also be non-empty).
	MaxEvent int
	// MaxRoom bounds room.
	MaxRoom int
	// MaxTo bounds to.
	MaxTo int
	// MaxID bounds id.
	MaxID int
}

// DefaultLimits returns the protocol's default limits: event 64, room 128,
// to 64 and id 64 bytes.
func DefaultLimits() Limits {
	return Limits{MaxEvent: 64, MaxRoom: 128, MaxTo: 64, MaxID: 64}
}

// WithDefaults returns l with every non-positive limit replaced by its
// default: each field defaults on its own.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	opt.Default(&l.MaxEvent, d.MaxEvent)
	opt.Default(&l.MaxRoom, d.MaxRoom)
	opt.Default(&l.MaxTo, d.MaxTo)
	opt.Default(&l.MaxID, d.MaxID)
	return l
}

// CheckRoom reports whether room is a valid room name under l (each
// non-positive limit taken as its default): non-empty, at most MaxRoom
// bytes, valid UTF-8 without control characters. The error is a
// *DecodeError naming the field "room".
func (l Limits) CheckRoom(room string) error {
	if room == "" {
		return newError("room", "room is empty")
	}
	if err := checkField("room", []byte(room), l.WithDefaults().MaxRoom); err != nil {
		return err
	}
	return nil
}

// checkField validates one string field: at most max bytes, valid UTF-8 and
// free of control characters (U+0000–U+001F, U+007F–U+009F). It returns nil
// when v is valid.
// Check validates a client frame that another wire decoded against l
// (defaults for zero fields) and the field rules roomloop's own codecs
// apply: an event, and event, room, to and id within their limits, valid
// UTF-8 without control characters, room and to not both set. Its error
// is a *DecodeError.
func (l Limits) Check(f *Frame) error {
	c := clientFields{event: []byte(f.Event), room: []byte(f.Room), to: []byte(f.To), id: []byte(f.ID)}
	if err := c.validate(l.WithDefaults()); err != nil {
		return err
	}
	return nil
}

func checkField(field string, v []byte, max int) *DecodeError {
	if len(v) > max {
		return newError(field, field+" is "+strconv.Itoa(len(v))+" bytes, limit "+strconv.Itoa(max))
	}
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return controlError(field, rune(c))
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && n == 1 {
			return newError(field, field+" is not valid UTF-8")
		}
		if r <= 0x9f {
			return controlError(field, r)
		}
		i += n
	}
	return nil
}

// controlError reports a control character r in field.
func controlError(field string, r rune) *DecodeError {
	const digits = "0123456789ABCDEF"
	hex := []byte{'U', '+', '0', '0', digits[r>>4&0xf], digits[r&0xf]}
	return newError(field, field+" contains control character "+string(hex))
}
