package loop

import (
	"encoding/binary"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
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
	batch *batch  // flusher-owned: the io_uring batch (Config.URingWrites), or nil

	// writes counts the buffers with stream frames that the flusher handed
	// to sockets, frames those frames; only the flusher adds, anyone may
	// read.
	writes, frames atomic.Uint64
	// uringSends counts the writes handed to io_uring, uringShort those
	// of them the socket did not take whole (the rest went to nbio);
	// only the flusher adds, anyone may read.
	uringSends, uringShort atomic.Uint64
	// bytes counts every byte the flusher handed to sockets (flusher
	// only); framesRead the messages handed to the Handler by workers of
	// this shard's connections, bytesRead the bytes read from their
	// sockets (once per read, not per frame).
	bytes      atomic.Uint64
	_          [56]byte // keep the readers' counters off the flusher's line
	framesRead atomic.Uint64
	bytesRead  atomic.Uint64
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
// progress) queue their frames first. With Config.URingWrites the
// flushes queue their writes in the shard's batch, which is submitted
// whenever it holds a ring's worth and after the tick's last flush, so
// nothing of a tick is left unsent when the next one starts (uring.go).
func (s *shard) run(stop <-chan struct{}) {
	defer s.batch.close()
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
		if s.batch != nil {
			s.batch.submit()
		}
		s.spare = list[:0]
	}
}

// flush writes what c has pending in one write (with Config.URingWrites,
// queued in the tick's io_uring batch, which run submits after the last
// flush of the tick): its control frames, then
// its source's messages, then the close frame once the messages it owes
// before it are out. While nbio still holds bytes of an earlier write,
// only a close frame that owes nothing is written; the rest waits until
// nbio reports the socket drained (see onWritten).
func (s *shard) flush(c *Conn) {
	c.flags.store(flagDirty, false)
	if c.state.Load() == stateClosed {
		return
	}
	if c.flags.cas(flagDropReady, true, false) {
		c.drop()
		return
	}
	if c.unsent.Load() > 0 && !s.claimWritable(c) {
		s.flushCloseOnly(c)
		return
	}
	c.mu.Lock()
	src, o := c.src, &c.ctl
	pinged := o.ping
	if o.ping && src != nil {
		// The ping goes out after every message written so far and
		// carries their position: its pong says the peer has them (see
		// ponged).
		o.pingPos = src.Written(c)
	}
	buf := o.appendControl(s.buf[:0])
	closing, now, upTo := o.closeQueued && !o.closeSent, o.closeNow, uint64(math.MaxUint64)
	if o.closeQueued {
		upTo = o.closeUpTo // messages queued after Close stay with the source
	}
	c.mu.Unlock()

	more, frames := false, 0
	if src != nil && !now {
		buf, frames, more = src.AppendTo(c, buf, upTo, maxWriteChunk)
		if frames > 0 {
			c.confirmSoon()
		}
	}
	if pinged || (frames > 0 && c.sndbuf.Load() == 0) {
		c.readSendBuffer()
	}
	closeNow := false
	// A source may hold messages back (until its peer confirms earlier
	// ones) without more: the close frame still waits for them.
	if closing && !more && (now || !owes(src, c, upTo)) {
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
		s.bytes.Add(uint64(len(buf)))
		if b := s.batch; b != nil && b.add(c, buf, closeNow) {
			s.buf = b.buffer()
			if b.full() {
				b.submit()
			}
			if more {
				c.Wake()
			}
			return
		}
		c.write(buf)
	}
	s.keep(buf)
	switch {
	case closeNow:
		c.dropWhenWritten()
	case more:
		c.Wake()
	}
}

// claimWritable registers c as waiting for nbio to drain, and reports
// whether it drained meanwhile (then the caller may write after all).
func (s *shard) claimWritable(c *Conn) bool {
	c.flags.store(flagWantWritable, true)
	return c.unsent.Load() <= 0 && c.flags.cas(flagWantWritable, true, false)
}

// flushCloseOnly writes a queued close frame while nbio still holds bytes,
// if it owes no stream frame first (a detached transport owes none).
func (s *shard) flushCloseOnly(c *Conn) {
	c.mu.Lock()
	o := &c.ctl
	if !o.closeQueued || o.closeSent || (!o.closeNow && owes(c.src, c, o.closeUpTo)) {
		c.mu.Unlock()
		return
	}
	buf := o.appendClose(s.buf[:0])
	c.mu.Unlock()
	s.bytes.Add(uint64(len(buf)))
	c.write(buf)
	s.keep(buf)
}

// keep retains buf for reuse unless it grew unusually large.
func (s *shard) keep(buf []byte) {
	if cap(buf) <= 2*maxWriteChunk {
		s.buf = buf[:0]
	}
}

// owes reports whether src has messages up to position upTo still to
// write to c. Callable with c.mu held; src never calls back into c.
func owes(src Source, c *Conn, upTo uint64) bool {
	return src != nil && src.Written(c) < min(upTo, src.Position())
}

// Probe asks for a ping right after the messages written so far: its
// pong tells the source that the peer has them (Source.Received). A
// source calls it when much is unconfirmed, not from inside its own lock.
// It does nothing once the close frame is sent. It never blocks.
func (c *Conn) Probe() {
	c.mu.Lock()
	// Also while closing: the messages owed before the close frame may
	// wait for confirmations too; never after the close frame.
	st := c.state.Load()
	ok := st == stateOpen || (st == stateClosing && !c.ctl.closeSent)
	c.ctl.ping = c.ctl.ping || ok
	c.mu.Unlock()
	if ok {
		c.Wake()
	}
}

// ponged handles a pong: one that echoes a position (the payload of our
// pings while a source writes) tells the source the peer has every
// message up to it. Any other pong, which a peer may send unasked, says
// nothing.
func (c *Conn) ponged(payload []byte) {
	if len(payload) != 8 {
		return
	}
	if pos := binary.BigEndian.Uint64(payload); pos > 0 {
		if src := c.source(); src != nil {
			src.Received(pos)
		}
	}
}

// SendBuffer returns the socket's send buffer in bytes as the kernel
// reported it (SO_SNDBUF) at the connection's first write or latest ping,
// 0 before that. On Linux it grows with the connection's throughput
// (autotuning, up to net.ipv4.tcp_wmem's maximum), so it measures what
// TCP can hold in flight for this connection on our side.
func (c *Conn) SendBuffer() int { return int(c.sndbuf.Load()) }

// readSendBuffer reads SO_SNDBUF into c.sndbuf.
func (c *Conn) readSendBuffer() {
	c.withFD(func(fd int) {
		if n, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF); err == nil && n > 0 {
			c.sndbuf.Store(int32(min(n, math.MaxInt32)))
		}
	})
}

// confirmSoon brings the next ping forward to ConfirmAfter from now: its
// pong tells the source that the peer has what was written (see
// Source.Received), so a source that keeps written messages until then
// holds them for a short while only. A busy connection is pinged at most
// every ConfirmAfter.
func (c *Conn) confirmSoon() {
	cfg := &c.eng.cfg
	if cfg.ConfirmAfter <= 0 {
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
