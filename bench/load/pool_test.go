package load

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roomloop/roomloop/bench/serve"
)

// TestPoolBroadcast opens connections to both servers, joins a room, and
// checks that a broadcast reaches every other member with correct seqs.
func TestPoolBroadcast(t *testing.T) {
	for _, impl := range serve.Impls() {
		t.Run(impl, func(t *testing.T) {
			srv, err := serve.Start(serve.Config{Impl: impl, Addr: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = srv.Close() }()
			var joined, got atomic.Int64
			p, err := New(Config{Addr: srv.Addr(), Handler: func(c *Conn, m *Msg) {
				switch string(m.Event) {
				case "$joined":
					joined.Add(1)
				case "b":
					if Int(m.Payload, `"k":`) == 7 {
						got.Add(1)
					}
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			const n = 40
			conns, err := p.OpenN(ctx, n, 8)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range conns {
				if c.Session() == "" {
					t.Fatal("no session id")
				}
				if err := c.Send([]byte(`{"event":"$join","room":"r"}`)); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, func() bool { return joined.Load() == n })
			if err := conns[0].Send([]byte(`{"event":"b","room":"r","payload":{"k":7}}`)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return got.Load() == n-1 })
			st := p.Stats()
			if st.Malformed.Load() != 0 || st.SeqErrors.Load() != 0 {
				t.Fatalf("malformed %d, seq errors %d", st.Malformed.Load(), st.SeqErrors.Load())
			}
			if err := p.Close(5 * time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
