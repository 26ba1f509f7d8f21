package api

import (
	"testing"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/resume"
)

// BenchmarkConcurrentPublishers measures what one room order costs: 4
// goroutines per core publish into one room of 2,000 sessions (without
// transports, as while suspended, so only the enqueue is measured), and
// every room fan-out is serialized by the room's lock. Compare ns/delivery
// with -cpu 1 (no contention). Run it with
//
//	go test -run '^$' -bench ConcurrentPublishers -cpu 1,2 ./api/
func BenchmarkConcurrentPublishers(b *testing.B) {
	const members = 2000
	s := New(&Options{DisablePresence: true, ReplayFrames: 1, QueueFrames: 1, RateLimits: NoRateLimits()})
	cfg := s.opts.streamConfig()
	cfg.ControlFrames = 1
	s.out = resume.NewStreams(cfg)
	for range members {
		c := &Conn{srv: s, id: resume.NewSessionID(), stream: s.out.New(), rooms: []string{"all"}}
		if _, _, err := s.rooms.Join("all", c.member()); err != nil {
			b.Fatal(err)
		}
	}
	payload := []byte(`"` + string(make64()) + `"`)
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out := frame.NewOutgoing(Frame{Event: "tick", Room: "all", Kind: frame.JSONPayload, Payload: payload})
			if got := s.fanOut("all", out, nil); got != members {
				b.Errorf("delivered to %d of %d", got, members)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/members, "ns/delivery")
}
