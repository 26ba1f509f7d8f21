package soak

import (
	"context"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// runHostile: the fan-out load (one room of Conns members, four of them
// publishing Rate messages/s in all) for the whole run; after the first
// third of the samples (the clean phase), Bad% of the clients (at least
// one) start misbehaving, each replaying the attacks of attacks.go in
// turn over raw sockets. Must show: the server alive with no "panic" in
// its log, and the healthy p99 of the hostile phase within 1.2× the clean
// phase's.
func runHostile(ctx context.Context, h *H) error {
	cfg := h.cfg
	room := roomName(Hostile, 0)
	nBad := max(1, int(math.Round(float64(cfg.Conns)*cfg.Bad/100)))
	nPubs := min(4, cfg.Conns)
	h.Param("attackers", nBad)
	h.Param("publishers", nPubs)
	h.Param("messages_per_s", cfg.Rate)
	var joined atomic.Int64
	pool, err := h.watchedPool("healthy closes", roomMember(h, &joined, h.Drop))
	if err != nil {
		return err
	}
	defer func() { _ = pool.end(10 * time.Second) }()
	h.SetClients(pool.Len)
	conns, err := pool.OpenN(ctx, cfg.Conns, cfg.Dialers)
	if err != nil {
		return err
	}
	if err := joinAll(ctx, conns, func(int) string { return room }, &joined); err != nil {
		return err
	}
	var nextPub atomic.Int64
	st := newStream(h, []string{room}, func(int) *load.Conn { return conns[nextPub.Add(1)%int64(nPubs)] }, cfg.Rate, cfg.Size)
	go st.run()
	defer st.halt()

	host, _, _ := net.SplitHostPort(h.Addr())
	var (
		results tally
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		made    = h.Counter("attacks")
	)
	startAttacks := func() {
		for i := range nBad {
			a := &attacker{pool: pool.Pool, host: host, id: i, stop: stop}
			wg.Go(func() {
				for j := i; ; j++ {
					select {
					case <-stop:
						return
					default:
					}
					at := attacks[j%len(attacks)]
					ok, saw := at.fn(a)
					results.add(at.name, ok, saw)
					made.Add(1)
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			})
		}
	}
	n := max(1, int((cfg.Duration+cfg.Sample/2)/cfg.Sample))
	clean := max(1, n/3)
	h.Param("clean_samples", clean)
	h.SetPhase(phaseClean)
	err = h.Measure(ctx, func(i int) error {
		if i == clean-1 {
			h.SetPhase(phaseHostile)
			startAttacks()
		}
		return nil
	})
	close(stop)
	wg.Wait()
	st.halt()
	if err != nil {
		return err
	}
	h.AddCheck(PhaseRatio(h.samples, cfg.Limits))
	h.AddCheck(count("healthy closes", pool.lost.Load(), 0, "healthy members the server ended"))
	h.AddCheck(count("malformed or out-of-seq frames", pool.Stats().Malformed.Load()+pool.Stats().SeqErrors.Load(), 0, ""))
	lines, tries, bad := results.lines()
	h.AddCheck(atLeast("attacks made", int64(tries), 1, ""))
	h.AddCheck(Check{Name: "attacks answered otherwise than docs/hostile.md says", Value: float64(bad), Pass: bad == 0, Info: true,
		Detail: "see the notes; informational: the server's hardening is tested in api/"})
	for _, l := range lines {
		h.Note("%s", l)
	}
	if err := pool.end(10 * time.Second); err != nil {
		h.Note("closing the clients: %v", err)
	}
	return h.Quiet(ctx)
}
