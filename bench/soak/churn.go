package soak

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// churner is a short-lived connection and when and how it ends.
type churner struct {
	c     *load.Conn
	until time.Time
	reset bool
}

// runChurn: Conns steady connections (probed with $ping) while Rate
// connections per second open, join one of 100 rooms, live Life and end,
// alternately with a clean close (1000: the session ends) and a TCP reset
// (the session is suspended until the resume window passes). After the
// run every client leaves and, once the resume window has passed, the
// server must hold no session and no room.
func runChurn(ctx context.Context, h *H) error {
	cfg := h.cfg
	h.Param("connects_per_s", cfg.Rate)
	h.Param("life", cfg.Life.String())
	h.Param("resume_window", h.resumeWindow().String())
	var joined atomic.Int64
	steady, err := h.watchedPool("steady closes", prober(h, &joined))
	if err != nil {
		return err
	}
	defer func() { _ = steady.end(10 * time.Second) }()
	var (
		opened    = h.Counter("opened")
		clean     = h.Counter("clean closes")
		resets    = h.Counter("resets")
		connErrs  = h.Counter("connect errors")
		behind    = h.Counter("connects skipped (behind)")
		churnJoin atomic.Int64
	)
	churn, err := load.New(load.Config{Addr: h.Addr(), Handler: func(c *load.Conn, m *load.Msg) {
		if string(m.Event) == "$joined" {
			churnJoin.Add(1)
		}
	}, OnClose: func(c *load.Conn) { h.NoteClose(c.CloseCode()) }})
	if err != nil {
		return err
	}
	defer func() { _ = churn.Close(5 * time.Second) }()
	h.SetClients(func() int { return steady.Len() + churn.Len() })

	conns, err := steady.OpenN(ctx, cfg.Conns, cfg.Dialers)
	if err != nil {
		return err
	}
	if err := joinAll(ctx, conns, func(i int) string { return "churn-" + strconv.Itoa(i%idleRooms) }, &joined); err != nil {
		return err
	}

	// The connectors: a ticker hands out connects at Rate; a few workers
	// dial; a reaper ends each churner when its life is over.
	var (
		mu    sync.Mutex
		live  []churner // in order of until
		next  atomic.Int64
		wg    sync.WaitGroup
		stop  = make(chan struct{})
		jobs  = make(chan struct{}, max(16, int(cfg.Rate)))
		reapQ = func(now time.Time, all bool) {
			mu.Lock()
			i := 0
			for i < len(live) && (all || !live[i].until.After(now)) {
				i++
			}
			due := append([]churner(nil), live[:i]...)
			live = live[i:]
			mu.Unlock()
			for _, ch := range due {
				if ch.reset {
					ch.c.Reset()
					resets.Add(1)
				} else {
					ch.c.Close()
					clean.Add(1)
				}
			}
		}
	)
	wg.Go(func() {
		pace(stop, cfg.Rate, 10*time.Millisecond, func(int64) {
			select {
			case jobs <- struct{}{}:
			default:
				behind.Add(1)
			}
		})
	})
	for range min(cfg.Dialers, 8) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-jobs:
				}
				k := next.Add(1)
				c, err := churn.Open(int(k))
				if err != nil {
					connErrs.Add(1)
					continue
				}
				opened.Add(1)
				_ = c.Send([]byte(`{"event":"$join","room":"churn-` + strconv.Itoa(int(k)%idleRooms) + `"}`))
				mu.Lock()
				live = append(live, churner{c: c, until: time.Now().Add(cfg.Life), reset: k%2 == 0})
				mu.Unlock()
			}
		})
	}
	wg.Go(func() { // reaper
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				reapQ(now, false)
			}
		}
	})
	pr := startProbe(conns, cfg.ProbeRate)
	err = h.Measure(ctx, nil)
	pr.halt()
	close(stop)
	wg.Wait()
	reapQ(time.Now(), true)
	if err != nil {
		return err
	}
	n := opened.Load()
	h.AddCheck(count("connect errors", connErrs.Load(), n/1000, "at most 0.1% of connects may fail"))
	h.AddCheck(count("steady connections lost", steady.lost.Load(), 0, ""))
	h.AddCheck(Check{Name: "churn connects/s achieved", Value: float64(n) / cfg.Duration.Seconds(), Unit: "1/s", Pass: true, Info: true,
		Detail: strconv.FormatInt(behind.Load(), 10) + " connects skipped because the dialers were behind"})
	h.AddCheck(Check{Name: "churn joins answered", Value: float64(churnJoin.Load()), Pass: true, Info: true})
	if err := steady.end(10 * time.Second); err != nil {
		h.Note("closing the steady clients: %v", err)
	}
	if err := churn.Close(5 * time.Second); err != nil {
		h.Note("closing the churners: %v", err)
	}
	if err := h.WaitEmpty(ctx); err != nil {
		return err
	}
	return h.Quiet(ctx)
}
