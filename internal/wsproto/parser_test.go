package wsproto

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkAllSplits feeds in whole, one byte at a time, and (for short
// inputs) split at every index, and requires want each time.
func checkAllSplits(t *testing.T, lim *Limits, in []byte, want outcome) {
	t.Helper()
	require.Equal(t, want.String(), feedChunks(lim, in).String(), "whole")
	require.Equal(t, want.String(), feedBytes(lim, in).String(), "byte by byte")
	if len(in) <= 512 {
		for i := 0; i <= len(in); i++ {
			require.Equal(t, want.String(), feedChunks(lim, in, i).String(), "split at %d", i)
		}
	}
}

func msg(op Opcode, p string) event { return event{op: op, payload: p} }
func ctl(op Opcode, p string) event { return event{control: true, op: op, payload: p} }
func ok(events ...event) outcome    { return outcome{events: events} }
func fails(code uint16, reason string, events ...event) outcome {
	return outcome{events: events, code: code, reason: reason}
}

func TestParserStrictness(t *testing.T) {
	const (
		rsv      = "reserved bits set"
		reserved = "reserved opcode"
		unmask   = "unmasked client frame"
		fragCtl  = "fragmented control frame"
		bigCtl   = "control frame payload over 125 bytes"
		orphan   = "continuation frame without a message"
		nested   = "data frame inside a fragmented message"
		badText  = "invalid UTF-8 in text message"
		tooBig   = "message too big"
		tooMany  = "too many frames in message"
	)
	small := &Limits{MaxMessage: 10, MaxFrames: 3}
	tests := []struct {
		name string
		lim  *Limits
		in   []byte
		want outcome
	}{
		{"unmasked text", nil, unmasked(0x81, "hi"), fails(1002, unmask)},
		{"unmasked ping", nil, unmasked(0x89, ""), fails(1002, unmask)},
		{"unmasked after valid", nil, cat(cf(true, OpText, "a"), unmasked(0x82, "b")), fails(1002, unmask, msg(OpText, "a"))},
		{"rsv1", nil, raw(0x81|0x40, "hi"), fails(1002, rsv)},
		{"rsv2", nil, raw(0x81|0x20, "hi"), fails(1002, rsv)},
		{"rsv3", nil, raw(0x81|0x10, "hi"), fails(1002, rsv)},
		{"rsv on ping", nil, raw(0x89|0x40, ""), fails(1002, rsv)},
		{"rsv on continuation", nil, cat(cf(false, OpText, "a"), raw(0x80|0x10, "b")), fails(1002, rsv)},
		{"opcode 3", nil, raw(0x83, ""), fails(1002, reserved)},
		{"opcode 4", nil, raw(0x84, "x"), fails(1002, reserved)},
		{"opcode 5", nil, raw(0x85, ""), fails(1002, reserved)},
		{"opcode 6", nil, raw(0x86, ""), fails(1002, reserved)},
		{"opcode 7", nil, raw(0x87, ""), fails(1002, reserved)},
		{"opcode B", nil, raw(0x8B, ""), fails(1002, reserved)},
		{"opcode C", nil, raw(0x8C, ""), fails(1002, reserved)},
		{"opcode D", nil, raw(0x8D, ""), fails(1002, reserved)},
		{"opcode E", nil, raw(0x8E, ""), fails(1002, reserved)},
		{"opcode F", nil, raw(0x8F, "x"), fails(1002, reserved)},
		{"opcode 3 non-fin mid message", nil, cat(cf(false, OpBinary, "a"), raw(0x03, "")), fails(1002, reserved)},
		{"fragmented ping", nil, cf(false, OpPing, "x"), fails(1002, fragCtl)},
		{"fragmented pong", nil, cf(false, OpPong, ""), fails(1002, fragCtl)},
		{"fragmented close", nil, cf(false, OpClose, ""), fails(1002, fragCtl)},
		{"ping 126", nil, cf(true, OpPing, strings.Repeat("p", 126)), fails(1002, bigCtl)},
		{"close 126", nil, cf(true, OpClose, closePayload(1000, strings.Repeat("r", 124))), fails(1002, bigCtl)},
		{"pong 64-bit length", nil, hdr64(0x8A, 5), fails(1002, bigCtl)},
		{"ping 16-bit length 5", nil, cat(hdr16(0x89, 5), maskedPayload("hello")), fails(1002, bigCtl)},
		{"ping 125", nil, cf(true, OpPing, strings.Repeat("p", 125)), ok(ctl(OpPing, strings.Repeat("p", 125)))},
		{"orphan continuation", nil, cf(true, OpContinuation, "x"), fails(1002, orphan)},
		{"orphan empty continuation", nil, cf(false, OpContinuation, ""), fails(1002, orphan)},
		{"continuation after complete message", nil, cat(cf(true, OpText, "a"), cf(true, OpContinuation, "b")), fails(1002, orphan, msg(OpText, "a"))},
		{"text inside message", nil, cat(cf(false, OpText, "a"), cf(true, OpText, "b")), fails(1002, nested)},
		{"binary inside message", nil, cat(cf(false, OpText, "a"), cf(true, OpBinary, "b")), fails(1002, nested)},
		{"binary inside binary", nil, cat(cf(false, OpBinary, "a"), cf(false, OpBinary, "b")), fails(1002, nested)},
		{"close 1 byte", nil, cf(true, OpClose, "\x03"), fails(1002, "close payload of 1 byte")},
		{"close bad code", nil, cf(true, OpClose, closePayload(1005, "")), fails(1002, "invalid close code")},
		{"close bad reason", nil, cf(true, OpClose, closePayload(1000, "a\xffb")), fails(1007, "invalid UTF-8 in close reason")},
		{"close truncated rune reason", nil, cf(true, OpClose, closePayload(1000, "\xe2\x82")), fails(1007, "invalid UTF-8 in close reason")},
		{"text invalid", nil, cf(true, OpText, "ok\xff"), fails(1007, badText)},
		{"text surrogate", nil, cf(true, OpText, "\xed\xa0\x80"), fails(1007, badText)},
		{"text overlong", nil, cf(true, OpText, "\xc0\xaf"), fails(1007, badText)},
		{"text above U+10FFFF", nil, cf(true, OpText, "\xf4\x90\x80\x80"), fails(1007, badText)},
		{"text truncated at end", nil, cf(true, OpText, "a\xe2\x82"), fails(1007, badText)},
		{"text truncated at end of fragments", nil, cat(cf(false, OpText, "a\xe2"), cf(true, OpContinuation, "\x82")), fails(1007, badText)},
		{"text invalid in first fragment", nil, cat(cf(false, OpText, "a\xff"), cf(true, OpContinuation, "b")), fails(1007, badText)},
		{"text invalid across fragments", nil, cat(cf(false, OpText, "a\xe2"), cf(true, OpContinuation, "b")), fails(1007, badText)},
		{"binary may be anything", nil, cf(true, OpBinary, "\xff\xfe"), ok(msg(OpBinary, "\xff\xfe"))},
		{"code point split across fragments", nil, cat(cf(false, OpText, "\xe2"), cf(false, OpContinuation, "\x82"), cf(true, OpContinuation, "\xac!")), ok(msg(OpText, "€!"))},
		{"4-byte code point split three ways", nil, cat(cf(false, OpText, "\xf0\x9f"), cf(false, OpContinuation, "\x98"), cf(true, OpContinuation, "\x80")), ok(msg(OpText, "😀"))},
		{"message over limit", small, cf(true, OpBinary, "12345678901"), fails(1009, tooBig)},
		{"message at limit", small, cf(true, OpBinary, "1234567890"), ok(msg(OpBinary, "1234567890"))},
		{"fragments over limit", small, cat(cf(false, OpBinary, "12345"), cf(true, OpContinuation, "678901")), fails(1009, tooBig)},
		{"fragments at limit", small, cat(cf(false, OpBinary, "12345"), cf(true, OpContinuation, "67890")), ok(msg(OpBinary, "1234567890"))},
		{"frames over limit", small, cat(cf(false, OpText, ""), cf(false, OpContinuation, ""), cf(false, OpContinuation, ""), cf(true, OpContinuation, "")), fails(1009, tooMany)},
		{"frames at limit", small, cat(cf(false, OpText, "a"), cf(false, OpContinuation, ""), cf(true, OpContinuation, "b")), ok(msg(OpText, "ab"))},
		{"64-bit 2^63-1", nil, hdr64(0x82, math.MaxInt64), fails(1009, tooBig)},
		{"64-bit 2^64-1", nil, hdr64(0x82, math.MaxUint64), fails(1009, tooBig)},
		{"64-bit top bit", nil, hdr64(0x81, 1<<63|5), fails(1009, tooBig)},
		{"64-bit length alone, no mask", nil, hdr64(0x82, math.MaxInt64)[:10], fails(1009, tooBig)},
		{"overflow mid message", nil, cat(cf(false, OpText, "abc"), hdr64(0x80, math.MaxInt64-1)), fails(1009, tooBig)},
		{"overflow mid message 2^64-1", nil, cat(cf(false, OpText, "abc"), hdr64(0x80, math.MaxUint64)), fails(1009, tooBig)},
		{"fragment with 16-bit length over limit", nil, cat(cf(false, OpBinary, "abc"), hdr16(0x80, 65534)), fails(1009, tooBig)},
		{"non-minimal 16-bit length", nil, cat(hdr16(0x81, 5), maskedPayload("hello")), ok(msg(OpText, "hello"))},
		{"non-minimal 64-bit length", nil, cat(hdr64(0x82, 3), maskedPayload("xyz")), ok(msg(OpBinary, "xyz"))},
		{"empty text", nil, cf(true, OpText, ""), ok(msg(OpText, ""))},
		{"empty binary", nil, cf(true, OpBinary, ""), ok(msg(OpBinary, ""))},
		{"empty fragments", nil, cat(cf(false, OpText, ""), cf(true, OpContinuation, "")), ok(msg(OpText, ""))},
		{"empty last fragment", nil, cat(cf(false, OpBinary, "ab"), cf(true, OpContinuation, "")), ok(msg(OpBinary, "ab"))},
		{"empty first fragment", nil, cat(cf(false, OpBinary, ""), cf(true, OpContinuation, "ab")), ok(msg(OpBinary, "ab"))},
		{"controls between fragments", nil,
			cat(cf(false, OpText, "Hel"), cf(true, OpPing, "p1"), cf(false, OpContinuation, "l"), cf(true, OpPong, ""), cf(true, OpPing, ""), cf(true, OpContinuation, "o")),
			ok(ctl(OpPing, "p1"), ctl(OpPong, ""), ctl(OpPing, ""), msg(OpText, "Hello"))},
		{"close between fragments", nil,
			cat(cf(false, OpText, "Hel"), cf(true, OpClose, closePayload(1001, "bye")), cf(true, OpContinuation, "lo")),
			ok(ctl(OpClose, closePayload(1001, "bye")))},
		{"empty close", nil, cf(true, OpClose, ""), ok(ctl(OpClose, ""))},
		{"data after close ignored", nil,
			cat(cf(true, OpClose, closePayload(1000, "")), cf(true, OpText, "late"), unmasked(0xFF, "garbage")),
			ok(ctl(OpClose, closePayload(1000, "")))},
		{"several messages", nil,
			cat(cf(true, OpText, "one"), cf(true, OpBinary, "two"), cf(true, OpPing, "3"), cf(true, OpText, "four")),
			ok(msg(OpText, "one"), msg(OpBinary, "two"), ctl(OpPing, "3"), msg(OpText, "four"))},
		{"first error wins", nil, raw(0x83|0x40, ""), fails(1002, rsv)},
		{"unmasked control over 125", nil, unmasked(0x89, strings.Repeat("x", 126)), fails(1002, unmask)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkAllSplits(t, tc.lim, tc.in, tc.want)
		})
	}
}

func TestParserCloseCodes(t *testing.T) {
	valid := []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}
	invalid := []uint16{0, 1, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
	for _, code := range valid {
		in := cf(true, OpClose, closePayload(code, "reason"))
		want := ok(ctl(OpClose, closePayload(code, "reason")))
		checkAllSplits(t, nil, in, want)
		gotCode, reason := ParseClose([]byte(closePayload(code, "reason")))
		assert.Equal(t, code, gotCode)
		assert.Equal(t, "reason", reason)
	}
	for _, code := range invalid {
		in := cf(true, OpClose, closePayload(code, ""))
		checkAllSplits(t, nil, in, fails(1002, "invalid close code"))
	}
	for code := 0; code <= math.MaxUint16; code++ {
		c := uint16(code)
		want := c >= 1000 && c <= 1003 || c >= 1007 && c <= 1011 || c >= 3000 && c <= 4999
		require.Equal(t, want, validCloseCode(c), "code %d", c)
	}
}

func TestParserMessageSizes(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 128, 65535, 65536} {
		for _, op := range []Opcode{OpText, OpBinary} {
			payload := strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
			in := cf(true, op, payload)
			want := ok(msg(op, payload))
			require.Equal(t, want.String(), feedChunks(nil, in).String(), "n=%d whole", n)
			require.Equal(t, want.String(), feedBytes(nil, in).String(), "n=%d bytes", n)
			for _, chop := range []int{2, 3, 7, 64, 1000, 4096} {
				var cuts []int
				for c := chop; c < len(in); c += chop {
					cuts = append(cuts, c)
				}
				require.Equal(t, want.String(), feedChunks(nil, in, cuts...).String(), "n=%d chop=%d", n, chop)
			}
			// The same payload in fragments of 1000 bytes.
			var frag []byte
			for i := 0; i == 0 || i < n; i += 1000 {
				end := min(i+1000, n)
				fop := OpContinuation
				if i == 0 {
					fop = op
				}
				frag = append(frag, cf(end == n, fop, payload[i:end])...)
			}
			require.Equal(t, want.String(), feedChunks(nil, frag).String(), "n=%d fragmented", n)
			require.Equal(t, want.String(), feedChunks(nil, frag, len(frag)/2).String(), "n=%d fragmented split", n)
		}
	}
	tooBig := fails(1009, "message too big")
	in := cf(true, OpBinary, strings.Repeat("x", 65537))
	require.Equal(t, tooBig.String(), feedChunks(nil, in).String())
	require.Equal(t, tooBig.String(), feedChunks(nil, in[:10]).String(), "from the header alone")
	frag := cat(cf(false, OpBinary, strings.Repeat("x", 65536)), cf(true, OpContinuation, "y"))
	require.Equal(t, tooBig.String(), feedChunks(nil, frag).String())
}

func TestParserZeroCopyAndRelease(t *testing.T) {
	in := cat(cf(true, OpBinary, strings.Repeat("z", 300)), cf(true, OpPing, "ping"))
	p := NewParser(nil)
	var inside []bool
	h := handlerFuncs{
		msg: func(op Opcode, pl []byte) { inside = append(inside, aliases(in, pl)) },
		ctl: func(op Opcode, pl []byte) { inside = append(inside, aliases(in, pl)) },
	}
	require.NoError(t, p.Feed(in, h))
	assert.Equal(t, []bool{true, true}, inside, "whole messages are delivered in place")
	assert.Equal(t, 0, p.Buffered())
	assert.False(t, p.Partial())

	// A message split across calls is buffered, then released.
	in = cf(true, OpText, strings.Repeat("a", 1000))
	require.NoError(t, p.Feed(in[:500], h))
	assert.True(t, p.Partial())
	assert.Equal(t, 492, p.Buffered())
	assert.LessOrEqual(t, cap(p.buf), 1000)
	require.NoError(t, p.Feed(in[500:], h))
	assert.False(t, p.Partial())
	assert.Equal(t, 0, p.Buffered())
	assert.Nil(t, p.buf)

	// A split header alone buffers nothing, but is partial.
	require.NoError(t, p.Feed(in[:3], h))
	assert.True(t, p.Partial())
	assert.Equal(t, 0, p.Buffered())
	require.NoError(t, p.Feed(in[3:], h))
	assert.False(t, p.Partial())

	// An open message is partial between frames.
	require.NoError(t, p.Feed(cf(false, OpText, ""), h))
	assert.True(t, p.Partial())
	require.NoError(t, p.Feed(cf(true, OpContinuation, ""), h))
	assert.False(t, p.Partial())
}

func TestParserSize(t *testing.T) {
	t.Logf("sizeof(Parser) = %d", unsafe.Sizeof(Parser{}))
	assert.LessOrEqual(t, unsafe.Sizeof(Parser{}), uintptr(64))
}

func TestParserPingBetweenFragments(t *testing.T) {
	p := NewParser(nil)
	var r recorder
	require.NoError(t, p.Feed(cf(false, OpText, "Hel"), &r))
	assert.Empty(t, r.events)
	require.NoError(t, p.Feed(cf(true, OpPing, "are you there"), &r))
	require.Equal(t, []event{ctl(OpPing, "are you there")}, r.events, "delivered immediately")
	assert.Equal(t, 3, p.Buffered())
	ping := cf(true, OpPing, "again")
	require.NoError(t, p.Feed(ping[:4], &r))
	assert.Equal(t, 3, p.Buffered(), "a partial ping header buffers nothing")
	require.NoError(t, p.Feed(ping[4:9], &r))
	assert.Equal(t, 6, p.Buffered(), "a partial ping payload goes after the message")
	require.NoError(t, p.Feed(ping[9:], &r))
	assert.Equal(t, 3, p.Buffered())
	require.NoError(t, p.Feed(cf(true, OpContinuation, "lo"), &r))
	require.Equal(t, []event{ctl(OpPing, "are you there"), ctl(OpPing, "again"), msg(OpText, "Hello")}, r.events)
	assert.Nil(t, p.buf)
}

func TestParserFrameFlood(t *testing.T) {
	// 70,000 one-byte continuations: 1009 at frame 4097, buffering no more
	// than the 4096 bytes received.
	p := NewParser(nil)
	var r recorder
	require.NoError(t, p.Feed(cf(false, OpBinary, "x"), &r))
	frame := cf(false, OpContinuation, "x")
	var err error
	i := 1
	for ; i < 70000 && err == nil; i++ {
		err = p.Feed(append([]byte(nil), frame...), &r)
		require.LessOrEqual(t, cap(p.buf), 8192)
	}
	require.Error(t, err)
	assert.Equal(t, uint16(CloseTooBig), err.(*CloseError).Code)
	assert.Equal(t, 4097, i, "fails on frame 4097")
	assert.Empty(t, r.events)
	assert.Nil(t, p.buf, "released on error")

	// Empty continuations hit the same limit without buffering anything.
	p = NewParser(nil)
	flood := cf(false, OpBinary, "")
	for range 70000 {
		flood = append(flood, cf(false, OpContinuation, "")...)
	}
	err = p.Feed(flood, &r)
	require.Error(t, err)
	assert.Equal(t, uint16(CloseTooBig), err.(*CloseError).Code)
	// Feeding again after an error keeps failing with the same code.
	err = p.Feed(cf(true, OpText, "x"), &r)
	require.Error(t, err)
	assert.Equal(t, uint16(CloseTooBig), err.(*CloseError).Code)
}

func TestParserHugeLengths(t *testing.T) {
	for _, n := range []uint64{math.MaxInt64, math.MaxUint64, 1 << 63, 65537, 1 << 32} {
		p := NewParser(nil)
		var r recorder
		h := hdr64(0x82, n)
		// Fed one byte at a time, it fails on the last length byte.
		var err error
		at := -1
		for i := range h {
			if err = p.Feed(h[i:i+1], &r); err != nil {
				at = i
				break
			}
		}
		require.Error(t, err, "n=%d", n)
		assert.Equal(t, uint16(CloseTooBig), err.(*CloseError).Code)
		assert.Equal(t, 9, at, "fails as soon as the length is read")
		assert.Equal(t, 0, p.Buffered())
	}
	// "abc" then a continuation declaring 2^63-2 bytes (the nbio panic).
	p := NewParser(nil)
	var r recorder
	require.NoError(t, p.Feed(cf(false, OpText, "abc"), &r))
	err := p.Feed(hdr64(0x80, math.MaxInt64-1), &r)
	require.Error(t, err)
	assert.Equal(t, uint16(CloseTooBig), err.(*CloseError).Code)
}

func TestParserUTF8FailsFast(t *testing.T) {
	// The first fragment is invalid: Feed fails before any continuation.
	p := NewParser(nil)
	var r recorder
	err := p.Feed(cf(false, OpText, "ok \xc3\x28 more"), &r)
	require.Error(t, err)
	assert.Equal(t, uint16(CloseInvalidPayload), err.(*CloseError).Code)

	// Inside one frame, before the frame completes.
	p = NewParser(nil)
	in := cf(true, OpText, "abc\xff"+strings.Repeat("x", 1000))
	err = p.Feed(in[:12], &r)
	require.Error(t, err)
	assert.Equal(t, uint16(CloseInvalidPayload), err.(*CloseError).Code)

	// A valid prefix ending inside a code point is not an error yet.
	p = NewParser(nil)
	in = cf(true, OpText, "abc\xe2\x82\xac")
	require.NoError(t, p.Feed(in[:10], &r))
	require.NoError(t, p.Feed(in[10:], &r))
	assert.Equal(t, []event{msg(OpText, "abc€")}, r.events)
}

func TestParserLimitsDefaults(t *testing.T) {
	assert.Equal(t, Limits{MaxMessage: 65536, MaxFrames: 4096}, DefaultLimits())
	var zero Parser
	assert.Equal(t, 65536, zero.maxMessage())
	assert.Equal(t, 4096, zero.maxFrames())
	p := NewParser(&Limits{MaxMessage: -1})
	assert.Equal(t, 65536, p.maxMessage())
	lim := &Limits{MaxMessage: 100, MaxFrames: 2}
	p = NewParser(lim)
	assert.Equal(t, 100, p.maxMessage())
	assert.Equal(t, 2, p.maxFrames())
}

func TestParserAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	tmpl := cat(cf(true, OpText, "hello, world"), cf(true, OpPing, "p"), cf(true, OpBinary, strings.Repeat("b", 300)))
	buf := make([]byte, len(tmpl))
	p := NewParser(nil)
	var h nopHandler
	allocs := testing.AllocsPerRun(100, func() {
		copy(buf, tmpl)
		if err := p.Feed(buf, h); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// handlerFuncs adapts functions to Handler.
type handlerFuncs struct {
	msg func(Opcode, []byte)
	ctl func(Opcode, []byte)
}

func (h handlerFuncs) OnMessage(op Opcode, p []byte) { h.msg(op, p) }
func (h handlerFuncs) OnControl(op Opcode, p []byte) { h.ctl(op, p) }

// nopHandler discards everything.
type nopHandler struct{}

func (nopHandler) OnMessage(Opcode, []byte) {}
func (nopHandler) OnControl(Opcode, []byte) {}

// aliases reports whether p lies inside buf.
func aliases(buf, p []byte) bool {
	if len(p) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	q := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	return q >= start && q+uintptr(len(p)) <= start+uintptr(len(buf)) && bytes.Equal(p, p)
}

// pauser pauses its parser after every message.
type pauser struct {
	recorder
	p *Parser
}

func (h *pauser) OnMessage(op Opcode, payload []byte) {
	h.recorder.OnMessage(op, payload)
	h.p.Pause()
}

func TestParserFeedSomePauses(t *testing.T) {
	var in []byte
	in = append(in, cf(true, OpText, "one")...)
	in = append(in, cf(true, OpPing, "p")...)
	in = append(in, cf(false, OpText, "tw")...)
	in = append(in, cf(true, OpContinuation, "o")...)
	in = append(in, cf(true, OpBinary, "three")...)
	p := NewParser(nil)
	h := &pauser{p: &p}
	rest := append([]byte(nil), in...)
	feeds := 0
	for len(rest) > 0 {
		n, err := p.FeedSome(rest, h)
		require.NoError(t, err)
		require.Positive(t, n)
		rest = rest[n:]
		feeds++
	}
	assert.Equal(t, 3, feeds, "one call per message")
	assert.Equal(t, ok(msg(OpText, "one"), ctl(OpPing, "p"), msg(OpText, "two"), msg(OpBinary, "three")).String(),
		outcome{events: h.events}.String())

	// Feed ignores Pause.
	p = NewParser(nil)
	h = &pauser{p: &p}
	require.NoError(t, p.Feed(append([]byte(nil), in...), h))
	assert.Len(t, h.events, 4)
}
