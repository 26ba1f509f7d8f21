package soak

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/bench/child"
	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/bench/serve"
)

// The server's queue bounds in every run: api's defaults, stated here so
// that the slow mix's memory formula uses the same numbers.
const (
	queueFrames = 1024
	queueBytes  = 1 << 20
	// writeChunk is the most a flush hands nbio for one connection
	// (loop's maxWriteChunk): a slow client can pin that much besides its
	// queue.
	writeChunk = 256 << 10
)

// Phases of the hostile mix.
const (
	phaseClean   = "clean"
	phaseHostile = "hostile"
)

// Sample is one reading of the server and the clients. Counts of events
// (Deliveries, Closes, Ended, Drops) cover the interval since the previous
// sample; Counters are totals since the run began.
type Sample struct {
	T          float64 `json:"t_s"`        // seconds since the measured phase began
	RSS        uint64  `json:"rss"`        // server VmRSS after a GC, bytes
	Heap       uint64  `json:"heap_inuse"` // server heap in use after a GC, bytes
	FDs        int     `json:"fds"`
	Goroutines int     `json:"goroutines"`
	Threads    int     `json:"threads"`
	CPU        float64 `json:"cpu_s"` // server CPU seconds so far
	Conns      int     `json:"conns"` // server's open TCP connections
	Sessions   int     `json:"sessions"`
	Suspended  int     `json:"suspended"`
	Rooms      int     `json:"rooms"`
	Queued     int64   `json:"queued_bytes"`
	Clients    int     `json:"clients"` // the load generator's open connections

	Deliveries int64   `json:"deliveries"` // latency observations
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	P999       float64 `json:"p999_ms"`

	Closes   map[string]int64 `json:"closes,omitempty"` // close codes clients received ("none": dropped without one)
	Ended    map[string]int64 `json:"ended,omitempty"`  // sessions the server ended, by close code
	Drops    int64            `json:"drops"`            // frames dropped or clients cut as slow consumers
	Counters map[string]int64 `json:"counters,omitempty"`
	Phase    string           `json:"phase,omitempty"`

	// Hist holds the interval's latencies (not stored in JSON).
	Hist *load.Hist `json:"-"`
}

// Result is one run: its parameters, samples and checks.
type Result struct {
	Run       string         `json:"run"`
	Params    map[string]any `json:"params"`
	Start     time.Time      `json:"start"`
	Seconds   float64        `json:"seconds"`
	ServerLog string         `json:"server_log"`
	Baseline  Baseline       `json:"baseline"`
	Samples   []Sample       `json:"samples"`
	Checks    []Check        `json:"checks"`
	Notes     []string       `json:"notes,omitempty"`
	Pass      bool           `json:"pass"`
}

// Verdict is "PASS", or "FAIL: " and the failed checks.
func (r *Result) Verdict() string {
	f := Failed(r.Checks)
	if len(f) == 0 {
		return "PASS"
	}
	parts := make([]string, len(f))
	for i, c := range f {
		parts[i] = c.String()
	}
	return "FAIL: " + strings.Join(parts, "; ")
}

// H is a run in progress: the server child, the sampler and the
// client-side counters. Runs call its methods; they are safe for
// concurrent use unless noted.
type H struct {
	cfg     Config
	spec    child.Spec
	logPath string
	logFile *os.File

	srvMu sync.Mutex // serializes Stats and restarts
	srv   *child.Server
	addr  string

	base    Baseline
	baseFDs map[string]int // the baseline's descriptors by kind
	start   time.Time
	t0      time.Time
	lat     atomic.Pointer[load.Hist]
	drops   atomic.Int64
	phase   atomic.Pointer[string]
	clients atomic.Pointer[func() int]

	mu       sync.Mutex
	closes   map[string]int64
	ctrNames []string
	ctrs     map[string]*atomic.Int64
	checks   []Check
	notes    []string
	params   map[string]any

	// The sampler's previous totals (sampler goroutine only).
	samples    []Sample
	lastCloses map[string]int64
	lastEnded  map[string]int64
	lastDrops  int64
	lastSlow   int64
}

// newH starts the server and reads its baseline.
func newH(ctx context.Context, cfg Config) (*H, error) {
	h := &H{cfg: cfg, start: time.Now(), closes: map[string]int64{}, ctrs: map[string]*atomic.Int64{}}
	h.lat.Store(new(load.Hist))
	dir := cfg.LogDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "soak-"+cfg.Run+"-"+time.Now().UTC().Format("20060102-150405")+"-*.log")
	if err != nil {
		return nil, err
	}
	h.logFile, h.logPath = f, f.Name()
	h.spec = child.Spec{Exe: cfg.Exe, Args: h.serverArgs(), Impl: serve.Roomloop, CPUs: cfg.ServerCPUs, Stderr: f}
	h.srv, err = child.Start(h.spec)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	h.addr = h.srv.Addr()
	st, err := h.srv.Stats()
	if err != nil {
		_ = h.srv.Stop()
		_ = f.Close()
		return nil, err
	}
	h.base = Baseline{Goroutines: st.Goroutines, FDs: st.FDs, RSS: st.RSS, Heap: st.HeapInuse, PoolSize: st.PoolSize}
	h.baseFDs = fdKinds(h.srv.PID())
	h.params = map[string]any{
		"duration": cfg.Duration.String(), "sample": cfg.Sample.String(), "conns": cfg.Conns,
		"server_args": strings.Join(h.spec.Args, " "),
	}
	h.t0 = time.Now()
	return h, nil
}

// serverArgs are the server child's flags for this run.
func (h *H) serverArgs() []string {
	c := h.cfg
	args := append(slices.Clone(c.ServerArgs), "-resume",
		"-queue-frames", strconv.Itoa(queueFrames), "-queue-bytes", strconv.Itoa(queueBytes))
	if c.ResumeWindow > 0 {
		args = append(args, "-resume-window", c.ResumeWindow.String())
	}
	if c.Heartbeat > 0 {
		args = append(args, "-heartbeat", c.Heartbeat.String())
	}
	if c.Run == SlowMix && c.SlowPolicy == "drop" {
		args = append(args, "-drop-slow")
	}
	return args
}

// resumeWindow is the server's resume window.
func (h *H) resumeWindow() time.Duration {
	if h.cfg.ResumeWindow > 0 {
		return h.cfg.ResumeWindow
	}
	return api.DefaultResumeWindow
}

// Addr returns the server's address (the same across restarts).
func (h *H) Addr() string { return h.addr }

// Param records a run parameter for the report.
func (h *H) Param(k string, v any) {
	h.mu.Lock()
	h.params[k] = v
	h.mu.Unlock()
}

// Note adds a line to the report.
func (h *H) Note(format string, args ...any) {
	h.mu.Lock()
	h.notes = append(h.notes, fmt.Sprintf(format, args...))
	h.mu.Unlock()
}

// AddCheck records a run-specific check.
func (h *H) AddCheck(c Check) {
	h.mu.Lock()
	h.checks = append(h.checks, c)
	h.mu.Unlock()
}

// Counter returns the named run counter, creating it at 0; the sampler
// copies every counter into each sample.
func (h *H) Counter(name string) *atomic.Int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.ctrs[name]
	if !ok {
		c = new(atomic.Int64)
		h.ctrs[name] = c
		h.ctrNames = append(h.ctrNames, name)
	}
	return c
}

// Observe records one delivery latency.
func (h *H) Observe(d time.Duration) { h.lat.Load().Add(d) }

// ObserveSince records the latency of a message stamped at unix
// nanoseconds t (ignored when t <= 0).
func (h *H) ObserveSince(t int64) {
	if t > 0 {
		h.Observe(time.Duration(time.Now().UnixNano() - t))
	}
}

// Drop counts n frames dropped (or clients cut) for slowness.
func (h *H) Drop(n int64) { h.drops.Add(n) }

// NoteClose counts a client connection's end by the close code it
// received (0: none, the TCP connection just ended).
func (h *H) NoteClose(code uint16) {
	k := "none"
	if code != 0 {
		k = strconv.Itoa(int(code))
	}
	h.mu.Lock()
	h.closes[k]++
	h.mu.Unlock()
}

// SetPhase tags the samples taken from now on.
func (h *H) SetPhase(p string) { h.phase.Store(&p) }

// SetClients sets how the sampler counts the load generator's open
// connections.
func (h *H) SetClients(fn func() int) { h.clients.Store(&fn) }

// Stats asks the current server child for its stats.
func (h *H) Stats() (serve.Stats, error) {
	h.srvMu.Lock()
	defer h.srvMu.Unlock()
	return h.srv.Stats()
}

// Measure samples the server every cfg.Sample for cfg.Duration. After
// each sample it calls tick (when not nil) with the sample's index; a
// tick error ends the run.
func (h *H) Measure(ctx context.Context, tick func(i int) error) error {
	n := max(1, int((h.cfg.Duration+h.cfg.Sample/2)/h.cfg.Sample))
	h.Param("samples", n)
	// Open the first interval cleanly: what setup did is not measured.
	h.lat.Store(new(load.Hist))
	h.mu.Lock()
	h.lastCloses = maps.Clone(h.closes)
	h.mu.Unlock()
	if st, err := h.Stats(); err == nil {
		h.lastEnded, h.lastSlow = st.Ended, slowCut(st)
	}
	h.lastDrops = h.drops.Load()
	h.t0 = time.Now()
	next := h.t0
	for i := range n {
		// A tick that overran (a drain restart) moves the schedule on
		// rather than making the next samples back to back.
		next = next.Add(h.cfg.Sample)
		if now := time.Now(); next.Before(now.Add(h.cfg.Sample / 2)) {
			next = now.Add(h.cfg.Sample)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(next)):
		}
		if err := h.sample(); err != nil {
			return err
		}
		if tick != nil {
			if err := tick(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// sample takes one Sample.
func (h *H) sample() error {
	st, err := h.Stats()
	if err != nil {
		return fmt.Errorf("server stats: %w (did the server crash? see %s)", err, h.logPath)
	}
	s := Sample{
		T: time.Since(h.t0).Seconds(), RSS: st.RSS, Heap: st.HeapInuse, FDs: st.FDs,
		Goroutines: st.Goroutines, Threads: st.Threads, CPU: st.CPU, Conns: st.Conns,
		Sessions: st.Sessions, Suspended: st.Suspended, Rooms: st.Rooms, Queued: st.QueuedBytes,
	}
	if p := h.phase.Load(); p != nil {
		s.Phase = *p
	}
	if fn := h.clients.Load(); fn != nil {
		s.Clients = (*fn)()
	}
	hist := h.lat.Swap(new(load.Hist))
	s.Hist, s.Deliveries = hist, int64(hist.Count())
	if s.Deliveries > 0 {
		s.P50, s.P99, s.P999 = msOf(hist.Quantile(0.5)), msOf(hist.Quantile(0.99)), msOf(hist.Quantile(0.999))
	}
	h.mu.Lock()
	s.Closes = delta(h.closes, h.lastCloses)
	h.lastCloses = maps.Clone(h.closes)
	s.Counters = make(map[string]int64, len(h.ctrNames))
	for _, k := range h.ctrNames {
		s.Counters[k] = h.ctrs[k].Load()
	}
	h.mu.Unlock()
	s.Ended = delta(st.Ended, h.lastEnded)
	h.lastEnded = st.Ended
	d, cut := h.drops.Load(), slowCut(st)
	s.Drops = d - h.lastDrops + cut - h.lastSlow
	h.lastDrops, h.lastSlow = d, cut
	h.samples = append(h.samples, s)
	if h.cfg.Log != nil {
		fmt.Fprintf(h.cfg.Log, "%-8s t=%5.0fs rss %6.1f MiB heap %6.1f MiB fds %5d gor %4d conns %5d sess %5d rooms %4d queued %6.0f KiB deliv %7d p50 %6.2f p99 %6.2f p999 %6.2f ms %s\n",
			h.cfg.Run, s.T, float64(s.RSS)/mib, float64(s.Heap)/mib, s.FDs, s.Goroutines, s.Conns, s.Sessions,
			s.Rooms, float64(s.Queued)/1024, s.Deliveries, s.P50, s.P99, s.P999, fmtCounts(s.Counters))
	}
	return nil
}

// slowCut is how many sessions the server has cut as slow consumers
// (close 4002), suspended or ended.
func slowCut(st serve.Stats) int64 {
	return st.SuspendedBy["4002"] + st.Ended["4002"]
}

// delta returns cur - prev per key, leaving out zeros.
func delta(cur, prev map[string]int64) map[string]int64 {
	var out map[string]int64
	for k, v := range cur {
		if d := v - prev[k]; d != 0 {
			if out == nil {
				out = map[string]int64{}
			}
			out[k] = d
		}
	}
	return out
}

// Quiet waits (at most 20 s) until the server has no connections, then
// checks its descriptors against the baseline.
func (h *H) Quiet(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := h.Stats()
		if err != nil {
			return fmt.Errorf("server stats: %w", err)
		}
		if st.Conns == 0 || time.Now().After(deadline) {
			c := QuietFDs(st.FDs, h.base, h.cfg.Limits)
			if st.FDs != h.base.FDs {
				h.srvMu.Lock()
				kinds := fdKinds(h.srv.PID())
				h.srvMu.Unlock()
				c.Detail += fmt.Sprintf("; by kind now %s, at baseline %s", fmtKinds(kinds), fmtKinds(h.baseFDs))
			}
			if st.Conns != 0 {
				c.Detail += fmt.Sprintf("; the server still had %d connections after 20s", st.Conns)
			}
			h.AddCheck(c)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitEmpty waits for the resume window and a little more, until the
// server holds no session, suspended session or room, and checks that.
func (h *H) WaitEmpty(ctx context.Context) error {
	win := h.resumeWindow()
	start := time.Now()
	deadline := start.Add(win + 5*time.Second)
	for {
		st, err := h.Stats()
		if err != nil {
			return fmt.Errorf("server stats: %w", err)
		}
		empty := st.Sessions == 0 && st.Suspended == 0 && st.Rooms == 0
		if empty || time.Now().After(deadline) {
			h.AddCheck(Check{Name: "sessions+rooms after the resume window", Value: float64(st.Sessions + st.Rooms),
				Limit: 0, Pass: empty, Detail: fmt.Sprintf("%d sessions (%d suspended), %d rooms, %.1fs after the last client left (window %v)",
					st.Sessions, st.Suspended, st.Rooms, time.Since(start).Seconds(), win)})
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Restart sends the server SIGTERM, waits for it to exit, calls between,
// and starts a new server on the same address. It returns how the old
// process exited. Call it from a Measure tick only.
func (h *H) Restart(between func()) (exitErr error, err error) {
	h.srvMu.Lock()
	defer h.srvMu.Unlock()
	h.lastEnded, h.lastSlow = nil, 0 // the new process counts from zero
	exitErr = h.srv.Terminate(20 * time.Second)
	if between != nil {
		between()
	}
	spec := h.spec
	spec.Addr = h.addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv, serr := child.Start(spec)
		if serr == nil {
			h.srv = srv
			return exitErr, nil
		}
		if time.Now().After(deadline) {
			return exitErr, fmt.Errorf("restart on %s: %w", h.addr, serr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// finish stops the server, applies the rules and builds the Result.
func (h *H) finish(runErr error) *Result {
	h.srvMu.Lock()
	stopErr := h.srv.Stop()
	h.srvMu.Unlock()
	_ = h.logFile.Close()
	var checks []Check
	if runErr != nil {
		checks = append(checks, Check{Name: "run completed", Limit: 1, AtLeast: true, Detail: runErr.Error()})
	}
	checks = append(checks, Evaluate(h.samples, h.base, h.cfg.Limits)...)
	h.mu.Lock()
	checks = append(checks, h.checks...)
	h.mu.Unlock()
	checks = append(checks, h.logChecks()...)
	if stopErr != nil {
		checks = append(checks, Check{Name: "server stopped cleanly", Pass: true, Info: true, Detail: stopErr.Error()})
	}
	r := &Result{Run: h.cfg.Run, Params: h.params, Start: h.start, Seconds: time.Since(h.start).Seconds(),
		ServerLog: h.logPath, Baseline: h.base, Samples: h.samples, Checks: checks, Notes: h.notes}
	r.Pass = len(Failed(checks)) == 0
	return r
}

// logChecks scans the server's log for panics and data races.
func (h *H) logChecks() []Check {
	b, err := os.ReadFile(h.logPath)
	if err != nil {
		return []Check{{Name: "server log readable", Limit: 0, Detail: err.Error()}}
	}
	lower := bytes.ToLower(b)
	panics := bytes.Count(lower, []byte("panic"))
	races := bytes.Count(b, []byte("DATA RACE"))
	first := func(word []byte) string {
		i := bytes.Index(lower, bytes.ToLower(word))
		if i < 0 {
			return ""
		}
		start := bytes.LastIndexByte(b[:i], '\n') + 1
		end := i + bytes.IndexByte(b[i:], '\n')
		if end < i {
			end = len(b)
		}
		return "first: " + string(b[start:end])
	}
	return []Check{
		count(`"panic" in the server log`, int64(panics), 0, first([]byte("panic"))),
		count(`"DATA RACE" in the server log`, int64(races), 0, first([]byte("DATA RACE"))),
		{Name: "server log size", Value: float64(len(b)), Unit: "bytes", Pass: true, Info: true, Detail: filepath.Base(h.logPath)},
	}
}

// fdKinds counts process pid's descriptors by what they are: "socket",
// "pipe", "anon_inode:[eventpoll]", a file's path.
func fdKinds(pid int) map[string]int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string]int{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if i := strings.Index(l, ":["); i > 0 && !strings.HasPrefix(l, "anon_inode") {
			l = l[:i]
		}
		out[l]++
	}
	return out
}

// fmtKinds formats descriptor kinds as "socket=3 pipe=2".
func fmtKinds(m map[string]int) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// fmtCounts formats counters as "a=1 b=2" in name order.
func fmtCounts(m map[string]int64) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
