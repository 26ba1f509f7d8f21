package loop

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInboxThatNeverEmpties: messages taken from an inbox that always
// holds some are let go of, so its slice stays within a small multiple of
// what waits at once, and messages come out in the order they went in.
func TestInboxThatNeverEmpties(t *testing.T) {
	var in inbox
	next, want := 0, 0
	put := func() {
		in.push(message{data: []byte(strconv.Itoa(next))})
		next++
	}
	take := func() {
		m := in.msgs[in.head]
		in.msgs[in.head] = message{}
		in.head++
		require.Equal(t, strconv.Itoa(want), string(m.data))
		want++
	}
	for range 100 {
		put()
	}
	for range 20000 {
		for range drainBatch {
			take()
		}
		for range drainBatch {
			put()
		}
		require.Equal(t, 100, in.waiting())
		require.LessOrEqual(t, cap(in.msgs), 4*128, "the inbox's slice grew with the messages taken")
	}
}
