package frame

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inputHash derives deterministic pseudo-random choices from a fuzz input.
func inputHash(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// checkDeterministic decodes msg, and a copy of it assembled from two halves
// split at an index derived from msg, and checks both give the same result.
// It then overwrites the copy to check that the frame does not alias it.
func checkDeterministic(t *testing.T, c Codec, msg []byte) (Frame, error) {
	f, err := c.Decode(msg, DefaultLimits())
	cut := 0
	if len(msg) > 0 {
		cut = int(inputHash(msg) % uint64(len(msg)+1))
	}
	joined := append(append(make([]byte, 0, len(msg)), msg[:cut]...), msg[cut:]...)
	f2, err2 := c.Decode(joined, DefaultLimits())
	for i := range joined {
		joined[i] ^= 0xa5
	}
	require.Equal(t, f, f2)
	require.Equal(t, err, err2)
	if err != nil {
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		require.Equal(t, Frame{}, f)
		return f, err
	}
	require.Nil(t, checkField("event", []byte(f.Event), 64))
	require.NotEmpty(t, f.Event)
	require.False(t, f.Room != "" && f.To != "")
	require.Zero(t, f.Seq)
	require.Empty(t, f.From)
	require.Equal(t, f.Kind == NoPayload, len(f.Payload) == 0)
	return f, nil
}

// trimJSONSpace trims JSON whitespace from both ends of b.
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

func FuzzDecodeJSON(f *testing.F) {
	// More seeds are committed in testdata/fuzz/FuzzDecodeJSON.
	for _, s := range []string{
		`{"event":"chat","room":"lobby","id":"c-17","payload":{"text":"hi"}}`,
		`{"event":"e","bin":"AAEC/w=="}`,
		`{"event":"e","room":"r","to":"t"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := checkDeterministic(t, JSON, msg)
		if err != nil {
			return
		}
		// Whatever we accept is valid JSON, and encoding/json agrees on
		// the members we read.
		require.True(t, json.Valid(msg))
		require.True(t, utf8.Valid(msg))
		var members map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(msg, &members))
		for name, want := range map[string]string{"event": fr.Event, "room": fr.Room, "to": fr.To, "id": fr.ID} {
			var got string
			if raw, ok := members[name]; ok {
				require.NoError(t, json.Unmarshal(raw, &got))
			}
			require.Equal(t, want, got, name)
		}
		if fr.Kind == JSONPayload {
			require.True(t, isJSONText(fr.Payload))
			require.Equal(t, string(trimJSONSpace(members["payload"])), string(fr.Payload))
		}

		// Re-encoding gives an equal frame. Bytes that are JSON text come
		// back as that JSON value.
		seq := inputHash(msg) % 3
		out := JSON.AppendMessage(nil, seq, JSON.AppendBody(nil, &fr))
		require.True(t, json.Valid(out), "%q", out)
		want := fr
		if fr.Kind == BytesPayload && isJSONText(fr.Payload) {
			want.Kind, want.Payload = JSONPayload, trimJSONSpace(fr.Payload)
			s := scanner{b: want.Payload}
			if err := s.value(); err != nil && err.tooDeep {
				return // deeper than Decode accepts
			}
		}
		back, err := JSON.Decode(out, DefaultLimits())
		require.NoError(t, err, "%q", out)
		assert.Equal(t, want, back)
	})
}

func FuzzDecodeBinary(f *testing.F) {
	// More seeds are committed in testdata/fuzz/FuzzDecodeBinary.
	f.Add(binMsg(0, "chat", "lobby", "", "", "c-1", []byte(`{"text":"hi"}`)))
	f.Add(binMsg(0, "e", "", "s-1", "", "", []byte{0, 0xff}))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := checkDeterministic(t, Binary, msg)
		if err != nil {
			return
		}
		require.Equal(t, fr.Kind == BytesPayload, len(fr.Payload) > 0)

		seq := inputHash(msg)
		out := Binary.AppendMessage(nil, seq, Binary.AppendBody(nil, &fr))
		require.Len(t, out, Binary.MessageLen(seq, Binary.AppendBody(nil, &fr)))
		back, err := Binary.Decode(out, DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, fr, back)

		// The same frame sent to a JSON client is valid JSON that decodes
		// to the same fields.
		js := JSON.AppendMessage(nil, seq, JSON.AppendBody(nil, &fr))
		require.True(t, json.Valid(js), "%q", js)
		back, err = JSON.Decode(js, DefaultLimits())
		if err != nil {
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, "payload", de.Field, "%q: %v", js, err) // only nesting deeper than Decode accepts
			return
		}
		require.Equal(t, [4]string{fr.Event, fr.Room, fr.To, fr.ID}, [4]string{back.Event, back.Room, back.To, back.ID})
		if back.Kind == JSONPayload {
			require.Equal(t, string(trimJSONSpace(fr.Payload)), string(back.Payload))
		} else {
			require.Equal(t, fr.Payload, back.Payload)
		}
	})
}
