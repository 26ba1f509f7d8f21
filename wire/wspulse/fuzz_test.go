package wspulse_test

import (
	"encoding/json"
	"testing"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
	"github.com/roomloop/roomloop/wire/wspulse"
)

// peer is a session in room "r".
type peer struct{}

func (peer) ID() string      { return "p" }
func (peer) Rooms() []string { return []string{"r"} }

// FuzzDecode feeds arbitrary messages to the decoder: it never panics,
// and what it accepts is a room frame of an application event whose
// payload, if any, is one JSON value, and which encodes back to one text
// message holding one JSON object.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"event":"msg","payload":{"t":1}}`, `{"id":"m1","event":"e"}`, `{"EVENT":"e","Payload":[1, 2]}`,
		`null`, `[]`, `{"event":"$join"}`, `{"id":7}`, `{"event":"e","payload":"<&>"}`, "{\"event\":\"\xff\"}", ``} {
		f.Add([]byte(s))
	}
	w := wspulse.New(wspulse.Options{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := w.Decode(msg, false, peer{})
		if err != nil {
			return
		}
		if fr.Event == "" || fr.IsControl() || fr.Room != "r" {
			t.Fatalf("decoded %+v", fr)
		}
		if fr.Kind == frame.JSONPayload && !json.Valid(fr.Payload) || fr.Kind == frame.BytesPayload {
			t.Fatalf("payload %q of kind %v", fr.Payload, fr.Kind)
		}
		out := w.Encode(nil, &fr)
		if len(out) == 0 {
			t.Fatal("an application frame encoded to nothing")
		}
		var hdr int
		for n := 0; ; n++ { // the header's length: the message's is unknown yet
			if h := loop.AppendHeader(nil, false, len(out)-n); len(h) == n {
				hdr = n
				break
			}
			if n > 10 {
				t.Fatalf("no WebSocket header on %q", out)
			}
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out[hdr:], &obj); err != nil {
			t.Fatalf("encoded %q: %v", out[hdr:], err)
		}
	})
}
