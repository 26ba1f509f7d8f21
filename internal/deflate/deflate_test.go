package deflate

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inflateStd decompresses a message the way RFC 7692 says a receiver
// does, with the standard library alone.
func inflateStd(t *testing.T, msg []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(msg), bytes.NewReader(tail)))
	out, err := io.ReadAll(r)
	if err != nil {
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	}
	return out
}

func TestCompressRoundTrip(t *testing.T) {
	body := []byte(strings.Repeat(`,"event":"chat","payload":{"text":"hello there"}`, 20))
	c := Compress(nil, body)
	assert.Less(t, len(c), len(body)/3)
	assert.False(t, bytes.HasSuffix(c, tail))
	assert.Equal(t, body, inflateStd(t, c))

	out, err := Inflate(nil, c, len(body))
	require.NoError(t, err)
	assert.Equal(t, body, out)

	_, err = Inflate(nil, c, len(body)-1)
	assert.ErrorIs(t, err, ErrTooBig)
}

func TestStoredPrefixThenSharedBody(t *testing.T) {
	body := []byte(strings.Repeat("abcdefgh", 100))
	shared := Compress(nil, body)
	for _, prefix := range []string{`{"seq":1`, `{"seq":123456789`, ""} {
		msg := append(AppendStored(nil, []byte(prefix)), shared...)
		assert.Equal(t, prefix+string(body), string(inflateStd(t, msg)))
		out, err := Inflate(nil, msg, 1<<20)
		require.NoError(t, err)
		assert.Equal(t, prefix+string(body), string(out))
	}
}

func TestInflateBombBounded(t *testing.T) {
	bomb := Compress(nil, make([]byte, 16<<20)) // 16 MiB of zeros: a few KiB
	require.Less(t, len(bomb), 64<<10)
	out, err := Inflate(make([]byte, 0, 16), bomb, 64<<10)
	assert.ErrorIs(t, err, ErrTooBig)
	assert.LessOrEqual(t, cap(out), 64<<10+1)
}

func TestInflateCorrupt(t *testing.T) {
	_, err := Inflate(nil, []byte{0xff, 0xff, 0xff, 0xff}, 1024)
	assert.ErrorIs(t, err, ErrCorrupt)
}

func TestInflateEmpty(t *testing.T) {
	c := Compress(nil, nil)
	out, err := Inflate(nil, c, 10)
	require.NoError(t, err)
	assert.Empty(t, out)
	out, err = Inflate(nil, []byte{0x00}, 10) // what browsers send for ""
	require.NoError(t, err)
	assert.Empty(t, out)
}
