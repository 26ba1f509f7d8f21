package frame

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// seqPrefix starts a JSON message that carries a seq.
const seqPrefix = `{"seq":`

// AppendBody appends the members of f other than seq, each as
// `,"name":value`, then the closing '}'. String members are written only
// when non-empty, in the order event, room, to, from, id. A JSONPayload is
// embedded as raw JSON; a BytesPayload is embedded as raw JSON when it is
// valid UTF-8 JSON text and otherwise written as standard base64 in "bin";
// an empty payload, or NoPayload, writes neither member. A JSONPayload is
// trusted to hold one valid JSON value; it is not checked again.
func (jsonCodec) AppendBody(dst []byte, f *Frame) []byte {
	dst = slices.Grow(dst, len(`,"event":"","room":"","to":"","from":"","id":"","payload":}`)+
		len(f.Event)+len(f.Room)+len(f.To)+len(f.From)+len(f.ID)+len(f.Payload))
	dst = appendStringMember(dst, `,"event":`, f.Event)
	dst = appendStringMember(dst, `,"room":`, f.Room)
	dst = appendStringMember(dst, `,"to":`, f.To)
	dst = appendStringMember(dst, `,"from":`, f.From)
	dst = appendStringMember(dst, `,"id":`, f.ID)
	if f.Kind != NoPayload && len(f.Payload) > 0 {
		if f.Kind == JSONPayload || isJSONText(f.Payload) {
			dst = append(dst, `,"payload":`...)
			dst = append(dst, f.Payload...)
		} else {
			dst = append(dst, `,"bin":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, f.Payload)
			dst = append(dst, '"')
		}
	}
	return append(dst, '}')
}

// MessageLen returns the length of the message AppendMessage writes.
func (jsonCodec) MessageLen(seq uint64, body []byte) int {
	if len(body) == 0 {
		body = []byte{'}'}
	}
	if seq == 0 {
		if body[0] == ',' {
			return len(body)
		}
		return 1 + len(body)
	}
	return len(seqPrefix) + decimalLen(seq) + len(body)
}

// AppendMessage appends `{"seq":N` and body, or for seq 0 '{' and body
// without its leading comma. An empty body is taken as "}".
func (c jsonCodec) AppendMessage(dst []byte, seq uint64, body []byte) []byte {
	if len(body) == 0 {
		body = []byte{'}'}
	}
	dst = slices.Grow(dst, c.MessageLen(seq, body))
	if seq == 0 {
		dst = append(dst, '{')
		if body[0] == ',' {
			body = body[1:]
		}
		return append(dst, body...)
	}
	dst = append(dst, seqPrefix...)
	dst = strconv.AppendUint(dst, seq, 10)
	return append(dst, body...)
}

// decimalLen returns the number of decimal digits of v.
func decimalLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// isJSONText reports whether b is valid UTF-8 JSON text.
func isJSONText(b []byte) bool {
	return utf8.Valid(b) && json.Valid(b)
}

// appendStringMember appends prefix and s as a JSON string when s is not
// empty.
func appendStringMember(dst []byte, prefix, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, prefix...)
	return appendString(dst, s)
}

// hexDigits are the digits of \u00XX escapes.
const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Quotes, backslashes and control
// characters below U+0020 are escaped; nothing is HTML-escaped. Bytes that
// are not valid UTF-8 are written as \ufffd so the output stays valid.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
