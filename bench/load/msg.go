package load

import (
	"bytes"
	"strconv"
)

// Msg is one server frame as the load generator sees it. Its byte slices
// alias the received message and are valid only during the handler call.
type Msg struct {
	Seq     uint64
	Event   []byte
	Room    []byte
	To      []byte
	From    []byte
	ID      []byte
	Payload []byte // raw JSON, nil when absent
	Raw     []byte // the whole message
}

// parseMsg reads a server frame written in roomloop's member order:
// '{', optional "seq", then "event", "room", "to", "from", "id" (strings
// without escapes) and "payload" (the rest, raw). It reports false for
// anything else; the load generator counts those as malformed.
func parseMsg(b []byte, m *Msg) bool {
	*m = Msg{Raw: b}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	p := b[1:]
	first := true
	for len(p) > 1 {
		if !first {
			if p[0] != ',' {
				return false
			}
			p = p[1:]
		}
		first = false
		if len(p) < 3 || p[0] != '"' {
			return false
		}
		end := bytes.IndexByte(p[1:], '"')
		if end < 0 || len(p) < end+3 || p[end+2] != ':' {
			return false
		}
		name := p[1 : end+1]
		p = p[end+3:]
		switch string(name) {
		case "seq":
			i := 0
			for i < len(p) && p[i] >= '0' && p[i] <= '9' {
				i++
			}
			v, err := strconv.ParseUint(string(p[:i]), 10, 64)
			if err != nil {
				return false
			}
			m.Seq, p = v, p[i:]
		case "payload":
			m.Payload = p[:len(p)-1]
			return true
		default:
			s, rest, ok := parseString(p)
			if !ok {
				return false
			}
			switch string(name) {
			case "event":
				m.Event = s
			case "room":
				m.Room = s
			case "to":
				m.To = s
			case "from":
				m.From = s
			case "id":
				m.ID = s
			default:
				return false
			}
			p = rest
		}
	}
	return len(p) == 1 && len(m.Event) > 0
}

// parseString reads a JSON string at the start of p, returning its raw
// contents (escapes left as they are) and the rest of p.
func parseString(p []byte) (s, rest []byte, ok bool) {
	if len(p) == 0 || p[0] != '"' {
		return nil, nil, false
	}
	for i := 1; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '"':
			return p[1:i], p[i+1:], true
		}
	}
	return nil, nil, false
}

// Int returns the integer JSON member key (e.g. `"t":`) of a flat payload,
// or -1 if it is absent.
func Int(payload []byte, key string) int64 {
	i := bytes.Index(payload, []byte(key))
	if i < 0 {
		return -1
	}
	p := payload[i+len(key):]
	var v int64
	n := 0
	for n < len(p) && p[n] >= '0' && p[n] <= '9' {
		v = v*10 + int64(p[n]-'0')
		n++
	}
	if n == 0 {
		return -1
	}
	return v
}

// Str returns the string JSON member key (e.g. `"session":`) of a flat
// payload, or "" if it is absent.
func Str(payload []byte, key string) string {
	i := bytes.Index(payload, []byte(key))
	if i < 0 {
		return ""
	}
	s, _, ok := parseString(payload[i+len(key):])
	if !ok {
		return ""
	}
	return string(s)
}
