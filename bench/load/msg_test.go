package load

import "testing"

// TestParseMsg parses the frame shapes both servers write.
func TestParseMsg(t *testing.T) {
	var m Msg
	if !parseMsg([]byte(`{"seq":42,"event":"b","room":"r","from":"s-x","payload":{"t":17,"k":3}}`), &m) {
		t.Fatal("broadcast not parsed")
	}
	if m.Seq != 42 || string(m.Event) != "b" || string(m.Room) != "r" || string(m.From) != "s-x" ||
		Int(m.Payload, `"t":`) != 17 || Int(m.Payload, `"k":`) != 3 {
		t.Fatalf("got %+v", m)
	}
	if !parseMsg([]byte(`{"event":"$welcome","payload":{"session":"s-1","resume":""}}`), &m) ||
		m.Seq != 0 || Str(m.Payload, `"session":`) != "s-1" {
		t.Fatalf("welcome: %+v", m)
	}
	if !parseMsg([]byte(`{"seq":3,"event":"$pong","id":"7"}`), &m) || string(m.ID) != "7" || m.Payload != nil {
		t.Fatalf("pong: %+v", m)
	}
	for _, bad := range []string{``, `{}`, `[1]`, `{"seq":x,"event":"a"}`, `{"event":"a"`, `{"nope":"a"}`} {
		if parseMsg([]byte(bad), &m) {
			t.Errorf("%q parsed", bad)
		}
	}
}
