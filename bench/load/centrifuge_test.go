package load

import (
	"strings"
	"testing"
)

// TestMembers checks the JSON member scanner on the shapes centrifuge
// sends: nested objects, strings with escapes and braces, numbers,
// booleans, and malformed input.
func TestMembers(t *testing.T) {
	push := `{"push":{"channel":"bcast","pub":{"data":{"event":"b","room":"bcast","from":"c1","payload":{"t":12,"s":"a\"}{,"}}}}}`
	var keys []string
	var pub []byte
	ok := members([]byte(push), func(key, val []byte) bool {
		keys = append(keys, string(key))
		return members(val, func(key, val []byte) bool {
			keys = append(keys, string(key))
			if string(key) == "pub" {
				pub = val
			}
			return true
		})
	})
	if !ok || strings.Join(keys, ",") != "push,channel,pub" {
		t.Fatalf("ok=%v keys=%v", ok, keys)
	}
	if want := `{"data":{"event":"b","room":"bcast","from":"c1","payload":{"t":12,"s":"a\"}{,"}}}`; string(pub) != want {
		t.Fatalf("pub = %s", pub)
	}
	var got []string
	ok = members([]byte(`{"id":1,"connect":{"client":"x","ping":25,"pong":true},"n":[1,{"a":2}]}`), func(key, val []byte) bool {
		got = append(got, string(key)+"="+string(val))
		return true
	})
	if !ok || strings.Join(got, " ") != `id=1 connect={"client":"x","ping":25,"pong":true} n=[1,{"a":2}]` {
		t.Fatalf("ok=%v got=%v", ok, got)
	}
	for _, bad := range []string{``, `{`, `{"a"}`, `{"a":}`, `{"a":{"b":1}`, `{"a":"x}`, `{"a":1 "b":2}`, `[1]`} {
		if members([]byte(bad), func(_, _ []byte) bool { return true }) {
			t.Errorf("members(%s) = true", bad)
		}
	}
}

// fakeSock records the client frames written to it, unmasked.
type fakeSock struct{ sent []string }

func (f *fakeSock) Write(b []byte) (int, error) {
	n, hl := int(b[1]&0x7F), 2
	switch n {
	case 126:
		n, hl = int(b[2])<<8|int(b[3]), 4
	case 127:
		panic("test frame too long")
	}
	mask, p := b[hl:hl+4], []byte(string(b[hl+4:hl+4+n]))
	for i := range p {
		p[i] ^= mask[i%4]
	}
	f.sent = append(f.sent, string(p))
	return len(b), nil
}

func (f *fakeSock) Close() error { return nil }

// TestCentrifugeAdapter drives one connection through the adapter: the
// scenarios' messages go out as centrifuge commands, and centrifuge's
// replies and pushes come back as roomloop messages, numbered in order,
// without the connection's own publications.
func TestCentrifugeAdapter(t *testing.T) {
	var got []string
	p := &Pool{cfg: Config{Centrifuge: true, Handler: func(c *Conn, m *Msg) {
		got = append(got, string(m.Event)+" room="+string(m.Room)+" id="+string(m.ID)+" from="+string(m.From)+
			" payload="+string(m.Payload))
	}}, welcome: make(chan struct{}, 1)}
	s := &fakeSock{}
	c := p.newConn(s, 0, 0)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.started())
	c.message([]byte(`{"id":1,"connect":{"client":"me","version":"","ping":25,"pong":true}}`))
	if c.Session() != "me" || p.Welcomed() != 1 {
		t.Fatalf("session %q, welcomed %d", c.Session(), p.Welcomed())
	}
	must(c.Send([]byte(`{"event":"$join","room":"r1"}`)))
	must(c.Send([]byte(`{"event":"$ping","id":"7","payload":{"pad":"xx"}}`)))
	must(c.Send([]byte(`{"event":"b","room":"r1","payload":{"t":5}}`)))
	if err := c.Send([]byte(`{"event":"$leave","room":"r1"}`)); err == nil {
		t.Error("$leave translated; want an error")
	}
	want := []string{
		`{"id":1,"connect":{}}`,
		`{"id":2,"subscribe":{"channel":"r1"}}`,
		`{"id":3,"rpc":{"method":"ping","data":{"pad":"xx"}}}`,
		`{"id":4,"publish":{"channel":"r1","data":{"event":"b","room":"r1","from":"me","payload":{"t":5}}}}`,
	}
	if strings.Join(s.sent, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sent\n%s\nwant\n%s", strings.Join(s.sent, "\n"), strings.Join(want, "\n"))
	}
	c.message([]byte(`{"id":2,"subscribe":{}}` + "\n" + `{"id":4,"publish":{}}` + "\n" + `{"id":3,"rpc":{}}`))
	c.message([]byte(`{"push":{"channel":"r1","pub":{"data":{"event":"b","room":"r1","from":"me","payload":{"t":5}}}}}` + "\n" +
		`{"push":{"channel":"r1","pub":{"data":{"event":"b","room":"r1","from":"you","payload":{"t":6}}}}}`))
	// A publication with more than its data, and a push that is no
	// publication, take the general path.
	c.message([]byte(`{"push":{"channel":"r1","pub":{"data":{"event":"b","room":"r1","from":"you","payload":{"t":7}},"info":{"client":"you"}}}}` + "\n" +
		`{"push":{"channel":"r1","join":{"info":{"client":"you"}}}}`))
	c.message([]byte(`{}`))
	c.message([]byte(`{"id":9,"error":{"code":103,"message":"permission denied"}}`))
	wantGot := []string{
		"$joined room=r1 id= from= payload=",
		"$pong room= id=7 from= payload=",
		`b room=r1 id= from=you payload={"t":6}`,
		`b room=r1 id= from=you payload={"t":7}`,
	}
	if strings.Join(got, "\n") != strings.Join(wantGot, "\n") {
		t.Fatalf("handled\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantGot, "\n"))
	}
	if c.LastSeq() != 4 || p.stats.SeqErrors.Load() != 0 {
		t.Errorf("last seq %d, seq errors %d", c.LastSeq(), p.stats.SeqErrors.Load())
	}
	if s.sent[len(s.sent)-1] != "{}" || p.stats.Pings.Load() != 1 {
		t.Errorf("ping not answered: last sent %q, pings %d", s.sent[len(s.sent)-1], p.stats.Pings.Load())
	}
	if p.stats.Malformed.Load() != 1 {
		t.Errorf("malformed %d, want 1 (the error reply)", p.stats.Malformed.Load())
	}
}

// BenchmarkReceive compares the load generator's cost per delivered
// broadcast message through the centrifuge adapter with roomloop's
// parser, so that a reader can tell the adapter does not slow the
// centrifuge side of the comparison.
func BenchmarkReceive(b *testing.B) {
	payload := `{"t":1733350000000000000,"k":12345}`
	for _, tc := range []struct {
		name, msg string
		cf        bool
	}{
		{"roomloop", `{"seq":1,"event":"b","room":"bcast","from":"s-0123456789abcdef","payload":` + payload + `}`, false},
		{"centrifuge", `{"push":{"channel":"bcast","pub":{"data":{"event":"b","room":"bcast","from":"0f3a2c1e-5b7d-4e8f-9a6b-1c2d3e4f5a6b","payload":` + payload + `}}}}`, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := 0
			p := &Pool{cfg: Config{Centrifuge: tc.cf, Handler: func(*Conn, *Msg) { n++ }}}
			c := p.newConn(&fakeSock{}, 0, 0)
			msg := []byte(tc.msg)
			b.ReportAllocs()
			for b.Loop() {
				c.lastSeq = 0
				c.message(msg)
			}
			if n == 0 {
				b.Fatal("nothing delivered")
			}
		})
	}
}
