package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/client"
)

// The reconnect scenario's variants: the Go client's defaults (full
// jitter, 500 ms to 20 s), and the same bounds with jitter off.
const (
	VariantJitter   = "jitter"
	VariantNoJitter = "nojitter"
)

// The reconnect scenario's main metrics, which the report also sets in a
// table with one row per variant.
const (
	MetricReconnectP50 = "reconnect time p50"
	MetricReconnectP90 = "reconnect time p90"
	MetricReconnectP99 = "reconnect time p99"
	MetricReconnectMax = "reconnect time max"
	MetricPeakAccepts  = "accepts/s, peak 1 s window"
	MetricMeanAccepts  = "accepts/s, mean from listen to last"
	MetricFailed       = "failed attempts"
	MetricHandshakeP99 = "handshake time p99"
	MetricNewListening = "new server listening"
)

const (
	// spreadBucket is the width of the spread's buckets.
	spreadBucket = 100 * time.Millisecond
	// reconnectBackWithin bounds the wait for every client to be back.
	reconnectBackWithin = 2 * time.Minute
)

// Restarter is a Target whose server process the bench started and can
// restart on the same address.
type Restarter interface {
	// Restart sends the server SIGTERM (it drains: close 1001 to every
	// client, then exits), waits for it to exit, and starts a new one on
	// the same address, retrying the bind for a few seconds.
	Restart(ctx context.Context) (Restart, error)
}

// Restart says how a restart went.
type Restart struct {
	Exited    time.Time // the old process had exited
	Listening time.Time // the new one printed its address
	Starts    int       // processes started until one listened
	ExitErr   error     // how the old one exited; nil: status 0
}

// Spread is how a scenario's events spread over time: counts per bucket
// of BucketMS milliseconds from Origin.
type Spread struct {
	Origin   string  `json:"origin"`
	BucketMS float64 `json:"bucket_ms"`
	// Back counts the clients back (connected again) in each bucket.
	Back []int `json:"back"`
	// Failed counts the failed connection attempts in each bucket.
	Failed []int `json:"failed"`
}

// Reconnect measures how a fleet of Go clients (package client, with its
// backoff and jitter) comes back after a server restart. Reconnects
// clients connect, Dialers at a time, to roomloop with resumption on.
// Once the server counts them all, it gets SIGTERM: it stops listening,
// closes every connection with 1001 and exits, the way a deploy restarts
// it, and a new server process starts on the same address. Each client
// retries with its backoff (the variant: jitter on or off) and, since the
// new process knows no session, comes back Connected with a gap. From
// the SIGTERM on, every state change is timed as it reaches the client's
// OnState handler: the reconnect time of each client (SIGTERM to
// Connected), each attempt (Resuming to Connected: the handshake time,
// $welcome included; Resuming to Disconnected: a failed attempt, by
// cause), and the accepts per second, which are the successful attempts
// over time.
func Reconnect(ctx context.Context, t Target, p Params) (r Result, err error) {
	rs, ok := t.(Restarter)
	if !ok {
		return r, errors.New("reconnect restarts the server, so it needs a server that `run` started")
	}
	n := p.Reconnects
	if n <= 0 {
		return r, errors.New("reconnect: no clients")
	}
	rec := newReconnectRecorder(n)
	opts := client.Options{NoJitter: p.Variant == VariantNoJitter}
	url := "ws://" + t.Addr() + "/ws"

	clients := make([]*client.Client, n)
	defer closeClients(clients, p.Dialers)
	if err := dialClients(ctx, clients, url, opts, p.Dialers, rec); err != nil {
		return r, err
	}
	if err := waitConns(ctx, t, n); err != nil {
		return r, err
	}

	lg0, _ := procstat.Read(os.Getpid())
	ov0 := listenOverflows()
	t0 := time.Now()
	rec.arm(t0)
	rt, err := rs.Restart(ctx)
	if err != nil {
		return r, err
	}
	wctx, cancel := context.WithTimeout(ctx, reconnectBackWithin)
	defer cancel()
	for rec.back.Load()+rec.gaveUp.Load() < int64(n) {
		select {
		case <-wctx.Done():
			return r, fmt.Errorf("reconnect: %d of %d clients back after %v", rec.back.Load(), n, time.Since(t0).Round(time.Millisecond))
		case <-time.After(20 * time.Millisecond):
		}
	}
	all := time.Since(t0)
	lg1, _ := procstat.Read(os.Getpid())
	ov1 := listenOverflows()
	cpu, err := serverCPU(t) // the new server's, since it started
	if err != nil {
		return r, err
	}
	if g := rec.gaveUp.Load(); g > 0 {
		return r, fmt.Errorf("reconnect: %d clients closed instead of reconnecting (%s)", g, rec.firstFinal())
	}
	rec.results(&r, n, t0, rt, cpu)
	r.add("new server processes started", "count", float64(rt.Starts))
	r.add("load generator CPU, SIGTERM to all back", "% of a core", (lg1.CPU-lg0.CPU)/all.Seconds()*100)
	if ov0 >= 0 && ov1 >= 0 {
		r.add("listen queue overflows (kernel counter)", "count", float64(ov1-ov0))
	}
	if rt.ExitErr != nil {
		return r, fmt.Errorf("reconnect: the old server did not exit cleanly: %w", rt.ExitErr)
	}
	return r, nil
}

// dialClients dials every client, dialers at a time, each with its own
// transport whose dials bind a source address round-robin over 127.0.0.2
// to 127.0.0.33 (as the load generator does), so that ephemeral ports do
// not run out and no connection is shared.
func dialClients(ctx context.Context, clients []*client.Client, url string, opts client.Options, dialers int, rec *reconnectRecorder) error {
	var next atomic.Uint32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		k := next.Add(1)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+k%32))}}
		start := time.Now()
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			rec.connected(time.Since(start))
		}
		return c, err
	}
	ctx, stop := context.WithCancel(ctx) // the first error stops the others
	defer stop()
	var idx atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, max(1, dialers))
	for range max(1, dialers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(idx.Add(1) - 1)
				if i >= len(clients) || ctx.Err() != nil {
					return
				}
				o := opts
				o.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
				dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				c, err := client.Dial(dctx, url, &o)
				cancel()
				if err != nil {
					errs <- fmt.Errorf("reconnect: dialing client %d: %w", i, err)
					stop()
					return
				}
				c.OnState(func(sc client.StateChange) { rec.state(i, sc) })
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// closeClients closes every client that was dialed, workers at a time.
func closeClients(clients []*client.Client, workers int) {
	var idx atomic.Int64
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(idx.Add(1) - 1)
				if i >= len(clients) {
					return
				}
				if c := clients[i]; c != nil {
					_ = c.Close()
				}
			}
		}()
	}
	wg.Wait()
}

// waitConns waits until the server counts n connections.
func waitConns(ctx context.Context, t Target, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := t.Stats()
		if err != nil {
			return err
		}
		if st.Conns >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reconnect: the server counts %d connections of %d", st.Conns, n)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// reconnectRecorder times the clients' state changes once armed.
type reconnectRecorder struct {
	armed  atomic.Bool
	back   atomic.Int64 // clients connected again
	gaveUp atomic.Int64 // clients closed before they were back

	mu         sync.Mutex
	t0         time.Time
	cl         []clientTrack
	dropAt     []time.Duration // per client that saw the drop, since t0
	backAt     []time.Duration // per client back, since t0
	offline    []time.Duration // per client back, since it saw the drop
	okAt       []time.Duration // per successful attempt, since t0
	failedAt   []time.Duration // per failed attempt, since t0
	handshakes []time.Duration // per successful attempt
	connects   []time.Duration // per TCP connection made
	failed     map[string]int  // failed attempts by cause
	drops      map[string]int  // the first drop by cause
	resumed    int             // clients back as Resumed (no session survives a restart)
	gaps       map[string]int  // gaps by reason
	final      error           // the first error that closed a client
}

// clientTrack is one client's progress since the restart.
type clientTrack struct {
	dropAt    time.Time // when it saw the drop
	attempt   time.Time // when the attempt in progress began
	inAttempt bool
	dropped   bool
	back      bool
}

func newReconnectRecorder(n int) *reconnectRecorder {
	return &reconnectRecorder{cl: make([]clientTrack, n), failed: map[string]int{}, drops: map[string]int{}, gaps: map[string]int{}}
}

// arm starts recording, from t0.
func (r *reconnectRecorder) arm(t0 time.Time) {
	r.mu.Lock()
	r.t0 = t0
	r.mu.Unlock()
	r.armed.Store(true)
}

// state records client i's state change sc, timed now (as it reaches
// the handler: the client's dispatch goroutine runs handlers in order).
func (r *reconnectRecorder) state(i int, sc client.StateChange) {
	if !r.armed.Load() {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &r.cl[i]
	since := now.Sub(r.t0)
	switch sc.State {
	case client.Connecting, client.Resuming:
		c.attempt, c.inAttempt = now, true
	case client.Connected, client.Resumed:
		if c.inAttempt {
			r.handshakes = append(r.handshakes, now.Sub(c.attempt))
			r.okAt = append(r.okAt, since)
			c.inAttempt = false
		}
		if c.back {
			return
		}
		c.back = true
		r.backAt = append(r.backAt, since)
		if c.dropped {
			r.offline = append(r.offline, now.Sub(c.dropAt))
		}
		if sc.State == client.Resumed {
			r.resumed++
		}
		if sc.Gap != nil {
			r.gaps[sc.Gap.Reason]++
		}
		r.back.Add(1)
	case client.Disconnected:
		if c.inAttempt {
			c.inAttempt = false
			r.failed[attemptFailure(sc.Err)]++
			r.failedAt = append(r.failedAt, since)
		} else if !c.dropped {
			c.dropped, c.dropAt = true, now
			r.dropAt = append(r.dropAt, since)
			var ce *client.CloseError
			if errors.As(sc.Err, &ce) && ce.Code == 1001 {
				r.drops["1001"]++
			} else {
				r.drops["other"]++
			}
		}
	case client.Closed:
		if !c.back {
			if r.final == nil {
				r.final = sc.Err
			}
			r.gaveUp.Add(1)
		}
	}
}

// connected records how long a TCP connect took, once armed.
func (r *reconnectRecorder) connected(d time.Duration) {
	if !r.armed.Load() {
		return
	}
	r.mu.Lock()
	r.connects = append(r.connects, d)
	r.mu.Unlock()
}

// firstFinal returns the first error that closed a client, in words.
func (r *reconnectRecorder) firstFinal() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.final == nil {
		return "no error"
	}
	return r.final.Error()
}

// The causes of failed attempts.
const (
	failRefused = "connection refused"
	failHTTP503 = "HTTP 503"
	failHTTP    = "other HTTP refusal"
	failTimeout = "timeout"
	failOther   = "other (reset, EOF, no $welcome)"
)

// attemptFailure names why a connection attempt failed.
func attemptFailure(err error) string {
	var re *client.RefusedError
	var ne net.Error
	switch {
	case errors.As(err, &re) && re.Status == http.StatusServiceUnavailable:
		return failHTTP503
	case errors.As(err, &re):
		return failHTTP
	case errors.Is(err, syscall.ECONNREFUSED):
		return failRefused
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return failTimeout
	}
	return failOther
}

// results adds the metrics and the spread to res; cpu is the new
// server's CPU seconds from its start until every client was back.
func (r *reconnectRecorder) results(res *Result, n int, t0 time.Time, rt Restart, cpu float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	back := slices.Sorted(slices.Values(r.backAt))
	ok := slices.Sorted(slices.Values(r.okAt))
	hs := slices.Sorted(slices.Values(r.handshakes))
	listen := rt.Listening.Sub(t0)

	res.add("clients", "count", float64(n))
	res.add("old server exited", "ms after SIGTERM", ms(rt.Exited.Sub(t0)))
	res.add(MetricNewListening, "ms after SIGTERM", ms(listen))
	res.add("clients dropped with close 1001", "count", float64(r.drops["1001"]))
	res.add("clients dropped otherwise", "count", float64(r.drops["other"]))
	drops := slices.Sorted(slices.Values(r.dropAt))
	res.add("drop seen by clients p50", "ms after SIGTERM", ms(quantile(drops, 0.5)))
	res.add("drop seen by clients max", "ms after SIGTERM", ms(quantile(drops, 1)))
	res.add("first client back", "ms after SIGTERM", ms(quantile(back, 0)))
	res.add(MetricReconnectP50, "ms after SIGTERM", ms(quantile(back, 0.50)))
	res.add(MetricReconnectP90, "ms after SIGTERM", ms(quantile(back, 0.90)))
	res.add(MetricReconnectP99, "ms after SIGTERM", ms(quantile(back, 0.99)))
	res.add(MetricReconnectMax, "ms after SIGTERM", ms(quantile(back, 1)))
	off := slices.Sorted(slices.Values(r.offline))
	res.add("offline time (drop seen to back) p50", "ms", ms(quantile(off, 0.50)))
	res.add("offline time (drop seen to back) p99", "ms", ms(quantile(off, 0.99)))
	res.add("offline time (drop seen to back) max", "ms", ms(quantile(off, 1)))
	res.add(MetricPeakAccepts, "1/s", float64(peakWindow(ok, time.Second)))
	res.add("accepts/s, peak 100 ms window", "1/s", float64(peakWindow(ok, 100*time.Millisecond))*10)
	if len(ok) > 0 && ok[len(ok)-1] > listen {
		res.add(MetricMeanAccepts, "1/s", float64(len(ok))/(ok[len(ok)-1]-listen).Seconds())
	}
	failed := 0
	for _, v := range r.failed {
		failed += v
	}
	res.add(MetricFailed, "count", float64(failed))
	for _, k := range []string{failRefused, failHTTP503, failHTTP, failTimeout, failOther} {
		res.add("failed attempts: "+k, "count", float64(r.failed[k]))
	}
	res.add("attempts per client", "count", float64(len(ok)+failed)/float64(n))
	res.add("handshake time p50", "ms", ms(quantile(hs, 0.50)))
	res.add(MetricHandshakeP99, "ms", ms(quantile(hs, 0.99)))
	res.add("handshake time max", "ms", ms(quantile(hs, 1)))
	tcp := slices.Sorted(slices.Values(r.connects))
	res.add("TCP connect time p50 (on loopback: the load generator's delay)", "ms", ms(quantile(tcp, 0.50)))
	res.add("TCP connect time p99 (on loopback: the load generator's delay)", "ms", ms(quantile(tcp, 0.99)))
	res.add("clients back resumed (none can be)", "count", float64(r.resumed))
	res.add("clients back with a gap, reason unknown", "count", float64(r.gaps["unknown"]))
	res.add("new server CPU per 1k clients back", "ms", cpu*1e6/float64(n))
	res.Spread = &Spread{
		Origin:   "SIGTERM to the old server",
		BucketMS: ms(spreadBucket),
		Back:     buckets(back, spreadBucket),
		Failed:   buckets(r.failedAt, spreadBucket),
	}
	// Both series cover the same span.
	for len(res.Spread.Failed) < len(res.Spread.Back) {
		res.Spread.Failed = append(res.Spread.Failed, 0)
	}
	for len(res.Spread.Back) < len(res.Spread.Failed) {
		res.Spread.Back = append(res.Spread.Back, 0)
	}
}

// listenOverflows returns the kernel's count of connections dropped
// because a listen queue was full (TcpExt ListenOverflows, for the whole
// network namespace), or -1 where it cannot be read.
func listenOverflows() int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return -1
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TcpExt:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "ListenOverflows" && i < len(f) {
				v, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					return -1
				}
				return v
			}
		}
	}
	return -1
}

// quantile returns the q-quantile of sorted (nearest rank), 0 if empty.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// peakWindow returns the most of sorted's times within any window of
// length w.
func peakWindow(sorted []time.Duration, w time.Duration) int {
	best, i := 0, 0
	for j := range sorted {
		for sorted[j]-sorted[i] >= w {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

// buckets counts times per bucket of width w from 0.
func buckets(times []time.Duration, w time.Duration) []int {
	var out []int
	for _, t := range times {
		k := int(max(t, 0) / w)
		for len(out) <= k {
			out = append(out, 0)
		}
		out[k]++
	}
	return out
}
