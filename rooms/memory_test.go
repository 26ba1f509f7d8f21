package rooms

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// memScenario is one way of making 1,000,000 memberships.
type memScenario struct {
	name     string
	members  int
	rooms    int
	roomsPer int // rooms each member joins
}

// roomOf returns the room index for member i's k-th membership.
func (s memScenario) roomOf(i, k int) int {
	if s.roomsPer == s.rooms {
		return k // everyone is in every room
	}
	return i / (s.members / s.rooms) // consecutive members share a room
}

var memScenarios = []memScenario{
	{"100k members x 10 rooms", 100_000, 10, 10},
	{"1M members x 1 room", 1_000_000, 1, 1},
	{"1M members in 250k rooms of 4", 1_000_000, 250_000, 1},
	{"1M members in 100k rooms of 10", 1_000_000, 100_000, 1},
	{"1M members in 40k rooms of 25", 1_000_000, 40_000, 1},
	{"1M members in 10k rooms of 100", 1_000_000, 10_000, 1},
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// measure builds the scenario and returns the heap bytes the table holds
// per membership. Members and room names are allocated before the baseline,
// so only the table's own memory (including its copies of the names) counts.
func (s memScenario) measure(tb testing.TB) float64 {
	tb.Helper()
	members := newMembers(s.members)
	names := make([]string, s.rooms)
	for i := range names {
		names[i] = fmt.Sprintf("room-%07d", i)
	}
	before := heapInUse()
	t := New[*member](Options{})
	n := 0
	for i, m := range members {
		for k := range s.roomsPer {
			if _, _, err := t.Join(names[s.roomOf(i, k)], m); err != nil {
				tb.Fatal(err)
			}
			n++
		}
	}
	after := heapInUse()
	if t.Len() != s.rooms {
		tb.Fatalf("%s: %d rooms, want %d", s.name, t.Len(), s.rooms)
	}
	runtime.KeepAlive(t)
	runtime.KeepAlive(members)
	runtime.KeepAlive(names)
	return float64(after-before) / float64(n)
}

// TestMemoryPerMembership reports the table's heap cost per membership for
// 1,000,000 memberships and checks that it stays well under 100 MiB.
func TestMemoryPerMembership(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a few hundred MiB")
	}
	for _, s := range memScenarios {
		perMembership := s.measure(t)
		t.Logf("%-32s %6.1f bytes/membership (%.1f MiB per million)", s.name, perMembership, perMembership*1e6/(1<<20))
		assert.Less(t, perMembership, 80.0, s.name)
	}
}

func BenchmarkMemoryPerMembership(b *testing.B) {
	for _, s := range memScenarios {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			var perMembership float64
			for b.Loop() {
				perMembership = s.measure(b)
			}
			b.ReportMetric(perMembership, "B/membership")
		})
	}
}
