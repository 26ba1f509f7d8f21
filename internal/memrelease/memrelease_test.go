package memrelease

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var sink []byte

// TestReleaseAfterBurst: 64 MiB of garbage allocated with collection off
// (so that no collection takes it first), then quiet: Run releases it
// once, and the heap's free pages go back to the OS.
func TestReleaseAfterBurst(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for range 64 {
		sink = make([]byte, 1<<20)
	}
	sink = nil
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var releases atomic.Int32
	var garbage atomic.Uint64
	stop := Start(context.Background(), Config{Every: 10 * time.Millisecond, OnRelease: func(g uint64) {
		garbage.Store(g)
		releases.Add(1)
	}})
	require.Eventually(t, func() bool { return releases.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	stop()
	assert.GreaterOrEqual(t, garbage.Load(), uint64(16<<20), "the burst was counted")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	assert.Less(t, after.HeapInuse, before.HeapInuse-32<<20, "the garbage was collected")
	assert.Greater(t, after.HeapReleased, before.HeapReleased, "its pages went back to the OS")
	assert.Equal(t, int32(1), releases.Load(), "once: MinGap (10 s) has not passed")
}

// TestNoReleaseWithoutBurst: a process that allocates little is left
// alone.
func TestNoReleaseWithoutBurst(t *testing.T) {
	w := newWatch()
	runtime.GC()
	reclaimable, live, _ := w.read()
	assert.Less(t, reclaimable, uint64(16<<20), "little to give back right after a collection")
	assert.Positive(t, live)
	c := Config{}.withDefaults()
	assert.Equal(t, uint64(16<<20), c.Burst)
	assert.Equal(t, 250*time.Millisecond, c.Every)
}
