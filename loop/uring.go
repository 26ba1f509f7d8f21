package loop

import (
	"slices"
	"syscall"

	"github.com/roomloop/roomloop/internal/uring"
)

// Batched writes (Config.URingWrites): a flusher collects the writes of
// one tick, one buffer per connection, and hands them to the kernel
// through io_uring, uringEntries sends per io_uring_enter, instead of one
// write(2) per socket. Each send is MSG_DONTWAIT: what a socket does not
// take at once (a short send, EAGAIN) goes to nbio behind the part sent,
// exactly as after a short raw write, so a connection's bytes keep their
// order and none is written twice. TLS connections and connections with a
// pipe, and any connection while nbio holds earlier bytes of it, are
// written the ordinary way.
//
// Everything here belongs to the shard's flusher goroutine.

// uringEntries is a ring's submission queue size: the sends per enter.
// A flusher submits its batch each time it holds this many, so sends
// follow their connections' flushes closely and nbio's connection locks
// are held for a short while only.
const uringEntries = 128

// batchMaxBytes submits a batch early once it holds this much.
const batchMaxBytes = 4 << 20

// batchKeepCap is the largest buffer a batch keeps for reuse: with at
// most uringEntries buffers queued, a flusher keeps at most 8 MiB.
const batchKeepCap = 64 << 10

// newRing makes a flusher's ring; a variable so that a test can make
// io_uring unavailable.
var newRing = uring.New

// batchWrite is one connection's write waiting in a batch.
type batchWrite struct {
	c        *Conn
	buf      []byte
	closeNow bool // drop the TCP connection once buf is written
}

// batch collects a flush tick's writes for io_uring. It belongs to its
// shard's flusher goroutine.
type batch struct {
	shard *shard
	ring  *uring.Ring
	pend  []batchWrite
	bytes int
	spare [][]byte // buffers for the flusher to fill, reused
	fds   []int
	bufs  [][]byte
	res   []int32
	dead  []bool
}

// newBatch returns the flusher's batch when cfg.URingWrites is on and a
// ring can be set up, else nil: the flusher then writes each connection
// itself (the fallback where io_uring is unavailable).
func newBatch(s *shard) *batch {
	if !s.eng.cfg.URingWrites {
		return nil
	}
	r, err := newRing(uringEntries)
	if err != nil {
		s.eng.log.Warn("io_uring unavailable: the flusher writes each socket itself", "err", err)
		return nil
	}
	return &batch{shard: s, ring: r}
}

func (b *batch) close() {
	if b != nil {
		_ = b.ring.Close()
	}
}

// buffer returns an empty buffer for the next connection's frames.
func (b *batch) buffer() []byte {
	if n := len(b.spare); n > 0 {
		buf := b.spare[n-1]
		b.spare = b.spare[:n-1]
		return buf[:0]
	}
	return make([]byte, 0, 4096)
}

// add queues buf for c and reports true, or reports false when c must be
// written the ordinary way: TLS, a pipe, or bytes nbio still holds (which
// buf must follow). The batch then owns buf until submit.
func (b *batch) add(c *Conn, buf []byte, closeNow bool) bool {
	if c.tls != nil || c.pipe.Load() != nil || c.unsent.Load() > 0 {
		return false
	}
	c.unsent.Add(int64(len(buf)))
	b.pend = append(b.pend, batchWrite{c, buf, closeNow})
	b.bytes += len(buf)
	return true
}

// full reports whether the batch should be submitted before more is added.
func (b *batch) full() bool {
	return len(b.pend) >= b.ring.Entries() || b.bytes >= batchMaxBytes
}

// submit sends every queued write, a ring's worth per system call, then
// does what each write leaves to do: account the bytes, hand nbio what a
// socket did not take now (in order, behind the part sent), and drop a
// connection whose close frame was in buf.
func (b *batch) submit() {
	if len(b.pend) == 0 {
		return
	}
	per := max(1, b.ring.Entries())
	for i := 0; i < len(b.pend); i += per {
		b.send(b.pend[i:min(len(b.pend), i+per)])
	}
	for i, p := range b.pend {
		b.pend[i] = batchWrite{}
		if cap(p.buf) <= batchKeepCap {
			b.spare = append(b.spare, p.buf[:0])
		}
	}
	b.pend, b.bytes = b.pend[:0], 0
}

// send submits pend in one io_uring_enter, each connection's write under
// nbio's connection lock, all of them held across the system call so that
// no fd is closed and reused meanwhile.
func (b *batch) send(pend []batchWrite) {
	n := len(pend)
	b.fds, b.bufs = b.fds[:0], b.bufs[:0]
	b.res, b.dead = slices.Grow(b.res[:0], n)[:n], slices.Grow(b.dead[:0], n)[:n]
	clear(b.res)
	clear(b.dead)
	for i, p := range pend {
		p.c.nc.Lock()
		fd := -1
		if closed, _ := p.c.nc.IsClosed(); !closed {
			if raw, err := p.c.nc.SyscallConn(); err == nil {
				_ = raw.Control(func(f uintptr) { fd = int(f) })
			}
		}
		buf := p.buf
		if fd < 0 {
			b.dead[i], buf = true, nil
		}
		b.fds = append(b.fds, fd)
		b.bufs = append(b.bufs, buf)
	}
	_ = b.ring.SendAll(b.fds, b.bufs, b.res) // a failed ring leaves NotSent: nbio writes those
	b.shard.uringSends.Add(uint64(n))
	for i, p := range pend {
		if r := b.res[i]; !b.dead[i] && r < 0 && r != uring.NotSent &&
			r != -int32(syscall.EAGAIN) && r != -int32(syscall.EINTR) {
			_ = syscall.Shutdown(b.fds[i], syscall.SHUT_RDWR)
			b.dead[i] = true
		}
		p.c.nc.Unlock()
	}
	for i, p := range pend {
		b.bufs[i] = nil
		sent := max(0, int(b.res[i]))
		if !b.dead[i] && sent < len(p.buf) {
			b.shard.uringShort.Add(1)
		}
		if sent > 0 {
			p.c.written(sent)
		}
		if !b.dead[i] && sent < len(p.buf) {
			p.c.nbioWrite(p.buf[sent:])
		}
		if p.closeNow {
			p.c.dropWhenWritten()
		}
	}
}
