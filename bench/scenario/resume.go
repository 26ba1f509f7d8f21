package scenario

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// resumeRoom is the resume scenario's room.
const resumeRoom = "resume"

// Resume measures how fast a crowd comes back after its connections
// drop. ResumeConns clients connect and join one room (cold: dial,
// upgrade, $welcome, $join, $joined). Then every one of them loses its
// TCP connection without a close frame (a reset), a publisher that stays
// sends ResumeMissed messages into the room, and they all reconnect,
// Dialers at a time. A client whose $welcome offered a resume token
// (roomloop with resumption on) resumes with it and its last seq and is
// back once it has every missed message, in order; a client without one
// (the baseline has no resumption) connects afresh and is back at its
// $joined, having missed the messages. It reports both times, their
// ratio, the missed messages recovered per client, and the resumes the
// server refused.
func Resume(ctx context.Context, t Target, p Params) (r Result, err error) {
	n, missed := p.ResumeConns, int64(p.ResumeMissed)
	var phase2 atomic.Bool
	var joined, back, resumed, refused, disorder atomic.Int64
	got := make([]atomic.Int64, n)       // room messages per client, second phase
	wasResumed := make([]atomic.Bool, n) // per client, second phase
	var clients []*load.Conn             // the first connections; set before phase2
	join := []byte(`{"event":"$join","room":"` + resumeRoom + `"}`)
	pool, err := load.New(load.Config{
		Addr: t.Addr(),
		OnWelcome: func(c *load.Conn, m *load.Msg) {
			if !phase2.Load() || c.Index >= n {
				return
			}
			if bytes.Contains(m.Payload, []byte(`"resumed":true`)) {
				wasResumed[c.Index].Store(true)
				resumed.Add(1)
				return
			}
			if clients[c.Index].Token() != "" { // asked to resume: refused
				refused.Add(1)
			}
			_ = c.Send(join) // a fresh session joins again
		},
		Handler: func(c *load.Conn, m *load.Msg) {
			switch string(m.Event) {
			case "$joined":
				if phase2.Load() {
					back.Add(1) // a fresh session: back, without the missed messages
				} else {
					joined.Add(1)
				}
			case "m":
				if c.Index >= n || !phase2.Load() {
					return
				}
				k := load.Int(m.Payload, `"k":`)
				if k != got[c.Index].Load() {
					disorder.Add(1)
				}
				if got[c.Index].Add(1) == missed {
					back.Add(1)
				}
			}
		},
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)

	start := time.Now()
	conns, err := pool.OpenN(ctx, n+1, p.Dialers) // the last one publishes
	if err != nil {
		return r, err
	}
	for _, c := range conns {
		if err := c.Send(join); err != nil {
			return r, err
		}
	}
	if err := load.WaitFor(ctx, "joined", joined.Load, int64(n+1), 60*time.Second); err != nil {
		return r, err
	}
	cold := time.Since(start)

	pub := conns[n]
	clients = conns[:n]
	for _, c := range clients {
		c.Reset()
	}
	if err := waitGone(ctx, t, n); err != nil {
		return r, err
	}
	phase2.Store(true)
	for k := range missed {
		msg := `{"event":"m","room":"` + resumeRoom + `","payload":{"k":` + strconv.FormatInt(k, 10) + `}}`
		if err := pub.Send([]byte(msg)); err != nil {
			return r, err
		}
	}
	time.Sleep(200 * time.Millisecond) // let the server queue them for the absent clients

	cpu0, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	start = time.Now()
	_, err = pool.OpenEach(ctx, n, p.Dialers, func(i int) (*load.Conn, error) {
		old := clients[i]
		if tok := old.Token(); tok != "" {
			return pool.OpenResume(i, tok, old.LastSeq())
		}
		return pool.Open(i)
	})
	if err != nil {
		return r, err
	}
	if err := load.WaitFor(ctx, "back", back.Load, int64(n), 60*time.Second); err != nil {
		return r, err
	}
	again := time.Since(start)
	cpu1, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	var recovered, lost int64
	for i := range clients {
		recovered += got[i].Load()
		if wasResumed[i].Load() {
			lost += max(0, missed-got[i].Load())
		}
	}
	r.add("cold connect + join, all clients", "s", cold.Seconds())
	r.add("back after the drop, all clients", "s", again.Seconds())
	r.add("back after the drop / cold connect", "ratio", again.Seconds()/cold.Seconds())
	r.add("server CPU per 1k clients back", "ms", (cpu1-cpu0)*1e6/float64(n))
	r.add("clients resumed", "count", float64(resumed.Load()))
	r.add("resumes refused", "count", float64(refused.Load()))
	r.add("missed messages recovered per client", "count", float64(recovered)/float64(n))
	r.add("resumed clients: missed messages lost, repeated or reordered", "count", float64(lost+disorder.Load()))
	return r, nil
}

// waitGone waits until the server has seen n connections go: roomloop
// counts them as suspended (resumption on) or gone; for a server that
// reports no counts, it waits a second.
func waitGone(ctx context.Context, t Target, n int) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := t.Stats()
		if err != nil {
			return err
		}
		if st.Sessions == 0 && st.Conns == 0 { // no counts (the baseline)
			time.Sleep(time.Second)
			return nil
		}
		if st.Conns <= 1 && (st.Suspended >= n || st.Suspended == 0) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server still has %d connections and %d suspended sessions of %d dropped", st.Conns, st.Suspended, n)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
