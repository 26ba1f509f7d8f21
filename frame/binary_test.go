package frame

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binMsg builds a roomloop.bin message from its parts.
func binMsg(seq uint64, event, room, to, from, id string, payload []byte) []byte {
	b := []byte{binaryVersion}
	b = binary.AppendUvarint(b, seq)
	for _, s := range []string{event, room, to, from, id} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, payload...)
}

func TestBinaryLayout(t *testing.T) {
	f := Frame{Event: "chat", Room: "lobby", From: "s-9", Kind: BytesPayload, Payload: []byte{0xde, 0xad}}
	body := Binary.AppendBody(nil, &f)
	assert.Equal(t, []byte("\x04chat\x05lobby\x00\x03s-9\x00\xde\xad"), body)
	assert.Equal(t, append([]byte{0x01, 0xac, 0x02}, body...), Binary.AppendMessage(nil, 300, body))
	assert.Equal(t, append([]byte{0x01, 0x00}, body...), Binary.AppendMessage(nil, 0, body))
	assert.Equal(t, binMsg(300, "chat", "lobby", "", "s-9", "", []byte{0xde, 0xad}), Binary.AppendMessage(nil, 300, body))
}

func TestBinaryDecodeValid(t *testing.T) {
	tests := []struct {
		name string
		msg  []byte
		want Frame
	}{
		{"event only", binMsg(0, "a", "", "", "", "", nil), Frame{Event: "a"}},
		{"all fields", binMsg(0, "chat", "lobby", "", "", "c-1", []byte("hi")),
			Frame{Event: "chat", Room: "lobby", ID: "c-1", Kind: BytesPayload, Payload: []byte("hi")}},
		{"seq and from are ignored", binMsg(77, "dm", "", "s-2", "forged", "", []byte{0}),
			Frame{Event: "dm", To: "s-2", Kind: BytesPayload, Payload: []byte{0}}},
		{"JSON text payload is bytes", binMsg(0, "a", "", "", "", "", []byte(`{"x":1}`)),
			Frame{Event: "a", Kind: BytesPayload, Payload: []byte(`{"x":1}`)}},
		{"fields at their limits", binMsg(0, strings.Repeat("e", 64), strings.Repeat("r", 128), "", "", strings.Repeat("i", 64), nil),
			Frame{Event: strings.Repeat("e", 64), Room: strings.Repeat("r", 128), ID: strings.Repeat("i", 64)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Binary.Decode(tt.msg, DefaultLimits())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestBinaryDecodeRejects(t *testing.T) {
	ff := func(n int) string { return strings.Repeat("\xff", n) }
	tests := []struct {
		name  string
		msg   []byte
		field string
	}{
		{"empty message", nil, ""},
		{"version 0", []byte("\x00\x00\x01a\x00\x00\x00\x00"), ""},
		{"version 2", []byte("\x02\x00\x01a\x00\x00\x00\x00"), ""},
		{"only version", []byte("\x01"), ""},
		{"truncated seq", []byte("\x01\x80"), ""},
		{"overflowing seq", []byte("\x01" + ff(10) + "\x01"), ""},
		{"missing fields", []byte("\x01\x00"), ""},
		{"event past end", []byte("\x01\x00\x05ab"), ""},
		{"room past end", []byte("\x01\x00\x01a\x02r"), ""},
		{"missing id length", []byte("\x01\x00\x01a\x00\x00\x00"), ""},
		{"truncated id length", []byte("\x01\x00\x01a\x00\x00\x00\x80"), ""},
		{"overflowing length", []byte("\x01\x00" + ff(10) + "\x01"), ""},
		{"2^63-1 length", []byte("\x01\x00" + ff(8) + "\x7f"), ""},
		{"huge room length", []byte("\x01\x00\x01a" + ff(9) + "\x01"), ""},
		{"empty event", binMsg(0, "", "r", "", "", "", nil), "event"},
		{"event over limit", binMsg(0, strings.Repeat("e", 65), "", "", "", "", nil), "event"},
		{"room over limit", binMsg(0, "a", strings.Repeat("r", 129), "", "", "", nil), "room"},
		{"to over limit", binMsg(0, "a", "", strings.Repeat("t", 65), "", "", nil), "to"},
		{"id over limit", binMsg(0, "a", "", "", "", strings.Repeat("i", 65), nil), "id"},
		{"room and to", binMsg(0, "a", "r", "t", "", "", nil), "to"},
		{"invalid UTF-8 event", binMsg(0, "\xff", "", "", "", "", nil), "event"},
		{"surrogate in room", binMsg(0, "a", "\xed\xa0\x80", "", "", "", nil), "room"},
		{"NUL in to", binMsg(0, "a", "", "\x00", "", "", nil), "to"},
		{"newline in id", binMsg(0, "a", "", "", "", "a\nb", nil), "id"},
		{"DEL in room", binMsg(0, "a", "\x7f", "", "", "", nil), "room"},
		{"C1 in event", binMsg(0, "a\u0080", "", "", "", "", nil), "event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Binary.Decode(tt.msg, DefaultLimits())
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tt.field, de.Field, "reason: %s", de.Reason)
			assert.NotEmpty(t, de.Reason)
			assert.Equal(t, Frame{}, f)
		})
	}
}

func TestBinaryDecodeEchoesValidIDAndRoom(t *testing.T) {
	_, err := Binary.Decode(binMsg(0, "", "r", "", "", "c1", nil), DefaultLimits())
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, DecodeError{Field: "event", Reason: "event is empty", ID: "c1", Room: "r"}, *de)

	_, err = Binary.Decode(binMsg(0, "a", "r\x00", "", "", "c1", nil), DefaultLimits())
	require.ErrorAs(t, err, &de)
	assert.Equal(t, "room", de.Field)
	assert.Equal(t, "c1", de.ID)
	assert.Empty(t, de.Room)

	_, err = Binary.Decode([]byte("\x01\x00\x01a\x01r\x00\x00\x03c1"), DefaultLimits())
	require.ErrorAs(t, err, &de)
	assert.Empty(t, de.Field)
	assert.Empty(t, de.ID, "a malformed message echoes nothing")
	assert.Empty(t, de.Room)
}

func TestBinaryHostileLengthsDoNotAllocate(t *testing.T) {
	msgs := [][]byte{
		[]byte("\x01\x00" + strings.Repeat("\xff", 8) + "\x7f"),
		[]byte("\x01\x00" + strings.Repeat("\xff", 10)),
		[]byte("\x01" + strings.Repeat("\xff", 10)),
	}
	for _, msg := range msgs {
		_, err := Binary.Decode(msg, DefaultLimits())
		require.Error(t, err)
		const runs = 1000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			_, _ = Binary.Decode(msg, DefaultLimits())
		}
		runtime.ReadMemStats(&after)
		perRun := (after.TotalAlloc - before.TotalAlloc) / runs
		assert.Less(t, perRun, uint64(512), "bytes allocated per decode of %q", msg)
	}
}

func TestBinaryDecodeDoesNotAlias(t *testing.T) {
	msg := binMsg(0, "chat", "lobby", "", "", "c-1", []byte("payload"))
	got, err := Binary.Decode(msg, DefaultLimits())
	require.NoError(t, err)
	for i := range msg {
		msg[i] = 'X'
	}
	assert.Equal(t, Frame{Event: "chat", Room: "lobby", ID: "c-1", Kind: BytesPayload, Payload: []byte("payload")}, got)
}

func TestBinaryMessageLen(t *testing.T) {
	for _, body := range [][]byte{nil, []byte("\x01a\x00\x00\x00\x00")} {
		for _, seq := range []uint64{0, 1, 127, 128, 16383, 16384, 1 << 56, ^uint64(0)} {
			assert.Len(t, Binary.AppendMessage(nil, seq, body), Binary.MessageLen(seq, body), "seq %d", seq)
		}
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	frames := []Frame{
		{Event: "chat", Room: "lobby", ID: "c-1", Kind: BytesPayload, Payload: []byte{0, 1, 2, 0xff}},
		{Event: "dm", To: "s-1", Kind: BytesPayload, Payload: []byte(`null`)},
		{Event: "$join", Room: strings.Repeat("é", 64)},
		{Event: "a"},
	}
	for _, f := range frames {
		body := Binary.AppendBody(nil, &f)
		for _, seq := range []uint64{0, 1, ^uint64(0)} {
			got, err := Binary.Decode(Binary.AppendMessage(nil, seq, body), DefaultLimits())
			require.NoError(t, err)
			assert.Equal(t, f, got)
		}
	}
}

func TestBinaryNoPayloadIgnoresPayloadBytes(t *testing.T) {
	body := Binary.AppendBody(nil, &Frame{Event: "a", Kind: NoPayload, Payload: []byte("stray")})
	assert.Equal(t, []byte("\x01a\x00\x00\x00\x00"), body)
}
