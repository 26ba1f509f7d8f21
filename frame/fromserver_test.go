package frame

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDecodeFromServerRoundTrip: what the server encodes, a client reads
// back with seq and from, in both codecs.
func TestDecodeFromServerRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{Event: "chat", Room: "lobby", From: "s-1", Kind: JSONPayload, Payload: []byte(`{"text":"héllo"}`)},
		{Event: "$ack", ID: "c7"},
		{Event: "dm", To: "s-2", From: "s-1", Kind: BytesPayload, Payload: []byte{0, 1, 0xff}},
	} {
		for _, c := range []Codec{JSON, Binary} {
			msg := c.AppendMessage(nil, 42, c.AppendBody(nil, &f))
			got, err := DecodeFromServer(c, msg)
			require.NoError(t, err, "%s %s", c.Name(), msg)
			want := f
			want.Seq = 42
			if c.Binary() && f.Kind == JSONPayload {
				want.Kind = BytesPayload // the binary codec carries JSON as its text
			}
			assert.Equal(t, want, got, c.Name())
		}
	}
}

func TestDecodeFromServerRefuses(t *testing.T) {
	for name, msg := range map[string][]byte{
		"not json":        []byte(`nope`),
		"array":           []byte(`[1]`),
		"seq negative":    []byte(`{"seq":-1,"event":"x"}`),
		"event a number":  []byte(`{"event":3}`),
		"no event":        []byte(`{"seq":1}`),
		"control char":    []byte(`{"event":"a\u0001"}`),
		"both payloads":   []byte(`{"event":"a","payload":1,"bin":"AA=="}`),
		"bad base64":      []byte(`{"event":"a","bin":"!!"}`),
		"invalid utf8":    {'{', '"', 'e', 'v', 'e', 'n', 't', '"', ':', '"', 0xff, '"', '}'},
		"truncated value": []byte(`{"event":"a","payload":`),
	} {
		_, err := DecodeFromServer(JSON, msg)
		var de *DecodeError
		assert.ErrorAs(t, err, &de, name)
	}
	for name, msg := range map[string][]byte{
		"empty":          {},
		"version":        {2, 0},
		"bad seq":        {1, 0x80},
		"field too long": {1, 1, 9, 'a'},
		"no event":       {1, 1, 0, 0, 0, 0, 0},
	} {
		_, err := DecodeFromServer(Binary, msg)
		var de *DecodeError
		assert.ErrorAs(t, err, &de, name)
	}
}
