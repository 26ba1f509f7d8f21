package wsproto

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"testing"
	"unicode/utf8"
)

// FuzzParser feeds the input (after its first byte) whole, split in two at
// an index taken from the first byte, and one byte at a time, under the
// default and under small limits: every way must give exactly the same
// events and error, respect the limits, and never panic.
func FuzzParser(f *testing.F) {
	f.Add(append([]byte{3}, cf(true, OpText, "hello")...))
	f.Add(append([]byte{9}, cat(cf(false, OpText, "Hel"), cf(true, OpPing, "p"), cf(true, OpContinuation, "lo"))...))
	f.Add(append([]byte{1}, hdr64(0x82, 1<<63-1)...))
	f.Add(append([]byte{5}, cat(cf(false, OpText, "abc"), hdr64(0x80, 1<<63-2))...))
	f.Add(append([]byte{7}, cf(true, OpClose, closePayload(1000, "bye"))...))
	f.Add(append([]byte{2}, cat(cf(false, OpText, "\xe2"), cf(true, OpContinuation, "\x82\xac"))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cut := int(data[0])
		in := data[1:]
		if cut > len(in) {
			cut %= len(in) + 1
		}
		for _, lim := range []*Limits{nil, {MaxMessage: 40, MaxFrames: 4}} {
			whole := feedChunks(lim, in)
			checkOutcome(t, lim, whole)
			if split := feedChunks(lim, in, cut); split.String() != whole.String() {
				t.Fatalf("split at %d:\n got %v\nwant %v", cut, split, whole)
			}
			if bytewise := feedBytes(lim, in); bytewise.String() != whole.String() {
				t.Fatalf("byte by byte:\n got %v\nwant %v", bytewise, whole)
			}
		}
	})
}

// checkOutcome checks what a Handler may rely on.
func checkOutcome(t *testing.T, lim *Limits, o outcome) {
	p := NewParser(lim)
	for i, e := range o.events {
		switch {
		case !e.control && e.op != OpText && e.op != OpBinary,
			e.control && e.op != OpPing && e.op != OpPong && e.op != OpClose:
			t.Fatalf("event %d: bad opcode %v", i, e.op)
		case !e.control && len(e.payload) > p.maxMessage():
			t.Fatalf("event %d: message of %d bytes", i, len(e.payload))
		case e.control && len(e.payload) > 125:
			t.Fatalf("event %d: control payload of %d bytes", i, len(e.payload))
		case e.op == OpText && !utf8.ValidString(e.payload):
			t.Fatalf("event %d: invalid UTF-8 delivered", i)
		case e.op == OpClose && checkClose([]byte(e.payload)) != nil:
			t.Fatalf("event %d: invalid close payload delivered", i)
		case e.op == OpClose && i != len(o.events)-1:
			t.Fatalf("event %d: events after close", i)
		}
	}
	switch o.code {
	case 0, CloseProtocolError, CloseInvalidPayload, CloseTooBig:
	default:
		t.Fatalf("unexpected close code %d", o.code)
	}
}

// FuzzHandshake checks that HeadEnd and ParseUpgrade never panic, that
// their errors are *HTTPError with a status that AppendHTTPError writes as
// a well-formed response, and that accepted requests are consistent.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte(validHead))
	f.Add([]byte(head("POST /ws HTTP/1.1", std...)))
	f.Add([]byte(head("GET /ws HTTP/1.1", without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 12")...)))
	f.Add([]byte("GET /ws HTTP/1.1\nHost: h\n\n"))
	f.Add([]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lim := range []HeadLimits{DefaultHeadLimits(), {MaxBytes: 100, MaxHeaders: 3}} {
			n, err := HeadEnd(data, lim)
			if err != nil {
				checkHTTPError(t, err)
				continue
			}
			if n < 0 {
				continue
			}
			if n > len(data) || n > lim.MaxBytes || !bytes.HasSuffix(data[:n], []byte("\r\n\r\n")) && n != 2 {
				t.Fatalf("HeadEnd = %d for %q", n, data)
			}
			parse(t, data[:n])
		}
		parse(t, data)
	})
}

// parse runs ParseUpgrade on h and checks its result.
func parse(t *testing.T, h []byte) {
	u, err := ParseUpgrade(h, "/ws")
	if err != nil {
		checkHTTPError(t, err)
		return
	}
	if !validKey(u.Key) || len(u.Protocols) > 32 || u.Request.Method != "GET" || u.Request.URL.Path != "/ws" {
		t.Fatalf("accepted %q as %+v", h, u)
	}
	proto := ""
	if len(u.Protocols) > 0 {
		proto = u.Protocols[0]
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(AppendSwitching(nil, u.Key, proto))), nil)
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != AcceptKey(u.Key) ||
		resp.Header.Get("Sec-WebSocket-Protocol") != proto {
		t.Fatalf("bad 101 for %q: %v", h, err)
	}
}

// checkHTTPError requires err to be an *HTTPError that writes well.
func checkHTTPError(t *testing.T, err error) {
	var he *HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("error %v is not an *HTTPError", err)
	}
	switch he.Status {
	case 400, 404, 405, 426, 431:
	default:
		t.Fatalf("unexpected status %d", he.Status)
	}
	resp, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(AppendHTTPError(nil, he))), nil)
	if rerr != nil || resp.StatusCode != he.Status {
		t.Fatalf("bad response for %v: %v", he, rerr)
	}
}
