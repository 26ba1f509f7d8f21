package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// slowSock is a member of the slow mix that is not in the load pool: a
// blocking socket with a small receive buffer that either never reads
// (stalled) or reads at most a budget per tick (throttled).
type slowSock struct {
	nc   net.Conn
	rc   syscall.RawConn
	dead bool // the server ended it (throttled only: stalled ones never read)
}

// openSlow dials, upgrades, joins room and reads until "$joined".
func openSlow(pool *load.Pool, room string) (*slowSock, error) {
	nc, got, err := pool.DialRaw("", 4096)
	if err != nil {
		return nil, err
	}
	if _, err := nc.Write(load.ClientFrame([]byte(`{"event":"$join","room":"` + room + `"}`))); err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(`"$joined"`)) {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	_ = nc.SetReadDeadline(time.Time{})
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		_ = nc.Close()
		return nil, errors.New("soak: not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return &slowSock{nc: nc, rc: rc}, nil
}

// readSome reads what is buffered, at most len(buf) bytes, without
// blocking. It reports n and whether the connection has ended.
func (s *slowSock) readSome(buf []byte) (int, bool) {
	var n int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf)
		return true // one attempt; EAGAIN just means nothing yet
	})
	switch {
	case err != nil:
		return 0, true
	case rerr == syscall.EAGAIN || rerr == syscall.EINTR:
		return 0, false
	case rerr != nil, n == 0:
		return 0, true
	}
	return n, false
}

// ping writes a masked WebSocket ping, so that the server's heartbeat
// does not drop a client that only stopped reading.
func (s *slowSock) ping() {
	var mask [4]byte
	_ = s.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = s.nc.Write(wsproto.AppendClientFrame(nil, true, wsproto.OpPing, []byte("soak"), mask))
}

// runSlowMix: a room of Conns members, Stalled% of which never read and
// Throttled% read at half the stream's byte rate; the rest are healthy.
// Eight healthy members publish Rate messages/s in all. The server runs
// with SlowPolicy (default: drop). Must show: server RSS within
// setup + slow members × (queue bytes + one write chunk) + 16 MiB; the
// healthy p99 drifting less than 10%; no drop for a healthy member.
func runSlowMix(ctx context.Context, h *H) error {
	cfg := h.cfg
	room := roomName(SlowMix, 0)
	nStalled := int(math.Round(float64(cfg.Conns) * cfg.Stalled / 100))
	nThrottled := int(math.Round(float64(cfg.Conns) * cfg.Throttled / 100))
	nHealthy := cfg.Conns - nStalled - nThrottled
	if nHealthy < 2 {
		return fmt.Errorf("soak: slowmix needs at least 2 healthy members of %d", cfg.Conns)
	}
	nPubs := min(8, nHealthy)
	perMember := cfg.Rate * float64(cfg.Size+150) // bytes/s each member is sent
	throttleBps := perMember / 2
	h.Param("stalled", nStalled)
	h.Param("throttled", nThrottled)
	h.Param("healthy", nHealthy)
	h.Param("publishers", nPubs)
	h.Param("messages_per_s", cfg.Rate)
	h.Param("size", cfg.Size)
	h.Param("throttled_bytes_per_s", int(throttleBps))
	h.Param("policy", cfg.SlowPolicy)

	var joined atomic.Int64
	healthyDrops := h.Counter("healthy drops")
	pool, err := h.watchedPool("healthy closes", roomMember(h, &joined, func(n int64) { healthyDrops.Add(n) }))
	if err != nil {
		return err
	}
	defer func() { _ = pool.end(10 * time.Second) }()
	conns, err := pool.OpenN(ctx, nHealthy, cfg.Dialers)
	if err != nil {
		return err
	}
	if err := joinAll(ctx, conns, func(int) string { return room }, &joined); err != nil {
		return err
	}
	var slow []*slowSock
	defer func() {
		for _, s := range slow {
			_ = s.nc.Close()
		}
	}()
	for range nStalled + nThrottled {
		s, err := openSlow(pool.Pool, room)
		if err != nil {
			return fmt.Errorf("soak: slow member: %w", err)
		}
		slow = append(slow, s)
	}
	throttled := slow[nStalled:]
	h.SetClients(func() int { return pool.Len() + len(slow) })
	setup, err := h.Stats()
	if err != nil {
		return err
	}

	var (
		slowEnded = h.Counter("slow members ended by the server")
		slowRead  = h.Counter("throttled bytes read")
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	wg.Go(func() { // the throttled readers and everyone's keepalive pings
		tick := 100 * time.Millisecond
		t := time.NewTicker(tick)
		defer t.Stop()
		buf := make([]byte, max(1, int(throttleBps*tick.Seconds())))
		lastPing := time.Now()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			for _, s := range throttled {
				if s.dead {
					continue
				}
				n, ended := s.readSome(buf)
				if ended {
					s.dead = true
					slowEnded.Add(1)
					continue
				}
				slowRead.Add(int64(n))
				for b := buf[:n]; ; {
					i := bytes.Index(b, []byte(`"code":"dropped"`))
					if i < 0 {
						break
					}
					h.Drop(max(1, load.Int(b[i:], `"count":`)))
					b = b[i+1:]
				}
			}
			if time.Since(lastPing) >= 10*time.Second {
				lastPing = time.Now()
				for _, s := range slow {
					if !s.dead {
						s.ping()
					}
				}
			}
		}
	})
	st := newStream(h, []string{room}, func(int) *load.Conn { return nil }, cfg.Rate, cfg.Size)
	var nextPub atomic.Int64
	st.pub = func(int) *load.Conn { return conns[nextPub.Add(1)%int64(nPubs)] }
	go st.run()
	err = h.Measure(ctx, nil)
	st.halt()
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	var peak uint64
	for _, s := range h.samples {
		peak = max(peak, s.RSS)
	}
	nSlow := nStalled + nThrottled
	bound := float64(setup.RSS) + float64(nSlow)*float64(queueBytes+writeChunk) + 16*mib
	h.AddCheck(Check{Name: "RSS within the queue bound", Value: float64(peak) / mib, Limit: bound / mib, Unit: "MiB", Pass: float64(peak) <= bound,
		Detail: fmt.Sprintf("peak ≤ setup %.1f MiB + %d slow × (queue %d KiB + write chunk %d KiB) + 16 MiB",
			float64(setup.RSS)/mib, nSlow, queueBytes>>10, writeChunk>>10)})
	h.AddCheck(P99Drift(h.samples, cfg.Limits))
	h.AddCheck(count("healthy drops", healthyDrops.Load(), 0, "dropped notices to healthy members"))
	h.AddCheck(count("healthy closes", pool.lost.Load(), 0, "healthy members the server ended"))
	h.AddCheck(count("malformed or out-of-seq frames", pool.Stats().Malformed.Load()+pool.Stats().SeqErrors.Load(), 0, ""))
	h.Note("sent %d messages; the throttled readers read %d bytes; the server ended %d of %d throttled members",
		st.total(), slowRead.Load(), slowEnded.Load(), nThrottled)
	pool.letGo()
	for _, s := range slow {
		_ = s.nc.Close()
	}
	slow = nil
	if err := pool.end(10 * time.Second); err != nil {
		h.Note("closing the clients: %v", err)
	}
	return h.Quiet(ctx)
}
