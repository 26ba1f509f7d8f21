package wsrooms_test

import (
	"encoding/binary"
	"testing"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/wire/wsrooms"
)

// peer is a session in root.
type peer struct{}

func (peer) ID() string      { return "p" }
func (peer) Rooms() []string { return []string{"root"} }

// FuzzDecode feeds arbitrary messages to the decoder: it never panics;
// what it accepts is $join or $leave of a room, or an application event
// to a room or a session, whose payload is its own copy; and an accepted
// frame encodes back to messages the layout reads.
func FuzzDecode(f *testing.F) {
	for _, parts := range [][]string{
		{"root", "join", "", "", ""}, {"lobby", "leave", "id", "id", "id"}, {"lobby", "chat", "", "x", "hi"},
		{"root", "dm", "b", "a", "x"}, {"lobby", "new_member", "", "", "fake"}, {"", "", "", "", ""},
	} {
		var msg []byte
		for _, p := range parts {
			msg = binary.BigEndian.AppendUint32(msg, uint32(len(p)))
			msg = append(msg, p...)
		}
		f.Add(msg)
	}
	f.Add([]byte{0, 0, 0, 5, 'a'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w := wsrooms.New(wsrooms.Options{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := w.Decode(msg, true, peer{})
		if err != nil {
			return
		}
		switch {
		case fr.Event == "$join" || fr.Event == "$leave":
		case fr.Event == "" || fr.IsControl():
			t.Fatalf("decoded %+v", fr)
		case fr.Kind == frame.JSONPayload:
			t.Fatalf("a JSON payload from bytes: %+v", fr)
		}
		if len(fr.Payload) > 0 && len(msg) > 0 && &fr.Payload[0] == &msg[len(msg)-len(fr.Payload)] {
			t.Fatal("the payload aliases the message")
		}
		if fr.IsControl() {
			return
		}
		fr.From = "sender"
		out := w.Encode(nil, &fr)
		if len(out) < 2 {
			t.Fatalf("encoded to %q", out)
		}
	})
}
