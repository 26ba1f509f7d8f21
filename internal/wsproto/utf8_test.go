package wsproto

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// validInChunks runs the incremental validator over p cut at the given
// indexes and reports whether p is complete, valid UTF-8.
func validInChunks(p []byte, cuts ...int) bool {
	var s utf8State
	prev := 0
	for _, c := range append(cuts, len(p)) {
		var ok bool
		if s, ok = validUTF8(s, p[prev:c]); !ok {
			return false
		}
		prev = c
	}
	return s == 0
}

func TestValidUTF8Exhaustive(t *testing.T) {
	// Every string of one and two bytes, with every split.
	for a := range 256 {
		p := []byte{byte(a)}
		require.Equal(t, utf8.Valid(p), validInChunks(p), "% x", p)
		for b := range 256 {
			p := []byte{byte(a), byte(b)}
			want := utf8.Valid(p)
			require.Equal(t, want, validInChunks(p), "% x", p)
			require.Equal(t, want, validInChunks(p, 1), "% x split", p)
			// Prefix property: a failure on the first byte is final.
			if s, ok := validUTF8(0, p[:1]); !ok {
				require.False(t, want)
			} else if s == 0 {
				require.Equal(t, utf8.Valid(p[1:]), want)
			}
		}
	}
}

func TestValidUTF8Random(t *testing.T) {
	// Bytes around every boundary of the UTF-8 tables.
	alphabet := []byte{0x00, 'a', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf,
		0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := make([]byte, 1+rng.IntN(12))
		for i := range p {
			p[i] = alphabet[rng.IntN(len(alphabet))]
		}
		want := utf8.Valid(p)
		require.Equal(t, want, validInChunks(p), "% x", p)
		for i := 0; i <= len(p); i++ {
			require.Equal(t, want, validInChunks(p, i), "% x split at %d", p, i)
		}
		cuts := make([]int, len(p))
		for i := range cuts {
			cuts[i] = i
		}
		require.Equal(t, want, validInChunks(p, cuts...), "% x byte by byte", p)
	}
	// Valid text of all sizes stays valid, however cut.
	text := []byte("aé€😀\U0010FFFF\u07ff\uffff\U00010000")
	for i := 0; i <= len(text); i++ {
		for j := i; j <= len(text); j++ {
			require.True(t, validInChunks(text, i, j))
		}
	}
}
