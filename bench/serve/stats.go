package serve

import (
	"os"
	"runtime"

	"github.com/roomloop/roomloop/bench/procstat"
)

// Stats is what a server process reports about itself on "STATS".
type Stats struct {
	Goroutines int     `json:"goroutines"`
	HeapInuse  uint64  `json:"heap_inuse"` // bytes, after runtime.GC()
	RSS        uint64  `json:"rss"`        // bytes, after runtime.GC()
	Threads    int     `json:"threads"`
	CPU        float64 `json:"cpu_s"`
}

// ReadStats collects garbage, then reads the runtime and /proc/self.
func ReadStats() Stats {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := Stats{Goroutines: runtime.NumGoroutine(), HeapInuse: ms.HeapInuse}
	if p, err := procstat.Read(os.Getpid()); err == nil {
		st.RSS, st.Threads, st.CPU = p.RSS, p.Threads, p.CPU
	}
	return st
}
