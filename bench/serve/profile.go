package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
)

// HeapDirEnv names the environment variable that, when set to a
// directory, makes the server process write a heap profile there after
// every STATS answer (heap-<pid>-0001.pb.gz, heap-<pid>-0002.pb.gz, …),
// so that a soak's growth can be read with `go tool pprof -base first
// last`.
const HeapDirEnv = "ROOMLOOP_BENCH_HEAP_DIR"

// CPUProfileEnv names the environment variable that, when set to a path
// prefix, makes the server process profile its CPU from start to stop
// into <prefix>-<impl>-<pid>.pb.gz.
const CPUProfileEnv = "ROOMLOOP_BENCH_CPU_PROFILE"

// startCPUProfile starts the CPU profile CPUProfileEnv asks for, and
// returns the function that stops it (a no-op without one).
func startCPUProfile(impl string) (stop func(), err error) {
	prefix := os.Getenv(CPUProfileEnv)
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s-%s-%d.pb.gz", prefix, impl, os.Getpid()))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// heapProfiles numbers the profiles of this process.
var heapProfiles = &profileSeq{dir: os.Getenv(HeapDirEnv)}

type profileSeq struct {
	mu  sync.Mutex
	dir string
	n   int
}

// write writes the next heap profile; it does nothing when no directory
// is configured.
func (p *profileSeq) write() error {
	if p.dir == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	f, err := os.Create(filepath.Join(p.dir, fmt.Sprintf("heap-%d-%04d.pb.gz", os.Getpid(), p.n)))
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
