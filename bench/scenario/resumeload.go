package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/internal/cutproxy"
)

// VariantDefaults is resume-load's only variant: roomloop with api's
// default options (serve.Config.Defaults) but rate limits off.
const VariantDefaults = "defaults"

// The resume-load scenario's main metrics, which the report also sets in
// a table with one row per run.
const (
	MetricRLResumes      = "resumes"
	MetricRLGap          = "resumes refused: gap"
	MetricRLExpired      = "resumes refused: expired"
	MetricRLUnknown      = "resumes refused: unknown"
	MetricRLInvalid      = "resumes refused: invalid"
	MetricRLRecovered    = "frames recovered (replayed on resume)"
	MetricRLLost         = "room frames not recovered"
	MetricRLPubCloses    = "publisher closes"
	MetricRLPresence     = "presence frames received"
	MetricRLReconnectP50 = "reconnect time p50"
	MetricRLReconnectP99 = "reconnect time p99"
	MetricRLMemory       = "server RSS per session after the flood"
)

// resumeLoadRooms are the two rooms every session joins.
var resumeLoadRooms = [2]string{"rl-a", "rl-b"}

// rlSession is one resume-load session across its connections. Only one
// connection of a session is open at a time, and each is handled on one
// poller goroutine; the fields are atomic because the next connection's
// poller, the cutter and the final count read them too.
type rlSession struct {
	conn     atomic.Pointer[load.Conn]
	up       atomic.Bool  // welcomed, not yet ended
	downAt   atomic.Int64 // unix ns of the last cut or drop; 0 none pending
	replay   atomic.Uint64
	lastK    [2]atomic.Int64 // highest k received per room
	lost     atomic.Int64    // room frames skipped over
	disorder atomic.Int64    // room frames repeated or out of order
}

// resumeLoad is one run's shared state.
type resumeLoad struct {
	n        int
	pool     *load.Pool
	sess     []rlSession // n sessions, then the publisher
	joins    [2][]byte
	stopping atomic.Bool
	wg       sync.WaitGroup // reconnecting goroutines

	reconnect                          load.Hist
	resumed, presence, recovered       atomic.Int64
	gap, expired, unknown, invalid     atomic.Int64
	pubCloses, pub1008, slowCloses     atomic.Int64
	joined, failedReconnects, cutsDone atomic.Int64
}

// ResumeLoad runs a join storm and a flood with cuts against a server
// with its default options. ResumeLoadConns sessions, each behind a TCP
// proxy of its own (internal/cutproxy), join two rooms; a publisher
// connected directly sends ResumeLoadRate frames/s alternating between
// the rooms for ResumeLoadFlood, while every session's proxy severs it
// (a reset on both sides) ResumeLoadCuts times, at random moments of
// equal slices of the flood. A session reconnects at once through its
// proxy and resumes with its last seq; a refused one joins the rooms
// again. The publisher, if closed, comes back the same way. It reports
// the resumes and refusals by reason, the frames replayed and the room
// frames never received, the publisher's closes, the presence frames the
// sessions received, the reconnect time (cut to $welcome) p50/p99, and
// the server's memory per session.
func ResumeLoad(ctx context.Context, t Target, p Params) (r Result, err error) {
	n, rate, flood, cuts := p.ResumeLoadConns, p.ResumeLoadRate, p.ResumeLoadFlood, p.ResumeLoadCuts
	if n <= 0 || rate <= 0 || flood <= 0 || cuts <= 0 {
		return r, errors.New("resume-load: sessions, rate, flood and cuts must be positive")
	}
	rl := &resumeLoad{n: n, sess: make([]rlSession, n+1)}
	for i, room := range resumeLoadRooms {
		rl.joins[i] = []byte(`{"event":"$join","room":"` + room + `"}`)
	}
	proxies := make([]*cutproxy.Proxy, n)
	defer func() {
		for _, px := range proxies {
			if px != nil {
				_ = px.Close()
			}
		}
	}()
	for i := range proxies {
		if proxies[i], err = cutproxy.Start(t.Addr()); err != nil {
			return r, err
		}
	}
	base, err := t.Stats()
	if err != nil {
		return r, err
	}
	rl.pool, err = load.New(load.Config{
		Addr: t.Addr(),
		AddrOf: func(i int) string {
			if i < n {
				return proxies[i].Addr()
			}
			return t.Addr()
		},
		OnWelcome: rl.welcome, Handler: rl.message, OnClose: rl.closed,
	})
	if err != nil {
		return r, err
	}
	defer func() {
		rl.stopping.Store(true)
		closePool(rl.pool, &r)
		rl.wg.Wait()
	}()

	conns, err := rl.pool.OpenN(ctx, n+1, p.Dialers) // the last one publishes
	if err != nil {
		return r, err
	}
	for i, c := range conns {
		rl.sess[i].conn.Store(c)
		for _, j := range rl.joins {
			if err := c.Send(j); err != nil {
				return r, err
			}
		}
	}
	if err := load.WaitFor(ctx, "joined", rl.joined.Load, int64(2*(n+1)), 60*time.Second); err != nil {
		return r, err
	}

	var peak atomic.Uint64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for sampleCtx.Err() == nil {
			if s, err := t.Sample(); err == nil && s.RSS > peak.Load() {
				peak.Store(s.RSS)
			}
			select {
			case <-sampleCtx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	start := time.Now()
	var cutters sync.WaitGroup
	for i := range n {
		cutters.Add(1)
		go func() {
			defer cutters.Done()
			rl.cut(ctx, i, proxies[i], start, flood, cuts)
		}()
	}
	sent, pubErr := rl.publish(ctx, start, flood, rate)
	cutters.Wait()
	if pubErr != nil {
		stopSampling()
		<-sampled
		return r, pubErr
	}
	var final [2]int64
	final[0], final[1] = (sent+1)/2, sent/2
	settleErr := rl.settle(ctx, final, 30*time.Second)
	stopSampling()
	<-sampled
	after, err := t.Stats()
	if err != nil {
		return r, err
	}

	var lost, disorder int64
	for i := range n {
		s := &rl.sess[i]
		for k := range final {
			lost += final[k] - min(final[k], s.lastK[k].Load())
		}
		lost += s.lost.Load()
		disorder += s.disorder.Load()
	}
	r.add("sessions", "count", float64(n))
	r.add("cuts", "count", float64(rl.cutsDone.Load()))
	r.add("frames published", "count", float64(sent))
	r.add(MetricRLResumes, "count", float64(rl.resumed.Load()))
	r.add(MetricRLGap, "count", float64(rl.gap.Load()))
	r.add(MetricRLExpired, "count", float64(rl.expired.Load()))
	r.add(MetricRLUnknown, "count", float64(rl.unknown.Load()))
	r.add(MetricRLInvalid, "count", float64(rl.invalid.Load()))
	r.add(MetricRLRecovered, "count", float64(rl.recovered.Load()))
	r.add(MetricRLLost, "count", float64(lost))
	r.add("room frames repeated or out of order", "count", float64(disorder))
	r.add(MetricRLPubCloses, "count", float64(rl.pubCloses.Load()))
	r.add("publisher closes with 1008", "count", float64(rl.pub1008.Load()))
	r.add("sessions closed as slow consumers (4002)", "count", float64(rl.slowCloses.Load()))
	r.add(MetricRLPresence, "count", float64(rl.presence.Load()))
	r.add(MetricRLReconnectP50, "ms", ms(rl.reconnect.Quantile(0.50)))
	r.add(MetricRLReconnectP99, "ms", ms(rl.reconnect.Quantile(0.99)))
	r.add("reconnect time max", "ms", ms(rl.reconnect.Quantile(1)))
	r.add("failed reconnect attempts", "count", float64(rl.failedReconnects.Load()))
	r.add(MetricRLMemory, "KiB", float64(int64(after.RSS)-int64(base.RSS))/1024/float64(n))
	r.add("server peak RSS growth per session during the flood", "KiB", float64(int64(peak.Load())-int64(base.RSS))/1024/float64(n))
	r.add("server heap in use per session after the flood", "KiB", float64(int64(after.HeapInuse)-int64(base.HeapInuse))/1024/float64(n))
	return r, settleErr
}

// welcome handles a connection's $welcome: a refused resume is counted
// by reason and the new session joins the rooms again.
func (rl *resumeLoad) welcome(c *load.Conn, m *load.Msg) {
	s := &rl.sess[c.Index]
	if at := s.downAt.Swap(0); at != 0 {
		rl.reconnect.Add(time.Duration(time.Now().UnixNano() - at))
	}
	s.replay.Store(0)
	if prev := s.conn.Load(); prev != nil && prev != c { // a reconnect
		if bytes.Contains(m.Payload, []byte(`"resumed":true`)) {
			rl.resumed.Add(1)
			s.replay.Store(uint64(load.Int(m.Payload, `"last_seq":`)))
		} else {
			switch load.Str(m.Payload, `"reason":`) {
			case "gap":
				rl.gap.Add(1)
			case "expired":
				rl.expired.Add(1)
			case "unknown":
				rl.unknown.Add(1)
			default:
				rl.invalid.Add(1)
			}
			for _, j := range rl.joins {
				_ = c.Send(j)
			}
		}
	}
	c.N.Store(1) // welcomed
	s.conn.Store(c)
	s.up.Store(true)
}

// message counts one server frame of a session (or the publisher).
func (rl *resumeLoad) message(c *load.Conn, m *load.Msg) {
	s := &rl.sess[c.Index]
	if m.Seq <= s.replay.Load() {
		rl.recovered.Add(1)
	}
	switch ev := string(m.Event); {
	case ev == "$joined":
		rl.joined.Add(1)
	case ev == "m":
		if c.Index >= rl.n {
			return
		}
		k := 0
		if string(m.Room) == resumeLoadRooms[1] {
			k = 1
		}
		v := load.Int(m.Payload, `"k":`)
		last := s.lastK[k].Load()
		switch {
		case v > last+1:
			s.lost.Add(v - last - 1)
		case v <= last:
			s.disorder.Add(1)
			return
		}
		s.lastK[k].Store(v)
	case len(ev) > 8 && (ev[:8] == "$member_" || ev[:9] == "$presence"):
		if c.Index < rl.n {
			rl.presence.Add(1)
		}
	}
}

// closed runs when a connection has ended: the session reconnects at once
// and resumes, unless the run is over. A connection is marked welcomed
// (Conn.N) in welcome; one that ended before its $welcome was a failed
// attempt, and one welcomed but no longer the session's was superseded.
func (rl *resumeLoad) closed(c *load.Conn) {
	s := &rl.sess[c.Index]
	if rl.stopping.Load() || (c.N.Load() != 0 && s.conn.Load() != c) {
		return
	}
	s.up.Store(false)
	s.downAt.CompareAndSwap(0, time.Now().UnixNano())
	switch code := c.CloseCode(); {
	case c.N.Load() == 0:
		rl.failedReconnects.Add(1)
	case c.Index == rl.n:
		rl.pubCloses.Add(1)
		if code == 1008 {
			rl.pub1008.Add(1)
		}
	case code == 4002:
		rl.slowCloses.Add(1)
	}
	rl.wg.Add(1)
	go func() {
		defer rl.wg.Done()
		rl.redial(s.conn.Load())
	}()
}

// redial resumes the session of old, its last welcomed connection, on a
// new one, retrying for 30 s.
func (rl *resumeLoad) redial(old *load.Conn) {
	deadline := time.Now().Add(30 * time.Second)
	for !rl.stopping.Load() {
		var err error
		if tok := old.Token(); tok != "" {
			_, err = rl.pool.OpenResume(old.Index, tok, old.LastSeq())
		} else {
			_, err = rl.pool.Open(old.Index)
		}
		if err == nil || time.Now().After(deadline) {
			return
		}
		rl.failedReconnects.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
}

// cut severs session i's connection cuts times: the k-th cut comes at a
// random moment of the k-th of cuts equal slices of the flood, as soon as
// the session is connected then.
func (rl *resumeLoad) cut(ctx context.Context, i int, px *cutproxy.Proxy, start time.Time, flood time.Duration, cuts int) {
	slice := flood / time.Duration(cuts)
	for k := range cuts {
		at := start.Add(time.Duration(k)*slice + time.Duration(rand.Int64N(int64(slice)*9/10)))
		end := start.Add(time.Duration(k+1) * slice)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		s := &rl.sess[i]
		for !s.up.Load() && time.Now().Before(end) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if !s.up.Load() {
			continue
		}
		s.downAt.Store(time.Now().UnixNano())
		if px.Cut() > 0 {
			rl.cutsDone.Add(1)
		}
	}
}

// publish sends rate frames/s alternating between the rooms for flood,
// paced from start (a late send is made at once, not skipped), each with
// its room's next k. It waits for a closed publisher to come back. It
// returns how many frames it sent.
func (rl *resumeLoad) publish(ctx context.Context, start time.Time, flood time.Duration, rate float64) (int64, error) {
	total := int64(rate * flood.Seconds())
	pub := &rl.sess[rl.n]
	var k [2]int64
	for i := range total {
		if err := ctx.Err(); err != nil {
			return i, err
		}
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		room := i % 2
		k[room]++
		msg := `{"event":"m","room":"` + resumeLoadRooms[room] + `","payload":{"k":` + strconv.FormatInt(k[room], 10) + `}}`
		deadline := time.Now().Add(30 * time.Second)
		for {
			if c := pub.conn.Load(); pub.up.Load() && c != nil && c.Send([]byte(msg)) == nil {
				break
			}
			if time.Now().After(deadline) {
				return i, fmt.Errorf("resume-load: the publisher was not back within 30 s (frame %d)", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return total, nil
}

// settle waits until every session is connected and has the last frame
// of both rooms, or timeout passes (the count then shows what is missing).
func (rl *resumeLoad) settle(ctx context.Context, final [2]int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		behind := 0
		for i := range rl.n {
			s := &rl.sess[i]
			if !s.up.Load() || s.lastK[0].Load() < final[0] || s.lastK[1].Load() < final[1] {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return nil // reported as frames not recovered
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
