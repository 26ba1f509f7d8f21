package frame

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestByName(t *testing.T) {
	c, ok := ByName("roomloop.json")
	require.True(t, ok)
	assert.Equal(t, JSON, c)
	assert.Equal(t, "roomloop.json", c.Name())
	assert.False(t, c.Binary())
	assert.Equal(t, 0, c.ID())

	c, ok = ByName("roomloop.bin")
	require.True(t, ok)
	assert.Equal(t, Binary, c)
	assert.Equal(t, "roomloop.bin", c.Name())
	assert.True(t, c.Binary())
	assert.Equal(t, 1, c.ID())

	for _, name := range []string{"", "json", "ROOMLOOP.JSON", "roomloop.bin "} {
		c, ok := ByName(name)
		assert.False(t, ok, name)
		assert.Nil(t, c)
	}
}

func TestIsControl(t *testing.T) {
	assert.True(t, (&Frame{Event: "$join"}).IsControl())
	assert.True(t, (&Frame{Event: "$"}).IsControl())
	assert.False(t, (&Frame{Event: "chat$"}).IsControl())
	assert.False(t, (&Frame{}).IsControl())
}

// TestCrossCodecPayloads checks the rules for a payload crossing from one
// codec to the other (docs/protocol.md, "Between codecs").
func TestCrossCodecPayloads(t *testing.T) {
	tests := []struct {
		name     string
		kind     PayloadKind
		payload  []byte
		wantJSON string // the JSON message with seq 1
		wantBin  []byte // the payload part of the binary message
	}{
		{"bytes that are JSON embed as-is", BytesPayload, []byte(`{"a":[1,"x"]}`),
			`{"seq":1,"event":"e","payload":{"a":[1,"x"]}}`, []byte(`{"a":[1,"x"]}`)},
		{"bytes that are a JSON string embed as-is", BytesPayload, []byte(`"hi"`),
			`{"seq":1,"event":"e","payload":"hi"}`, []byte(`"hi"`)},
		{"bytes that are not JSON go to bin", BytesPayload, []byte("hi"),
			`{"seq":1,"event":"e","bin":"aGk="}`, []byte("hi")},
		{"bytes with invalid UTF-8 go to bin", BytesPayload, []byte("\"\xff\""),
			`{"seq":1,"event":"e","bin":"Iv8i"}`, []byte("\"\xff\"")},
		{"binary bytes go to bin", BytesPayload, []byte{0, 1, 2, 3, 0xfe},
			`{"seq":1,"event":"e","bin":"AAECA/4="}`, []byte{0, 1, 2, 3, 0xfe}},
		{"empty bytes give neither member", BytesPayload, []byte{},
			`{"seq":1,"event":"e"}`, nil},
		{"no payload gives neither member", NoPayload, nil,
			`{"seq":1,"event":"e"}`, nil},
		{"JSON payload is its text in binary", JSONPayload, []byte(`{"text":"hi"}`),
			`{"seq":1,"event":"e","payload":{"text":"hi"}}`, []byte(`{"text":"hi"}`)},
		{"null stays null", JSONPayload, []byte(`null`),
			`{"seq":1,"event":"e","payload":null}`, []byte(`null`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Frame{Event: "e", Kind: tt.kind, Payload: tt.payload}
			got := JSON.AppendMessage(nil, 1, JSON.AppendBody(nil, &f))
			assert.Equal(t, tt.wantJSON, string(got))
			bin := Binary.AppendMessage(nil, 1, Binary.AppendBody(nil, &f))
			prefix := binMsg(1, "e", "", "", "", "", nil)
			require.Equal(t, prefix, bin[:len(prefix)])
			assert.Equal(t, string(tt.wantBin), string(bin[len(prefix):]))
		})
	}
}

// TestCrossCodecForwarding decodes a client frame with one codec and checks
// what a recipient on each codec gets.
func TestCrossCodecForwarding(t *testing.T) {
	// A JSON client's payload reaches a binary client as its text.
	in, err := JSON.Decode([]byte(`{"event":"chat","room":"r","id":"c1","payload":{"t":"hi"}}`), DefaultLimits())
	require.NoError(t, err)
	out := Frame{Event: in.Event, Room: in.Room, From: "s-1", Kind: in.Kind, Payload: in.Payload}
	got, err := Binary.Decode(Binary.AppendMessage(nil, 5, Binary.AppendBody(nil, &out)), DefaultLimits())
	require.NoError(t, err)
	assert.Equal(t, Frame{Event: "chat", Room: "r", Kind: BytesPayload, Payload: []byte(`{"t":"hi"}`)}, got)

	// A JSON client's bin reaches a JSON client as bin, or as payload when
	// the bytes are JSON.
	in, err = JSON.Decode([]byte(`{"event":"e","bin":"AP8="}`), DefaultLimits())
	require.NoError(t, err)
	assert.Equal(t, `{"seq":2,"event":"e","bin":"AP8="}`, string(JSON.AppendMessage(nil, 2, JSON.AppendBody(nil, &in))))
	in, err = JSON.Decode([]byte(`{"event":"e","bin":"WzFd"}`), DefaultLimits())
	require.NoError(t, err)
	assert.Equal(t, `{"seq":2,"event":"e","payload":[1]}`, string(JSON.AppendMessage(nil, 2, JSON.AppendBody(nil, &in))))

	// A binary client's bytes reach a JSON client.
	in, err = Binary.Decode(binMsg(0, "e", "r", "", "", "", []byte{1, 2}), DefaultLimits())
	require.NoError(t, err)
	got, err = JSON.Decode(JSON.AppendMessage(nil, 3, JSON.AppendBody(nil, &in)), DefaultLimits())
	require.NoError(t, err)
	assert.Equal(t, in, got)
}
