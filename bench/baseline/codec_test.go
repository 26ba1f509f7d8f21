package baseline

import (
	"bytes"
	"testing"

	"github.com/roomloop/roomloop/frame"
)

// TestCodecMatchesRoomloop checks that baseline frames are byte-identical
// to roomloop's JSON codec for the frames the scenarios use.
func TestCodecMatchesRoomloop(t *testing.T) {
	cases := []outFrame{
		{Event: "chat", Room: "lobby", From: "s-abc", Payload: []byte(`{"t":123,"k":4}`)},
		{Event: "dm", To: "s-x", From: "s-y", Payload: []byte(`"hi\n"`)},
		{Event: "$pong", ID: "17"},
		{Event: "$joined", Room: "r\"1\t\x01é", ID: "j", Payload: []byte(`{"count":1}`)},
		{Event: "$welcome", Payload: []byte(`{"session":"s-1"}`)},
	}
	for _, seq := range []uint64{0, 1, 42, 1 << 40} {
		for _, c := range cases {
			rf := frame.Frame{Event: c.Event, Room: c.Room, To: c.To, From: c.From, ID: c.ID}
			if len(c.Payload) > 0 {
				rf.Kind, rf.Payload = frame.JSONPayload, c.Payload
			}
			want := frame.JSON.AppendMessage(nil, seq, frame.JSON.AppendBody(nil, &rf))
			got := appendMessage(nil, seq, appendBody(nil, &c))
			if !bytes.Equal(got, want) {
				t.Errorf("seq %d %+v:\n got  %s\n want %s", seq, c, got, want)
			}
		}
	}
}
