package wsproto

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendHeader(t *testing.T) {
	tests := []struct {
		op   Opcode
		n    int
		want []byte
	}{
		{OpText, 0, []byte{0x81, 0}},
		{OpBinary, 125, []byte{0x82, 125}},
		{OpBinary, 126, []byte{0x82, 126, 0, 126}},
		{OpPing, 65535, []byte{0x89, 126, 0xff, 0xff}},
		{OpText, 65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{OpClose, -5, []byte{0x88, 0}},
	}
	for _, tc := range tests {
		got := AppendHeader([]byte("x"), tc.op, tc.n)
		assert.Equal(t, append([]byte("x"), tc.want...), got, "n=%d", tc.n)
		assert.Equal(t, len(tc.want), HeaderLen(tc.n), "n=%d", tc.n)
	}
	assert.Equal(t, []byte{0x8A, 2, 'h', 'i'}, AppendFrame(nil, OpPong, []byte("hi")))
}

func TestAppendClientFrameRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 125, 126, 65535, 65536} {
		payload := []byte(strings.Repeat("q", n))
		f := AppendClientFrame(nil, true, OpBinary, payload, [4]byte{1, 2, 3, 4})
		assert.Equal(t, strings.Repeat("q", n), string(payload), "payload untouched")
		assert.Equal(t, HeaderLen(n)+4+n, len(f))
		got := feedChunks(nil, f)
		require.Equal(t, ok(msg(OpBinary, string(payload))).String(), got.String())
	}
	f := AppendClientFrame(nil, false, OpText, []byte("ab"), [4]byte{})
	assert.Equal(t, []byte{0x01, 0x82, 0, 0, 0, 0, 'a', 'b'}, f)
}

func TestMaskRotation(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	data := []byte(strings.Repeat("0123456789", 5))
	want := append([]byte(nil), data...)
	maskBytes(want, key)
	for cut := 0; cut <= len(data); cut++ {
		got := append([]byte(nil), data...)
		k := maskBytes(got[:cut], key)
		maskBytes(got[cut:], k)
		require.Equal(t, want, got, "cut %d", cut)
	}
}

func TestAppendClose(t *testing.T) {
	f := AppendClose(nil, CloseTooBig, "too big")
	assert.Equal(t, append([]byte{0x88, 9, 0x03, 0xF1}, "too big"...), f)
	code, reason := ParseClose(f[2:])
	assert.Equal(t, uint16(1009), code)
	assert.Equal(t, "too big", reason)

	// Empty payload for "no status".
	assert.Equal(t, []byte{0x88, 0}, AppendClose(nil, 1005, "ignored"))
	assert.Equal(t, []byte{0x88, 0}, AppendClose(nil, 0, ""))
	code, reason = ParseClose(nil)
	assert.Equal(t, uint16(1005), code)
	assert.Equal(t, "", reason)

	// Truncated at a code point boundary to fit 125 bytes.
	long := strings.Repeat("€", 50) // 150 bytes
	f = AppendClose(nil, CloseNormal, long)
	require.LessOrEqual(t, len(f), 2+125)
	_, reason = ParseClose(f[2:])
	assert.True(t, utf8.ValidString(reason))
	assert.Equal(t, strings.Repeat("€", 41), reason) // 123 bytes
	f = AppendClose(nil, CloseNormal, "x"+long)
	_, reason = ParseClose(f[2:])
	assert.Equal(t, "x"+strings.Repeat("€", 40), reason) // 121 bytes

	// Invalid UTF-8 is repaired, so the peer never sees an invalid reason.
	f = AppendClose(nil, CloseNormal, "a\xffb")
	_, reason = ParseClose(f[2:])
	assert.Equal(t, "a\uFFFDb", reason)

	// Every close frame written parses back (through a masked copy).
	for _, r := range []string{"", "bye", long, strings.Repeat("a", 200)} {
		f := AppendClose(nil, CloseGoingAway, r)
		pl := f[HeaderLen(len(f)-2):]
		got := feedChunks(nil, cf(true, OpClose, string(pl)))
		require.Equal(t, ok(ctl(OpClose, string(pl))).String(), got.String())
	}
}

func TestOpcodeString(t *testing.T) {
	assert.Equal(t, "text", OpText.String())
	assert.Equal(t, "Opcode(3)", Opcode(3).String())
	assert.True(t, OpPing.IsControl())
	assert.False(t, OpBinary.IsControl())
	assert.Equal(t, "wsproto: close 1009: message too big", (&CloseError{Code: 1009, Reason: "message too big"}).Error())
}
