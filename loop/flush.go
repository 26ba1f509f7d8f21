package loop

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// shard owns a share of the connections: it keeps them in a registry for
// sweeps and shutdown, and its flusher goroutine writes every connection
// that has something pending. A connection belongs to one shard for life,
// so its writes are serialized on that shard's flusher.
type shard struct {
	eng  *Engine
	wake chan struct{} // capacity 1: "the dirty list became non-empty"

	mu    sync.Mutex // guards conns and dirty
	conns []*Conn
	dirty []*Conn

	spare []*Conn // flusher-owned: the drained list, reused
	buf   []byte  // flusher-owned: the output buffer, reused

	// writes counts the buffers with stream frames that the flusher handed
	// to sockets, frames those frames; only the flusher adds, anyone may
	// read.
	writes, frames atomic.Uint64
}

func newShard(e *Engine) *shard {
	return &shard{eng: e, wake: make(chan struct{}, 1)}
}

// add registers c in the shard.
func (s *shard) add(c *Conn) {
	s.mu.Lock()
	c.slot = int32(len(s.conns))
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

// remove unregisters c.
func (s *shard) remove(c *Conn) {
	s.mu.Lock()
	if i := int(c.slot); i >= 0 && i < len(s.conns) && s.conns[i] == c {
		last := len(s.conns) - 1
		s.conns[i] = s.conns[last]
		s.conns[i].slot = int32(i)
		s.conns[last] = nil
		s.conns = s.conns[:last]
		c.slot = -1
	}
	s.mu.Unlock()
}

// snapshot appends the shard's connections to dst.
func (s *shard) snapshot(dst []*Conn) []*Conn {
	s.mu.Lock()
	dst = append(dst, s.conns...)
	s.mu.Unlock()
	return dst
}

// markDirty schedules c for its shard's next flush, once.
func (c *Conn) markDirty() {
	if c.dirty.CompareAndSwap(false, true) {
		c.shard.push(c)
	}
}

func (s *shard) push(c *Conn) {
	s.mu.Lock()
	s.dirty = append(s.dirty, c)
	first := len(s.dirty) == 1
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// run is the flusher: it sleeps until a connection is dirty, then writes
// all dirty connections. A flush starts at once after an idle period and
// at most once per tick while busy, so bursts coalesce into one write per
// connection per tick. The runtime's sleeps are about a millisecond
// coarse (a 100 µs sleep takes 1.1 ms on an idle Linux process), so the
// part of a wait under a millisecond is not slept: the flusher yields
// once instead, letting the goroutines that are ready (a fan-out in
// progress) queue their frames first.
func (s *shard) run(stop <-chan struct{}) {
	tick := s.eng.cfg.Tick
	var last time.Time
	for {
		select {
		case <-s.wake:
		case <-stop:
			return
		}
		if wait := tick - time.Since(last); wait > 0 {
			if whole := wait.Truncate(time.Millisecond); whole > 0 {
				time.Sleep(whole)
			}
			runtime.Gosched()
		}
		last = time.Now()
		s.mu.Lock()
		list := s.dirty
		s.dirty = s.spare[:0]
		s.mu.Unlock()
		for i, c := range list {
			s.flush(c)
			list[i] = nil
		}
		s.spare = list[:0]
	}
}

// flush writes what c has pending in one write: its control frames, then
// its stream's frames, then the close frame once the frames it owes before
// it are out. While nbio still holds bytes of an earlier write, only a
// close frame that owes nothing is written; the rest waits until nbio
// reports the socket drained (see onWritten).
func (s *shard) flush(c *Conn) {
	c.dirty.Store(false)
	if c.state.Load() == stateClosed {
		return
	}
	if c.dropReady.CompareAndSwap(true, false) {
		c.drop()
		return
	}
	if c.unsent.Load() > 0 && !s.claimWritable(c) {
		s.flushCloseOnly(c)
		return
	}
	c.mu.Lock()
	st, o := c.stream, &c.ctl
	if o.ping && st != nil {
		// The ping goes out after every frame written so far: its pong
		// confirms them (see reader.OnControl).
		c.pingAfter.Store(st.sentTo(c))
	}
	buf := c.ctl.appendControl(s.buf[:0], c.codec)
	closing, now, upTo := o.closeQueued && !o.closeSent, o.closeNow, uint64(math.MaxUint64)
	if o.closeQueued {
		upTo = o.closeUpTo // frames queued after Close wait for a resume
	}
	c.mu.Unlock()

	more, frames := false, 0
	if st != nil && !now {
		buf, frames, more = st.appendFor(c, buf, upTo)
		if frames > 0 {
			c.confirmSoon()
		}
	}
	closeNow := false
	if closing && !more {
		c.mu.Lock()
		buf = c.ctl.appendClose(buf)
		closeNow = c.ctl.peerClosed
		c.mu.Unlock()
	}
	if frames > 0 { // counted first: a reader that got them sees them counted
		s.writes.Add(1)
		s.frames.Add(uint64(frames))
	}
	if len(buf) > 0 {
		c.write(buf)
	}
	s.keep(buf)
	switch {
	case closeNow:
		c.dropWhenWritten()
	case more:
		c.markDirty()
	}
}

// claimWritable registers c as waiting for nbio to drain, and reports
// whether it drained meanwhile (then the caller may write after all).
func (s *shard) claimWritable(c *Conn) bool {
	c.wantWritable.Store(true)
	return c.unsent.Load() <= 0 && c.wantWritable.CompareAndSwap(true, false)
}

// flushCloseOnly writes a queued close frame while nbio still holds bytes,
// if it owes no stream frame first (a detached transport owes none).
func (s *shard) flushCloseOnly(c *Conn) {
	c.mu.Lock()
	o := &c.ctl
	if !o.closeQueued || o.closeSent || (!o.closeNow && c.stream.owes(c, o.closeUpTo)) {
		c.mu.Unlock()
		return
	}
	buf := o.appendClose(s.buf[:0])
	c.mu.Unlock()
	c.write(buf)
	s.keep(buf)
}

// keep retains buf for reuse unless it grew unusually large.
func (s *shard) keep(buf []byte) {
	if cap(buf) <= 2*maxWriteChunk {
		s.buf = buf[:0]
	}
}

// confirmSoon brings the next ping forward to ConfirmAfter from now, when
// the stream keeps written frames for a resume: its pong frees them (see
// Stream.Confirm), so a client that has gone quiet holds no frames for
// long. A busy client is pinged at most every ConfirmAfter.
func (c *Conn) confirmSoon() {
	cfg := &c.eng.cfg
	if cfg.ReplayFrames == 0 || cfg.ConfirmAfter <= 0 {
		return
	}
	due := nowNano() + int64(min(cfg.ConfirmAfter, cfg.PingInterval))
	for {
		next := c.nextPing.Load()
		if next != 0 && next <= due {
			return
		}
		// 0: the sweeper has not scheduled the first ping yet.
		if c.nextPing.CompareAndSwap(next, due) {
			return
		}
	}
}
