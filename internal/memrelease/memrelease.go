// Package memrelease gives memory back to the operating system after a
// burst of allocation, such as a connect storm, once the process has gone
// quiet.
//
// Go collects garbage when the heap has grown by GOGC percent since the
// last collection. A server that allocates a lot while thousands of
// clients connect and then almost nothing while they sit idle never
// reaches that point again: the storm's garbage stays in the heap, and
// its pages in the resident set, for as long as the clients stay quiet.
// And even after a collection, the runtime keeps freed pages for reuse,
// returning them only slowly: after a storm the resident set stays at two
// to three times the live heap. Run reads the runtime's counters and,
// when the heap's garbage plus its free pages not yet returned reach
// Burst bytes and an eighth of the live heap, while less than Quiet bytes
// were allocated in the last Every, calls debug.FreeOSMemory (a
// collection, then every free page returned). It does so at most once per
// MinGap. A busy process is never quiet, so it is left to the runtime's
// own pacing; the cost of a release is one collection of the live heap.
package memrelease

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Config tunes Run. Zero fields take their defaults.
type Config struct {
	// Every is how often the counters are read. Default 250 ms.
	Every time.Duration
	// Burst is how much a release must give back at least: garbage plus
	// free pages not yet returned. Default 16 MiB.
	Burst uint64
	// Quiet is the most that may have been allocated in the last Every
	// for the process to count as quiet. Default 256 KiB.
	Quiet uint64
	// MinGap is the least time between two releases. Default 10 s.
	MinGap time.Duration
	// OnRelease, if set, is called after each release with the bytes it
	// found to give back.
	OnRelease func(reclaimable uint64)
}

func (c Config) withDefaults() Config {
	if c.Every <= 0 {
		c.Every = 250 * time.Millisecond
	}
	if c.Burst == 0 {
		c.Burst = 16 << 20
	}
	if c.Quiet == 0 {
		c.Quiet = 256 << 10
	}
	if c.MinGap <= 0 {
		c.MinGap = 10 * time.Second
	}
	return c
}

// Run watches the allocation counters until ctx ends, releasing memory
// after bursts as the package doc says. It runs on the caller's goroutine.
func Run(ctx context.Context, cfg Config) {
	cfg = cfg.withDefaults()
	w := newWatch()
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	var lastRelease time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			reclaimable, live, lastTick := w.read()
			if reclaimable >= max(cfg.Burst, live/8) && lastTick < cfg.Quiet && now.Sub(lastRelease) >= cfg.MinGap {
				debug.FreeOSMemory()
				lastRelease = now
				w.read()
				if cfg.OnRelease != nil {
					cfg.OnRelease(reclaimable)
				}
			}
		}
	}
}

// Start runs Run on a goroutine of its own and returns the function that
// stops it and waits for it to end.
func Start(ctx context.Context, cfg Config) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, cfg)
	}()
	return func() { cancel(); <-done }
}

// watch reads the runtime's heap and allocation counters.
type watch struct {
	samples  []metrics.Sample
	previous uint64 // bytes allocated at the previous read
}

const (
	allocsMetric  = "/gc/heap/allocs:bytes"              // allocated since start
	objectsMetric = "/memory/classes/heap/objects:bytes" // live and not yet collected
	liveMetric    = "/gc/heap/live:bytes"                // live at the last collection
	freeMetric    = "/memory/classes/heap/free:bytes"    // free, not yet returned to the OS
)

func newWatch() *watch {
	w := &watch{samples: []metrics.Sample{{Name: allocsMetric}, {Name: objectsMetric}, {Name: liveMetric}, {Name: freeMetric}}}
	w.read()
	return w
}

// read returns what a release would give back, the heap's garbage
// (objects not yet collected, less what the last collection found live)
// plus its free pages not yet returned to the OS, and the bytes allocated
// since the previous read.
func (w *watch) read() (reclaimable, live, lastTick uint64) {
	metrics.Read(w.samples)
	allocs, objects := w.samples[0].Value.Uint64(), w.samples[1].Value.Uint64()
	free := w.samples[3].Value.Uint64()
	live = w.samples[2].Value.Uint64()
	lastTick = allocs - w.previous
	w.previous = allocs
	if objects > live {
		reclaimable = objects - live
	}
	return reclaimable + free, live, lastTick
}
