package soak

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// fleet is a set of logical clients that outlive their connections: when
// one's connection ends, a few shared redial workers (not a goroutine per
// client) open a new one with ?resume=<token>&last_seq=<n>, and a client
// whose resume is refused joins its rooms again.
type fleet struct {
	h      *H
	pool   *load.Pool
	cls    []*fclient
	redial chan *fclient
	stop   chan struct{}
	halt   atomic.Bool
	wg     sync.WaitGroup

	// Hooks, set before start; they run on poller goroutines and must not
	// block.
	onMsg     func(cl *fclient, c *load.Conn, m *load.Msg)
	onWelcome func(cl *fclient, c *load.Conn, asked, resumed bool, reason string)
	onClose   func(cl *fclient, c *load.Conn, welcomed bool)

	connected atomic.Int64 // clients with a welcomed connection
	joined    atomic.Int64 // $joined frames received

	resumed    *atomic.Int64
	refused    *atomic.Int64
	redials    *atomic.Int64
	redialErrs *atomic.Int64
	reasonsMu  sync.Mutex
	reasons    map[string]int64 // refusals by reason
}

// fclient is one logical client.
type fclient struct {
	idx   int
	rooms []string

	mu      sync.Mutex
	conn    *load.Conn // welcomed connection, nil between connections
	token   string
	lastSeq uint64
	asked   bool // the connection being opened asks for a resume

	// Run-specific verification state, guarded by mu.
	lastK map[string]int64
}

// current returns the client's welcomed connection, or nil.
func (cl *fclient) current() *load.Conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.conn
}

// newFleet makes n clients of addr; rooms(i) names client i's rooms.
func newFleet(h *H, addr string, n int, rooms func(i int) []string) (*fleet, error) {
	f := &fleet{h: h, redial: make(chan *fclient, n), stop: make(chan struct{}), reasons: map[string]int64{},
		resumed: h.Counter("resumed"), refused: h.Counter("refused"),
		redials: h.Counter("redials"), redialErrs: h.Counter("redial errors")}
	for i := range n {
		f.cls = append(f.cls, &fclient{idx: i, rooms: rooms(i), lastK: map[string]int64{}})
	}
	p, err := load.New(load.Config{Addr: addr, Handler: f.message, OnWelcome: f.welcome, OnClose: f.closed,
		Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	f.pool = p
	return f, nil
}

// start runs the redial workers and opens every client; it returns once
// all are welcomed and have joined their rooms.
func (f *fleet) start(ctx context.Context, workers int, timeout time.Duration) error {
	for range workers {
		f.wg.Go(f.worker)
	}
	want := int64(0)
	for _, cl := range f.cls {
		want += int64(len(cl.rooms))
		f.redial <- cl
	}
	return f.waitAll(ctx, want, timeout)
}

// waitAll waits until every client is connected and at least wantJoined
// $joined frames have arrived.
func (f *fleet) waitAll(ctx context.Context, wantJoined int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for f.connected.Load() < int64(len(f.cls)) || f.joined.Load() < wantJoined {
		if time.Now().After(deadline) {
			return fmt.Errorf("soak: %d of %d clients connected, %d of %d joins answered after %v",
				f.connected.Load(), len(f.cls), f.joined.Load(), wantJoined, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// waitConnected waits until every client is connected.
func (f *fleet) waitConnected(ctx context.Context, timeout time.Duration) error {
	return f.waitAll(ctx, 0, timeout)
}

// worker opens connections for clients that need one.
func (f *fleet) worker() {
	for {
		select {
		case <-f.stop:
			return
		case cl := <-f.redial:
			if f.halt.Load() {
				continue
			}
			f.dial(cl)
		}
	}
}

// dial opens a connection for cl, resuming its session if it has one; a
// failure is retried after 50–250 ms.
func (f *fleet) dial(cl *fclient) {
	cl.mu.Lock()
	tok, seq := cl.token, cl.lastSeq
	cl.asked = tok != ""
	cl.mu.Unlock()
	var err error
	if tok != "" {
		f.redials.Add(1)
		_, err = f.pool.OpenResume(cl.idx, tok, seq)
	} else {
		_, err = f.pool.Open(cl.idx)
	}
	if err != nil {
		f.redialErrs.Add(1)
		time.AfterFunc(time.Duration(50+rand.IntN(200))*time.Millisecond, func() { f.queue(cl) })
	}
}

// queue asks for a new connection for cl.
func (f *fleet) queue(cl *fclient) {
	if f.halt.Load() {
		return
	}
	select {
	case f.redial <- cl:
	default: // cannot happen: one pending entry per client at most
	}
}

// welcome handles a $welcome: a refused (or first) session joins its
// rooms.
func (f *fleet) welcome(c *load.Conn, m *load.Msg) {
	cl := f.cls[c.Index]
	resumed := bytes.Contains(m.Payload, []byte(`"resumed":true`))
	reason := load.Str(m.Payload, `"reason":`)
	cl.mu.Lock()
	cl.conn, cl.token = c, c.Token()
	asked := cl.asked
	cl.mu.Unlock()
	if asked {
		if resumed {
			f.resumed.Add(1)
		} else {
			f.refused.Add(1)
			f.reasonsMu.Lock()
			f.reasons[reason]++
			f.reasonsMu.Unlock()
		}
	}
	if !resumed {
		for _, r := range cl.rooms {
			_ = c.Send([]byte(`{"event":"$join","room":"` + r + `"}`))
		}
	}
	f.connected.Add(1)
	if f.onWelcome != nil {
		f.onWelcome(cl, c, asked, resumed, reason)
	}
}

// message handles every frame after $welcome.
func (f *fleet) message(c *load.Conn, m *load.Msg) {
	cl := f.cls[c.Index]
	switch string(m.Event) {
	case "$joined":
		f.joined.Add(1)
	case "$error":
		if load.Str(m.Payload, `"code":`) == "dropped" {
			f.h.Drop(max(1, load.Int(m.Payload, `"count":`)))
		}
	}
	if f.onMsg != nil {
		f.onMsg(cl, c, m)
	}
}

// closed notes a connection's end and redials.
func (f *fleet) closed(c *load.Conn) {
	cl := f.cls[c.Index]
	cl.mu.Lock()
	welcomed := cl.conn == c
	if welcomed {
		cl.conn = nil
	}
	cl.lastSeq = c.LastSeq()
	cl.mu.Unlock()
	if welcomed {
		f.connected.Add(-1)
	}
	f.h.NoteClose(c.CloseCode())
	if f.onClose != nil {
		f.onClose(cl, c, welcomed)
	}
	f.queue(cl)
}

// refusals returns the refusal reasons counted so far.
func (f *fleet) refusals() map[string]int64 {
	f.reasonsMu.Lock()
	defer f.reasonsMu.Unlock()
	out := make(map[string]int64, len(f.reasons))
	for k, v := range f.reasons {
		out[k] = v
	}
	return out
}

// close stops redialing and closes every connection (close frame 1000:
// the sessions end).
func (f *fleet) close() error {
	if f.halt.Swap(true) {
		return nil
	}
	close(f.stop)
	f.wg.Wait()
	return f.pool.Close(10 * time.Second)
}

// stream publishes room messages at a fixed total rate, round-robin over
// rooms. Each message carries its send time ("t", unix ns) and its
// room's counter ("k", from 0) and pad bytes.
type stream struct {
	rooms []string
	pub   func(room int) *load.Conn // the publisher of room i; nil skips
	rate  float64
	pad   string
	sent  []atomic.Int64 // per room: messages sent (the next k)
	skip  *atomic.Int64
	errs  *atomic.Int64
	stop  chan struct{}
	done  chan struct{}
}

// newStream publishes rate messages/s in all with size pad bytes.
func newStream(h *H, rooms []string, pub func(int) *load.Conn, rate float64, size int) *stream {
	pad := make([]byte, size)
	for i := range pad {
		pad[i] = 'a' + byte(i%26)
	}
	return &stream{rooms: rooms, pub: pub, rate: rate, pad: string(pad), sent: make([]atomic.Int64, len(rooms)),
		skip: h.Counter("unsent (no publisher)"), errs: h.Counter("publish errors"),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// run publishes until halt.
func (s *stream) run() {
	defer close(s.done)
	pace(s.stop, s.rate, 5*time.Millisecond, func(n int64) {
		i := int(n % int64(len(s.rooms)))
		c := s.pub(i)
		if c == nil || c.Closed() {
			s.skip.Add(1)
			return
		}
		k := s.sent[i].Load()
		msg := `{"event":"m","room":"` + s.rooms[i] + `","payload":{"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) +
			`,"k":` + strconv.FormatInt(k, 10) + `,"pad":"` + s.pad + `"}}`
		if err := c.Send([]byte(msg)); err != nil {
			s.errs.Add(1)
			return
		}
		s.sent[i].Add(1)
	})
}

// pace calls fn(0), fn(1), … at rate calls per second, catching up every
// tick, until stop is closed.
func pace(stop <-chan struct{}, rate float64, tick time.Duration, fn func(n int64)) {
	start := time.Now()
	var n int64
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		for due := int64(time.Since(start).Seconds() * rate); n < due; n++ {
			fn(n)
		}
	}
}

// halt stops publishing and waits for the publisher goroutine.
func (s *stream) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// total returns the messages sent in all.
func (s *stream) total() int64 {
	var n int64
	for i := range s.sent {
		n += s.sent[i].Load()
	}
	return n
}
