package frame

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// DecodeFromServer parses one server→client message in codec c: what a
// client receives. Unlike Codec.Decode it keeps seq and from. It checks
// the message's shape (well-formed, the fields of the right types, valid
// UTF-8) but not the server's length limits, which are the server's to
// choose, and returns a *DecodeError for anything it cannot read.
// The returned Frame does not alias msg.
func DecodeFromServer(c Codec, msg []byte) (Frame, error) {
	if c.Binary() {
		return decodeBinaryFromServer(msg)
	}
	return decodeJSONFromServer(msg)
}

// serverJSON is a server→client roomloop.json message.
type serverJSON struct {
	Seq     uint64          `json:"seq"`
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	To      string          `json:"to"`
	From    string          `json:"from"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
	Bin     []byte          `json:"bin"`
}

func decodeJSONFromServer(msg []byte) (Frame, error) {
	if !utf8.Valid(msg) {
		return Frame{}, newError("", "message is not valid UTF-8")
	}
	if t := bytes.TrimLeft(msg, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return Frame{}, newError("", "message is not a JSON object")
	}
	var m serverJSON
	if err := json.Unmarshal(msg, &m); err != nil {
		return Frame{}, newError("", err.Error())
	}
	f := Frame{Seq: m.Seq, Event: m.Event, Room: m.Room, To: m.To, From: m.From, ID: m.ID}
	switch {
	case m.Payload != nil && m.Bin != nil:
		return Frame{}, newError("bin", "payload and bin are both set")
	case m.Payload != nil:
		f.Kind, f.Payload = JSONPayload, []byte(m.Payload)
	case m.Bin != nil:
		f.Kind, f.Payload = BytesPayload, m.Bin
	}
	return f, checkFromServer(&f)
}

func decodeBinaryFromServer(msg []byte) (Frame, error) {
	seq, rest, herr := binaryHeader(msg)
	if herr != nil {
		return Frame{}, herr
	}
	var fields [5][]byte
	for i, name := range [...]string{"event", "room", "to", "from", "id"} {
		v, r, err := readBytes(name, rest)
		if err != nil {
			return Frame{}, err
		}
		fields[i], rest = v, r
	}
	f := Frame{Seq: seq, Event: string(fields[0]), Room: string(fields[1]), To: string(fields[2]),
		From: string(fields[3]), ID: string(fields[4])}
	if len(rest) > 0 {
		f.Kind, f.Payload = BytesPayload, bytes.Clone(rest)
	}
	return f, checkFromServer(&f)
}

// checkFromServer checks the rules every server frame keeps whatever the
// server's limits: an event, and string fields of valid UTF-8 without
// control characters.
func checkFromServer(f *Frame) error {
	if f.Event == "" {
		return newError("event", "event is empty")
	}
	for _, fld := range [...]struct{ name, v string }{
		{"event", f.Event}, {"room", f.Room}, {"to", f.To}, {"from", f.From}, {"id", f.ID},
	} {
		if err := checkField(fld.name, []byte(fld.v), len(fld.v)); err != nil {
			return err
		}
	}
	return nil
}
