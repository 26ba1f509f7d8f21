package baseline

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// inFrame is a client frame as decoded with encoding/json.
type inFrame struct {
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	To      string          `json:"to"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// outFrame is a server frame before encoding; Payload is raw JSON.
type outFrame struct {
	Event   string
	Room    string
	To      string
	From    string
	ID      string
	Payload []byte
}

// appendBody appends the members of f other than seq, each as
// `,"name":value`, then '}', in roomloop's member order (event, room, to,
// from, id, payload), leaving out empty members. The result is shared by
// every recipient of a broadcast; appendMessage adds the seq.
func appendBody(dst []byte, f *outFrame) []byte {
	dst = appendMember(dst, `,"event":`, f.Event)
	dst = appendMember(dst, `,"room":`, f.Room)
	dst = appendMember(dst, `,"to":`, f.To)
	dst = appendMember(dst, `,"from":`, f.From)
	dst = appendMember(dst, `,"id":`, f.ID)
	if len(f.Payload) > 0 {
		dst = append(dst, `,"payload":`...)
		dst = append(dst, f.Payload...)
	}
	return append(dst, '}')
}

// appendMessage appends a whole message: `{"seq":N` and body, or for seq
// 0 (the $welcome) '{' and body without its leading comma.
func appendMessage(dst []byte, seq uint64, body []byte) []byte {
	if seq == 0 {
		return append(append(dst, '{'), body[1:]...)
	}
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	return append(dst, body...)
}

// appendMember appends prefix and s as a JSON string when s is not empty.
func appendMember(dst []byte, prefix, s string) []byte {
	if s == "" {
		return dst
	}
	return appendString(append(dst, prefix...), s)
}

// appendString appends s as a JSON string, escaping quotes, backslashes
// and control characters (no HTML escaping), with invalid UTF-8 written
// as \ufffd, as roomloop's codec does.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

// controlBody encodes a control frame's body with payload v marshalled by
// encoding/json (nil: no payload).
func controlBody(event, room, id string, v any) []byte {
	f := outFrame{Event: event, Room: room, ID: id}
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			panic("baseline: control payload: " + err.Error()) // our own types: a bug
		}
		f.Payload = b
	}
	return appendBody(nil, &f)
}
