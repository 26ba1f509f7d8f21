package rooms

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMaxRoomsConcurrentCreate(t *testing.T) {
	const (
		maxRooms   = 100
		goroutines = 32
		perG       = 20
	)
	tb := New[int](Options{MaxRooms: maxRooms, Shards: 8})

	var (
		created, refused atomic.Int64
		stop             = make(chan struct{})
		observed         = make(chan int, 1)
		wg               sync.WaitGroup
	)
	go func() { // watches Len while the creators race
		peak := 0
		for {
			select {
			case <-stop:
				observed <- peak
				return
			default:
				peak = max(peak, tb.Len())
			}
		}
	}()
	start := make(chan struct{})
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range perG {
				_, _, err := tb.Join(fmt.Sprintf("g%d-r%d", g, i), g)
				switch {
				case err == nil:
					created.Add(1)
				case errors.Is(err, ErrTooManyRooms):
					refused.Add(1)
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(stop)

	assert.LessOrEqual(t, <-observed, maxRooms, "Len exceeded MaxRooms")
	assert.EqualValues(t, maxRooms, created.Load())
	assert.EqualValues(t, goroutines*perG-maxRooms, refused.Load())
	assert.Equal(t, maxRooms, tb.Len())
	assert.Len(t, tb.AppendRooms(nil), maxRooms)
	checkInvariants(t, tb)
}

// TestMaxRoomsChurn creates and deletes rooms from many goroutines at once;
// the number of rooms held must never exceed the cap.
func TestMaxRoomsChurn(t *testing.T) {
	const (
		maxRooms   = 16
		goroutines = 16
	)
	iters := 2000
	if testing.Short() {
		iters = 200
	}
	tb := New[int](Options{MaxRooms: maxRooms, Shards: 4})
	var (
		held atomic.Int64 // rooms our goroutines know they created and not yet left
		peak atomic.Int64
		wg   sync.WaitGroup
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range iters {
				name := fmt.Sprintf("g%d-%d", g, i%5)
				_, _, err := tb.Join(name, g)
				if err != nil {
					assert.ErrorIs(t, err, ErrTooManyRooms)
					continue
				}
				h := held.Add(1)
				for {
					p := peak.Load()
					if h <= p || peak.CompareAndSwap(p, h) {
						break
					}
				}
				assert.LessOrEqual(t, tb.Len(), maxRooms)
				held.Add(-1)
				removed, n := tb.Leave(name, g)
				assert.True(t, removed)
				assert.Zero(t, n)
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, peak.Load(), int64(maxRooms))
	assert.Zero(t, tb.Len())
	checkInvariants(t, tb)
}

// TestConcurrentStress runs goroutines that join, leave and snapshot random
// rooms. Each goroutine owns its members, so it can check every answer about
// them exactly; answers about other goroutines' members are checked for
// consistency only. At the end the table must match the union of the
// models, and be empty once everyone has left.
func TestConcurrentStress(t *testing.T) {
	for _, maxRooms := range []int{0, 12} {
		t.Run(fmt.Sprintf("MaxRooms=%d", maxRooms), func(t *testing.T) {
			stress(t, maxRooms)
		})
	}
}

func stress(t *testing.T, maxRooms int) {
	const (
		goroutines = 16
		nRooms     = 24
		perG       = 20 // members owned by each goroutine
	)
	ops := 10000
	if testing.Short() {
		ops = 2000
	}
	names := make([]string, nRooms)
	for i := range names {
		names[i] = fmt.Sprintf("room-%d", i)
	}
	tb := New[*member](Options{Shards: 8, MaxRooms: maxRooms})

	models := make([]map[string]map[*member]bool, goroutines)
	owned := make([][]*member, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		owned[g] = newMembers(perG)
		models[g] = make(map[string]map[*member]bool)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			model := models[g]
			mine := owned[g]
			var dst []*member
			for range ops {
				room := names[rng.IntN(nRooms)]
				m := mine[rng.IntN(perG)]
				in := model[room][m]
				switch op := rng.IntN(10); {
				case op < 4:
					added, n, err := tb.Join(room, m)
					if err != nil {
						// Only a room that does not exist can be refused,
						// and it cannot exist if one of ours is in it.
						if !assert.ErrorIs(t, err, ErrTooManyRooms) || !assert.Empty(t, model[room]) {
							return
						}
						assert.Zero(t, n)
						continue
					}
					if !assert.Equal(t, !in, added) {
						return
					}
					assert.GreaterOrEqual(t, n, len(model[room])+btoi(added))
					if model[room] == nil {
						model[room] = make(map[*member]bool)
					}
					model[room][m] = true
				case op < 7:
					removed, n := tb.Leave(room, m)
					if !assert.Equal(t, in, removed) {
						return
					}
					delete(model[room], m)
					assert.GreaterOrEqual(t, n, len(model[room]))
				case op < 8:
					if !assert.Equal(t, in, tb.Contains(room, m)) {
						return
					}
				default:
					limit := rng.IntN(40) - 5 // includes negative (all) and 0
					var total int
					dst, total = tb.AppendMembers(dst[:0], room, limit)
					if limit < 0 {
						assert.Len(t, dst, total)
					} else {
						assert.Len(t, dst, min(limit, total))
					}
					assert.GreaterOrEqual(t, total, len(model[room]))
					seen := make(map[*member]bool, len(dst))
					for _, x := range dst {
						if !assert.NotNil(t, x) || !assert.False(t, seen[x], "duplicate in snapshot") {
							return
						}
						seen[x] = true
					}
					if limit < 0 {
						for x := range model[room] {
							assert.True(t, seen[x], "own member missing from snapshot")
						}
					}
					assert.LessOrEqual(t, len(tb.AppendRooms(nil)), nRooms)
				}
				if maxRooms > 0 {
					assert.LessOrEqual(t, tb.Len(), maxRooms)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	checkInvariants(t, tb)

	// The table equals the union of the models.
	want := make(map[string]map[*member]bool)
	for _, model := range models {
		for room, set := range model {
			for m := range set {
				if want[room] == nil {
					want[room] = make(map[*member]bool)
				}
				want[room][m] = true
			}
		}
	}
	var wantRooms []string
	for room := range want {
		wantRooms = append(wantRooms, room)
	}
	assert.ElementsMatch(t, wantRooms, tb.AppendRooms(nil))
	assert.Equal(t, len(want), tb.Len())
	for _, room := range names {
		got, total := tb.AppendMembers(nil, room, -1)
		assert.Equal(t, len(want[room]), total, room)
		assert.Equal(t, len(want[room]), tb.Count(room), room)
		for _, m := range got {
			assert.True(t, want[room][m], room)
		}
	}

	// Everyone leaves, concurrently.
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for room, set := range models[g] {
				for m := range set {
					removed, _ := tb.Leave(room, m)
					assert.True(t, removed)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, tb.Len())
	assert.Empty(t, tb.AppendRooms(nil))
	for _, room := range names {
		assert.Zero(t, tb.Count(room))
	}
	checkInvariants(t, tb)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
