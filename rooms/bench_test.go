package rooms

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkAppendMembers10k(b *testing.B) {
	tb := New[*member](Options{})
	for _, m := range newMembers(10_000) {
		if _, _, err := tb.Join("big", m); err != nil {
			b.Fatal(err)
		}
	}
	dst := make([]*member, 0, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = tb.AppendMembers(dst[:0], "big", -1)
	}
	if len(dst) != 10_000 {
		b.Fatalf("got %d members", len(dst))
	}
}

func BenchmarkAppendMembers10kParallel(b *testing.B) {
	tb := New[*member](Options{})
	for _, m := range newMembers(10_000) {
		if _, _, err := tb.Join("big", m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]*member, 0, 10_000)
		for pb.Next() {
			dst, _ = tb.AppendMembers(dst[:0], "big", -1)
		}
	})
}

// BenchmarkJoinLeave joins and then leaves one member: in a small room
// (linear scan), in an indexed room, and in an empty room, which is created
// and deleted each time.
func BenchmarkJoinLeave(b *testing.B) {
	for _, size := range []int{0, 4, 15, 31, 99, 255, 1000} {
		b.Run(fmt.Sprintf("others=%d", size), func(b *testing.B) {
			tb := New[*member](Options{})
			for _, m := range newMembers(size) {
				if _, _, err := tb.Join("room", m); err != nil {
					b.Fatal(err)
				}
			}
			m := &member{id: -1}
			b.ReportAllocs()
			for b.Loop() {
				if added, _, _ := tb.Join("room", m); !added {
					b.Fatal("not added")
				}
				if removed, _ := tb.Leave("room", m); !removed {
					b.Fatal("not removed")
				}
			}
		})
	}
}

// BenchmarkJoinLeaveParallel has every goroutine join and leave random
// rooms among 4096 that each keep a resident member.
func BenchmarkJoinLeaveParallel(b *testing.B) {
	const nRooms = 4096
	tb := New[*member](Options{})
	names := make([]string, nRooms)
	resident := &member{id: -1}
	for i := range names {
		names[i] = fmt.Sprintf("room-%d", i)
		if _, _, err := tb.Join(names[i], resident); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		m := &member{}
		for pb.Next() {
			name := names[rng.IntN(nRooms)]
			tb.Join(name, m)
			tb.Leave(name, m)
		}
	})
}

func BenchmarkContains(b *testing.B) {
	for _, size := range []int{4, 8, 16, 32, 1000} {
		b.Run(fmt.Sprintf("members=%d", size), func(b *testing.B) {
			tb := New[*member](Options{})
			ms := newMembers(size)
			for _, m := range ms {
				if _, _, err := tb.Join("room", m); err != nil {
					b.Fatal(err)
				}
			}
			last := ms[len(ms)-1]
			b.ReportAllocs()
			for b.Loop() {
				if !tb.Contains("room", last) {
					b.Fatal("missing")
				}
			}
		})
	}
}
