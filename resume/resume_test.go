package resume

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokens(t *testing.T) {
	a, b := NewToken("s-abc"), NewToken("s-abc")
	assert.NotEqual(t, a, b, "128 random bits each")
	id, ok := SessionOf(a)
	require.True(t, ok)
	assert.Equal(t, "s-abc", id)
	assert.True(t, Match(a, a))
	assert.False(t, Match(b, a))
	assert.False(t, Match(a[:len(a)-1], a))
	for _, bad := range []string{"", ".", "s-abc", "s-abc.short", "." + strings.Repeat("A", 22)} {
		_, ok := SessionOf(bad)
		assert.False(t, ok, bad)
	}
}

func TestParseRequest(t *testing.T) {
	_, ok := ParseRequest(url.Values{})
	assert.False(t, ok)
	r, ok := ParseRequest(url.Values{"resume": {"t"}, "last_seq": {"42"}})
	require.True(t, ok)
	assert.Equal(t, Request{Token: "t", LastSeq: 42}, r)
	for _, bad := range []string{"", "-1", "abc", "18446744073709551616", "1e3", " 1"} {
		r, _ := ParseRequest(url.Values{"resume": {"t"}, "last_seq": {bad}})
		assert.True(t, r.Invalid, bad)
	}
}

func TestDedupeWindow(t *testing.T) {
	var d Dedupe
	assert.Zero(t, d.Len())
	for i := range 10 {
		require.True(t, d.Reserve(fmt.Sprint(i), 4))
	}
	assert.Equal(t, 4, d.Len(), "bounded by the window")
	assert.False(t, d.Reserve("9", 4), "recent ids are duplicates")
	assert.True(t, d.Reserve("0", 4), "ids older than the window are forgotten")

	d.Release("9")
	assert.True(t, d.Reserve("9", 4), "a released id can be used again")
	// Releasing then reusing must not let a stale ring slot evict the new one.
	for i := range 3 {
		require.True(t, d.Reserve(fmt.Sprint("x", i), 4))
	}
	assert.LessOrEqual(t, d.Len(), 4)
}
