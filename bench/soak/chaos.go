package soak

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/bench/load"
)

// roomName names room i of a run.
func roomName(run string, i int) string { return run + "-" + strconv.Itoa(i) }

// runChaos: Conns clients, one room per 100, reach the server through a
// proxy that severs Sever% of them every second (half with a FIN, half
// with a reset; no close frame either way). Each room has a publisher
// connected directly (never severed) sending a steady stream, Rate
// messages/s in all, numbered per room. Every severed client resumes
// with ?resume=<token>&last_seq=<n> and checks, by the per-session seq and
// the per-room counter, that it lost, doubled and reordered nothing.
func runChaos(ctx context.Context, h *H) error {
	cfg := h.cfg
	nRooms := max(1, cfg.Conns/100)
	rooms := make([]string, nRooms)
	for i := range rooms {
		rooms[i] = roomName(Chaos, i)
	}
	h.Param("rooms", nRooms)
	h.Param("messages_per_s", cfg.Rate)
	h.Param("sever_pct_per_s", cfg.Sever)
	px, err := newProxy(h.Addr())
	if err != nil {
		return err
	}
	defer px.Close()
	var (
		lost     = h.Counter("lost")
		dup      = h.Counter("duplicated/reordered")
		severed  = h.Counter("severed")
		gotMsgs  = h.Counter("received")
		seqError = h.Counter("seq errors")
	)
	f, err := newFleet(h, px.Addr(), cfg.Conns, func(i int) []string { return []string{rooms[i%nRooms]} })
	if err != nil {
		return err
	}
	defer func() { _ = f.close() }()
	f.onMsg = func(cl *fclient, c *load.Conn, m *load.Msg) {
		if string(m.Event) != "m" {
			return
		}
		h.ObserveSince(load.Int(m.Payload, `"t":`))
		k := load.Int(m.Payload, `"k":`)
		room := string(m.Room)
		cl.mu.Lock()
		last, ok := cl.lastK[room]
		cl.lastK[room] = max(k, last)
		cl.mu.Unlock()
		gotMsgs.Add(1)
		switch {
		case !ok: // the first message after joining sets the baseline
		case k == last+1:
		case k > last+1:
			lost.Add(k - last - 1)
		default:
			dup.Add(1)
		}
	}
	f.onWelcome = func(cl *fclient, c *load.Conn, asked, resumed bool, reason string) {
		if !resumed {
			// A new session: the stream restarts for it (and a refusal
			// is counted as a failure below).
			cl.mu.Lock()
			clear(cl.lastK)
			cl.mu.Unlock()
		}
	}
	h.SetClients(func() int { return int(f.connected.Load()) })
	if err := f.start(ctx, min(cfg.Dialers, 16), 120*time.Second); err != nil {
		return err
	}

	// Publishers: one per room, straight to the server.
	var pubJoined sync.WaitGroup
	pubJoined.Add(nRooms)
	var once sync.Map
	pubPool, err := load.New(load.Config{Addr: h.Addr(), Handler: func(c *load.Conn, m *load.Msg) {
		if string(m.Event) == "$joined" {
			if _, dupl := once.LoadOrStore(c.Index, true); !dupl {
				pubJoined.Done()
			}
		}
	}})
	if err != nil {
		return err
	}
	defer func() { _ = pubPool.Close(5 * time.Second) }()
	pubs, err := pubPool.OpenN(ctx, nRooms, cfg.Dialers)
	if err != nil {
		return err
	}
	for i, c := range pubs {
		if err := c.Send([]byte(`{"event":"$join","room":"` + rooms[i] + `"}`)); err != nil {
			return err
		}
	}
	pubJoined.Wait()
	st := newStream(h, rooms, func(i int) *load.Conn { return pubs[i] }, cfg.Rate, cfg.Size)
	go st.run()
	defer st.halt()

	// The chaos: every second, sever Sever% of the connections.
	stopSever := make(chan struct{})
	var sevWG sync.WaitGroup
	sevWG.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var owed float64
		rst := false
		for {
			select {
			case <-stopSever:
				return
			case <-t.C:
			}
			owed += float64(cfg.Conns) * cfg.Sever / 100
			n := int(owed)
			owed -= float64(n)
			for range n {
				rst = !rst
				severed.Add(int64(px.Sever(1, rst)))
			}
		}
	})
	err = h.Measure(ctx, nil)
	close(stopSever)
	sevWG.Wait()
	st.halt()
	if err != nil {
		return err
	}
	// Let every client reconnect and catch up with its room's last message.
	if err := f.waitConnected(ctx, 60*time.Second); err != nil {
		return err
	}
	behind := func() (n int64, first string) {
		for _, cl := range f.cls {
			room := cl.rooms[0]
			want := st.sent[roomIndex(rooms, room)].Load() - 1
			cl.mu.Lock()
			got, ok := cl.lastK[room]
			cl.mu.Unlock()
			if !ok || got != want {
				n++
				if first == "" {
					first = fmt.Sprintf("client %d in %s at k=%d of %d", cl.idx, room, got, want)
				}
			}
		}
		return n, first
	}
	deadline := time.Now().Add(30 * time.Second)
	n, first := behind()
	for n > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		n, first = behind()
	}
	seqError.Store(f.pool.Stats().SeqErrors.Load())
	malformed := f.pool.Stats().Malformed.Load()
	h.AddCheck(count("lost messages", lost.Load(), 0, "per-room counter gaps seen by the clients"))
	h.AddCheck(count("duplicated or reordered messages", dup.Load(), 0, ""))
	h.AddCheck(count("seq errors", seqError.Load(), 0, "a seq that was not the previous plus one, resumes included"))
	h.AddCheck(count("malformed frames", malformed, 0, ""))
	h.AddCheck(count("clients behind their room's last message", n, 0, first))
	h.AddCheck(count("resumes refused", f.refused.Load(), 0, fmt.Sprint(f.refusals())))
	h.AddCheck(atLeast("resumes", f.resumed.Load(), min(1, severed.Load()),
		fmt.Sprintf("%d connections severed, %d redials failed and were retried; a sever that hits a connection before its $welcome costs a redial, not a resume",
			severed.Load(), f.redialErrs.Load())))
	var peakHeap uint64
	var peakQueued int64
	for _, s := range h.samples {
		peakHeap = max(peakHeap, s.Heap)
		peakQueued = max(peakQueued, s.Queued)
	}
	bound := float64(h.base.Heap) + float64(cfg.Conns)*float64(api.DefaultReplayBytes+queueBytes) + 64*mib
	h.AddCheck(Check{Name: "server heap within the replay bound", Value: float64(peakHeap) / mib, Limit: bound / mib, Unit: "MiB",
		Pass: float64(peakHeap) <= bound, Detail: fmt.Sprintf("peak heap in use ≤ baseline + conns × (replay %d KiB + queue %d KiB) + 64 MiB; peak queued %d KiB",
			api.DefaultReplayBytes>>10, queueBytes>>10, peakQueued>>10)})
	srvResumes := int64(-1)
	if s, err := h.Stats(); err == nil {
		srvResumes = s.Resumes
	}
	h.Note("sent %d messages; clients received %d; %d connections severed; %d resumes seen by the clients, %d by the server",
		st.total(), gotMsgs.Load(), severed.Load(), f.resumed.Load(), srvResumes)
	st.halt()
	_ = pubPool.Close(5 * time.Second)
	if err := f.close(); err != nil {
		h.Note("closing the clients: %v", err)
	}
	px.Close()
	return h.Quiet(ctx)
}

// roomIndex returns the index of room in rooms.
func roomIndex(rooms []string, room string) int {
	for i, r := range rooms {
		if r == room {
			return i
		}
	}
	return -1
}
