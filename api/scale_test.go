package api

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/resume"
)

// BenchmarkBroadcast1M puts ROOMLOOP_SESSIONS (default 1,000,000) sessions
// into one room through the real session registry, room table and
// per-session streams, with no sockets, and broadcasts 64-byte frames to
// all of them through the server's fan-out. It reports:
//
//   - idle-B/session: heap per session (registry entry, Conn, Stream,
//     membership) before any frame;
//   - held-B/session: the same while every session holds its last frames;
//   - ns/delivery: fan-out time per recipient;
//   - allocs/op: allocations per publish, which must not grow with the
//     room (compare ROOMLOOP_SESSIONS=10000).
//
// The sessions have no transport (as while suspended), so frames are not
// written; the engine keeps at most three per session (one queued, one
// replay, one control) and each publish also evicts the oldest: the cost
// of an enqueue plus a release, as in steady state. Run it with
//
//	go test -run '^$' -bench Broadcast1M -benchtime 20x ./api/
func BenchmarkBroadcast1M(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("ROOMLOOP_SESSIONS")); err == nil && v > 0 {
		n = v
	}
	s := New(&Options{DisablePresence: true, ReplayFrames: 1, QueueFrames: 1, RateLimits: NoRateLimits()})
	cfg := s.opts.streamConfig()
	cfg.ControlFrames = 1
	s.out = resume.NewStreams(cfg)

	before := heapInUse()
	conns := make([]*Conn, n)
	for i := range conns {
		c := &Conn{srv: s, id: resume.NewSessionID(), stream: s.out.New(), rooms: []string{"all"}}
		if !s.sess.Add(c) {
			b.Fatal("duplicate session id")
		}
		if _, _, err := s.rooms.Join("all", c.member()); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	idle := float64(heapInUse()-before) / float64(n)

	out := func() *frame.Outgoing {
		return frame.NewOutgoing(Frame{Event: "tick", Room: "all", From: "s-publisher",
			Kind: frame.JSONPayload, Payload: []byte(`"` + string(make64()) + `"`)})
	}
	s.fanOut("all", out(), nil) // warm the member snapshot pool and the rings
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if got := s.fanOut("all", out(), nil); got != n {
			b.Fatalf("delivered to %d of %d", got, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
	b.ReportMetric(idle, "idle-B/session")
	b.ReportMetric(float64(heapInUse()-before)/float64(n), "held-B/session")
	runtime.KeepAlive(conns)
}

// make64 returns 62 payload bytes, 64 with the JSON quotes.
func make64() []byte {
	p := make([]byte, 62)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	return p
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkRoomFrameHistograms measures what Options.Histograms costs a
// client frame: a member's 64-byte room frame through the server's
// handling (membership check, default route, fan-out to 100 members
// without sockets), with the histograms off and on. Compare ns/op:
//
//	go test -run '^$' -bench RoomFrameHistograms -count 10 ./api/
func BenchmarkRoomFrameHistograms(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run("histograms="+strconv.FormatBool(on), func(b *testing.B) {
			s := New(&Options{DisablePresence: true, ReplayFrames: 1, QueueFrames: 1, RateLimits: NoRateLimits(), Histograms: on})
			cfg := s.opts.streamConfig()
			cfg.ControlFrames = 1
			s.out = resume.NewStreams(cfg)
			var sender *Conn
			for range 100 {
				c := &Conn{srv: s, id: resume.NewSessionID(), stream: s.out.New(), rooms: []string{"r"}}
				if _, _, err := s.rooms.Join("r", c.member()); err != nil {
					b.Fatal(err)
				}
				sender = c
			}
			f := Frame{Event: "tick", Room: "r", From: sender.id, Kind: frame.JSONPayload, Payload: []byte(`"` + string(make64()) + `"`)}
			b.ReportAllocs()
			for b.Loop() {
				g := f
				s.application(sender, &g)
			}
			if on && s.Stats().HandlerSeconds.Count == 0 {
				b.Fatal("no handler durations counted")
			}
		})
	}
}
