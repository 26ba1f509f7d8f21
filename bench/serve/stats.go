package serve

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/bench/procstat"
)

// Stats is what a server process reports about itself on "STATS". The
// fields after CPU are roomloop's only (the baseline leaves them zero).
type Stats struct {
	Goroutines int    `json:"goroutines"`
	HeapInuse  uint64 `json:"heap_inuse"` // bytes, after runtime.GC()
	// HeapAlloc is the live heap (bytes of objects reachable at that GC);
	// HeapInuse also counts the free slots of spans that hold live ones.
	HeapAlloc uint64  `json:"heap_alloc"`
	RSS       uint64  `json:"rss"` // bytes, after runtime.GC()
	Threads   int     `json:"threads"`
	CPU       float64 `json:"cpu_s"`
	FDs       int     `json:"fds"` // open file descriptors
	// Writes counts socket writes of frames since the start, Frames the
	// frames in them (the baseline writes one frame per write).
	Writes uint64 `json:"writes"`
	Frames uint64 `json:"frames"`

	Conns       int   `json:"conns,omitempty"`        // open TCP connections
	Sessions    int   `json:"sessions,omitempty"`     // live sessions, connected or suspended
	Suspended   int   `json:"suspended,omitempty"`    // sessions waiting for a resume
	Rooms       int   `json:"rooms,omitempty"`        // rooms with a member
	QueuedBytes int64 `json:"queued_bytes,omitempty"` // bytes in outbound queues
	PoolSize    int   `json:"pool_size,omitempty"`    // handler worker pool bound
	// Ended and SuspendedBy count sessions by the close code of their last
	// connection (1006: dropped without a close frame), since the start.
	Ended       map[string]int64 `json:"ended,omitempty"`
	SuspendedBy map[string]int64 `json:"suspended_by,omitempty"`
	Resumes     int64            `json:"resumes,omitempty"` // successful resumes
}

// ReadStats collects garbage, then reads the runtime and /proc/self.
func ReadStats() Stats {
	runtime.GC()
	return readStats()
}

// ReadStatsFreed is ReadStats after returning every free page to the OS
// (debug.FreeOSMemory): RSS is then what live memory costs, without
// garbage that the runtime has freed but not yet given back.
func ReadStatsFreed() Stats {
	debug.FreeOSMemory()
	return readStats()
}

// readStats reads the runtime and /proc/self.
func readStats() Stats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := Stats{Goroutines: runtime.NumGoroutine(), HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc}
	if p, err := procstat.Read(os.Getpid()); err == nil {
		st.RSS, st.Threads, st.CPU = p.RSS, p.Threads, p.CPU
	}
	st.FDs, _ = procstat.FDs(os.Getpid())
	return st
}

// reporter is a server that adds its own counts to Stats.
type reporter interface {
	report(*Stats)
}

// hooks counts session ends, suspends and resumes by close code.
type hooks struct {
	mu       sync.Mutex
	ends     map[uint16]int64
	suspends map[uint16]int64
	resumes  int64
}

func newHooks() *hooks {
	return &hooks{ends: map[uint16]int64{}, suspends: map[uint16]int64{}}
}

func (h *hooks) ended(_ *api.Conn, info api.CloseInfo) {
	h.mu.Lock()
	h.ends[uint16(info.Code)]++
	h.mu.Unlock()
}

func (h *hooks) suspended(_ *api.Conn, info api.CloseInfo) {
	h.mu.Lock()
	h.suspends[uint16(info.Code)]++
	h.mu.Unlock()
}

func (h *hooks) resumed(*api.Conn) {
	h.mu.Lock()
	h.resumes++
	h.mu.Unlock()
}

// report copies the counts into st.
func (h *hooks) report(st *Stats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st.Ended, st.SuspendedBy = codeMap(h.ends), codeMap(h.suspends)
	st.Resumes = h.resumes
}

func codeMap(m map[uint16]int64) map[string]int64 {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[strconv.Itoa(int(k))] = v
	}
	return out
}
