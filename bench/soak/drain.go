package soak

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// runDrain: Conns clients in rooms of 100, the first member of each room
// publishing (Rate messages/s in all). Every Cycle the server child gets
// SIGTERM (it drains: close 1001 to every client, then exits) and a new
// one starts on the same address. Clients reconnect with their resume
// token; sessions do not survive a process, so the one right answer is
// "resumed":false with reason "unknown", after which they join again.
// Must show: every client connected at SIGTERM got close 1001 before its
// TCP connection ended; every resume answered "unknown"; all clients back
// after each restart; no drift.
func runDrain(ctx context.Context, h *H) error {
	cfg := h.cfg
	nRooms := max(1, cfg.Conns/100)
	rooms := make([]string, nRooms)
	for i := range rooms {
		rooms[i] = roomName(Drain, i)
	}
	h.Param("rooms", nRooms)
	h.Param("cycle", cfg.Cycle.String())
	h.Param("messages_per_s", cfg.Rate)
	var (
		draining   atomic.Bool
		got1001    = h.Counter("closed with 1001")
		no1001     = h.Counter("dropped without 1001")
		unexpected = h.Counter("closes outside a drain")
		restarts   = h.Counter("restarts")
		atTerm     int64
	)
	f, err := newFleet(h, h.Addr(), cfg.Conns, func(i int) []string { return []string{rooms[i%nRooms]} })
	if err != nil {
		return err
	}
	defer func() { _ = f.close() }()
	f.onMsg = func(cl *fclient, c *load.Conn, m *load.Msg) {
		if string(m.Event) == "m" {
			h.ObserveSince(load.Int(m.Payload, `"t":`))
		}
	}
	f.onClose = func(cl *fclient, c *load.Conn, welcomed bool) {
		switch {
		case !welcomed:
		case !draining.Load():
			unexpected.Add(1)
		case c.CloseCode() == 1001:
			got1001.Add(1)
		default:
			no1001.Add(1)
		}
	}
	h.SetClients(func() int { return int(f.connected.Load()) })
	if err := f.start(ctx, min(cfg.Dialers, 16), 120*time.Second); err != nil {
		return err
	}
	// Client i < nRooms publishes to room i (its own), whatever its session.
	st := newStream(h, rooms, func(i int) *load.Conn { return f.cls[i].current() }, cfg.Rate, cfg.Size)
	go st.run()
	defer st.halt()

	var unclean []string
	var reconnect []float64
	// Restart after every `every` samples (not by the clock: a restart
	// takes time, and the sampler moves its schedule on after one), but
	// not after the last sample.
	every := max(1, int((cfg.Cycle+cfg.Sample/2)/cfg.Sample))
	last := max(1, int((cfg.Duration+cfg.Sample/2)/cfg.Sample)) - 1
	err = h.Measure(ctx, func(i int) error {
		if i == last || (i+1)%every != 0 {
			return nil
		}
		draining.Store(true)
		atTerm += f.connected.Load()
		exitErr, err := h.Restart(func() {
			// Every old connection must have ended before the new server
			// takes its place.
			deadline := time.Now().Add(10 * time.Second)
			for f.pool.Len() > 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			draining.Store(false)
		})
		if err != nil {
			return err
		}
		restarts.Add(1)
		if exitErr != nil {
			unclean = append(unclean, exitErr.Error())
		}
		start := time.Now()
		if err := f.waitConnected(ctx, 60*time.Second); err != nil {
			return fmt.Errorf("after restart %d: %w", restarts.Load(), err)
		}
		reconnect = append(reconnect, time.Since(start).Seconds())
		return nil
	})
	st.halt()
	if err != nil {
		return err
	}
	reasons := f.refusals()
	var other int64
	for k, v := range reasons {
		if k != "unknown" {
			other += v
		}
	}
	h.AddCheck(atLeast("restarts", restarts.Load(), 1, ""))
	h.AddCheck(count("dropped without close 1001", no1001.Load(), 0, "clients connected at SIGTERM whose connection ended without 1001"))
	h.AddCheck(atLeast("closed with 1001", got1001.Load(), atTerm, "clients connected at each SIGTERM, summed"))
	h.AddCheck(count("closes outside a drain", unexpected.Load(), 0, ""))
	h.AddCheck(count("resumes accepted by a new process", f.resumed.Load(), 0, "sessions do not survive a restart"))
	h.AddCheck(count("resumes refused with a reason other than unknown", other, 0, fmt.Sprint(reasons)))
	h.AddCheck(atLeast("resumes refused as unknown", reasons["unknown"], min(1, atTerm), ""))
	h.AddCheck(count("unclean server exits", int64(len(unclean)), 0, fmt.Sprint(unclean)))
	h.AddCheck(count("malformed or out-of-seq frames", f.pool.Stats().Malformed.Load()+f.pool.Stats().SeqErrors.Load(), 0, ""))
	h.Note("reconnect time after each restart (s): %.2f", reconnect)
	if err := f.close(); err != nil {
		h.Note("closing the clients: %v", err)
	}
	return h.Quiet(ctx)
}
