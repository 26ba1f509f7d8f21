package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestNetChanges: a diff sums a session's changes up: a join and a leave
// within one interval cancel out, and so do a leave and a rejoin.
func TestNetChanges(t *testing.T) {
	j := func(s string) change { return change{session: s, joined: true} }
	l := func(s string) change { return change{session: s} }
	for _, tc := range []struct {
		name         string
		changes      []change
		joined, left []string
	}{
		{"nothing", nil, []string{}, []string{}},
		{"joins and leaves in order", []change{j("a"), l("b"), j("c")}, []string{"a", "c"}, []string{"b"}},
		{"join then leave", []change{j("a"), l("a")}, []string{}, []string{}},
		{"leave then rejoin", []change{l("a"), j("a")}, []string{}, []string{}},
		{"join, leave, join", []change{j("a"), l("a"), j("a")}, []string{"a"}, []string{}},
		{"leave, join, leave", []change{l("a"), j("a"), l("a")}, []string{}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := netChanges(tc.changes)
			assert.Equal(t, tc.joined, p.Joined)
			assert.Equal(t, tc.left, p.Left)
		})
	}
}
