package wsproto

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/deflate"
)

func TestNegotiateDeflate(t *testing.T) {
	for _, tc := range []struct {
		offers []string
		want   string
	}{
		{nil, ""},
		{[]string{"permessage-deflate"}, DeflateResponse},
		{[]string{"permessage-deflate; client_max_window_bits"}, DeflateResponse},
		{[]string{"permessage-deflate;client_max_window_bits=15;client_no_context_takeover"}, DeflateResponse},
		{[]string{"permessage-deflate; server_max_window_bits=15"}, DeflateResponse + "; server_max_window_bits=15"},
		{[]string{`permessage-deflate; server_max_window_bits="15"`}, DeflateResponse + "; server_max_window_bits=15"},
		{[]string{"permessage-deflate; server_max_window_bits=9"}, ""},
		{[]string{"permessage-deflate; server_max_window_bits=9", "permessage-deflate"}, DeflateResponse},
		{[]string{"permessage-deflate; client_max_window_bits=7"}, ""},
		{[]string{"permessage-deflate; client_max_window_bits=8"}, DeflateResponse},
		{[]string{"permessage-deflate; client_max_window_bits=abc"}, ""},
		{[]string{"permessage-deflate; client_no_context_takeover=yes"}, ""},
		{[]string{"permessage-deflate; foo"}, ""},
		{[]string{"permessage-deflate; client_max_window_bits; client_max_window_bits"}, ""},
		{[]string{`permessage-deflate; x="a,b", permessage-deflate`}, DeflateResponse},
		{[]string{"foo, bar; baz=1"}, ""},
		{[]string{strings.Repeat("foo, ", 40) + "permessage-deflate"}, ""}, // past 32 offers
	} {
		assert.Equal(t, tc.want, NegotiateDeflate(tc.offers), "%q", tc.offers)
	}
}

// packedFrame is a masked client frame, RSV1 set on the first, of p
// compressed.
func packedFrame(op Opcode, p string) []byte {
	f := AppendClientFrame(nil, true, op, deflate.Compress(nil, []byte(p)), testMask)
	f[0] |= 0x40
	return f
}

func TestParserDeflate(t *testing.T) {
	text := strings.Repeat("héllo wörld ", 50)
	in := append(packedFrame(OpText, text), cf(true, OpText, "plain")...)

	// Without EnableDeflate, RSV1 is a protocol error.
	o := feedChunks(nil, in)
	assert.Equal(t, uint16(CloseProtocolError), o.code, o.String())

	feed := func(lim *Limits, in []byte, cut int) outcome {
		p := NewParser(lim)
		p.EnableDeflate()
		var r recorder
		var o outcome
		data := append([]byte(nil), in...)
		for _, part := range [][]byte{data[:cut], data[cut:]} {
			if err := p.Feed(part, &r); err != nil {
				o.code = err.(*CloseError).Code
				break
			}
		}
		o.events = r.events
		return o
	}
	for cut := 0; cut <= len(in); cut++ {
		o := feed(nil, in, cut)
		require.Zero(t, o.code, "cut %d: %v", cut, o)
		require.Len(t, o.events, 2)
		require.Equal(t, text, o.events[0].payload)
		require.Equal(t, "plain", o.events[1].payload)
	}
	// The limit applies inflated.
	lim := &Limits{MaxMessage: len(text) - 1}
	assert.Equal(t, uint16(CloseTooBig), feed(lim, packedFrame(OpText, text), 0).code)
	// Invalid UTF-8 once inflated; not DEFLATE.
	assert.Equal(t, uint16(CloseInvalidPayload), feed(nil, packedFrame(OpText, "a\xffb"), 0).code)
	bad := AppendClientFrame(nil, true, OpBinary, []byte{0xff, 0xff}, testMask)
	bad[0] |= 0x40
	assert.Equal(t, uint16(CloseInvalidPayload), feed(nil, bad, 0).code)
	// RSV1 on a continuation or a control frame.
	cont := append(packedFrame(OpText, "x")[:0:0], cf(false, OpText, "a")...)
	c2 := cf(true, OpContinuation, "b")
	c2[0] |= 0x40
	assert.Equal(t, uint16(CloseProtocolError), feed(nil, append(cont, c2...), 0).code)
	ping := cf(true, OpPing, "p")
	ping[0] |= 0x40
	assert.Equal(t, uint16(CloseProtocolError), feed(nil, ping, 0).code)
}

// FuzzParserDeflate is FuzzParser on a parser that negotiated
// permessage-deflate: any input, compressed messages included, gives the
// same outcome however it is split, and never a message over the limit.
func FuzzParserDeflate(f *testing.F) {
	f.Add(append([]byte{3}, packedFrame(OpText, strings.Repeat("hello ", 30))...))
	f.Add(append([]byte{9}, packedFrame(OpBinary, string(make([]byte, 1000)))...))
	f.Add(append([]byte{1}, cat(cf(false, OpText, "Hel"), cf(true, OpPing, "p"), cf(true, OpContinuation, "lo"))...))
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
			whole := feedChunksDeflate(lim, true, in)
			checkOutcome(t, lim, whole)
			if split := feedChunksDeflate(lim, true, in, cut); split.String() != whole.String() {
				t.Fatalf("split at %d:\n got %v\nwant %v", cut, split, whole)
			}
		}
	})
}
