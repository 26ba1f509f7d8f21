package loop

import (
	"errors"
	"syscall"
)

// Socket operations. nbio v1.6.12 can deliver an epoll event of a socket
// closed by another goroutine to the next socket that reuses its fd number
// (an event batch is read before the close, processed after the reuse);
// an error bit in it (EPOLLRDHUP, HUP, ERR) then closes the new, unrelated
// connection. So roomloop never closes a socket itself: it shuts it down,
// and the poller, seeing the hang-up, closes it on its own goroutine. And
// flushers write with a raw write under nbio's connection lock, so that a
// broken socket is shut down rather than closed by nbio's Write.

// withFD runs fn with the socket's fd under nbio's connection lock, unless
// nbio has closed the socket (the number may then name another socket).
func (c *Conn) withFD(fn func(fd int)) bool {
	c.nc.Lock()
	defer c.nc.Unlock()
	if closed, _ := c.nc.IsClosed(); closed {
		return false
	}
	raw, err := c.nc.SyscallConn()
	if err != nil {
		return false
	}
	_ = raw.Control(func(fd uintptr) { fn(int(fd)) })
	return true
}

// drop ends the TCP connection at once: what nbio still holds is lost. The
// poller closes the socket and OnClose follows.
func (c *Conn) drop() {
	c.withFD(func(fd int) { _ = syscall.Shutdown(fd, syscall.SHUT_RDWR) })
}

// shutWrite sends FIN after what was written, keeping the read side open.
func (c *Conn) shutWrite() {
	c.withFD(func(fd int) { _ = syscall.Shutdown(fd, syscall.SHUT_WR) })
}

// write sends b after anything written before: encrypted first on a TLS
// connection.
func (c *Conn) write(b []byte) {
	if c.tls != nil {
		_, _ = c.tls.conn.Write(b) // its errors are the socket's: reading sees them
		return
	}
	c.writeRaw(b)
}

// writeRaw sends b after anything written before. When nbio holds no
// earlier bytes it writes directly; what the socket does not take now goes
// to nbio, which writes it when the socket drains (reporting through
// onWritten). unsent counts the bytes not yet in the kernel.
func (c *Conn) writeRaw(b []byte) {
	if c.unsent.Add(int64(len(b))) > int64(len(b)) {
		c.nbioWrite(b) // behind bytes nbio holds: it only appends
		return
	}
	n, ok := c.rawWrite(b)
	if n > 0 {
		c.written(n)
	}
	if ok && n < len(b) {
		c.nbioWrite(b[n:])
	}
}

func (c *Conn) nbioWrite(b []byte) {
	if _, err := c.nc.Write(b); err != nil {
		c.unsent.Store(0)
	}
}

// rawWrite writes as much of b as the socket takes now. On a fatal error
// it shuts the socket down and reports false.
func (c *Conn) rawWrite(b []byte) (n int, ok bool) {
	ok = true
	alive := c.withFD(func(fd int) {
		for n < len(b) {
			m, err := syscall.Write(fd, b[n:])
			if m > 0 {
				n += m
			}
			switch {
			case err == nil:
				if m <= 0 {
					return
				}
			case errors.Is(err, syscall.EINTR):
			case errors.Is(err, syscall.EAGAIN):
				return
			default:
				_ = syscall.Shutdown(fd, syscall.SHUT_RDWR)
				ok = false
				return
			}
		}
	})
	return n, ok && alive
}

// written accounts n bytes that reached the kernel: once nothing is
// pending, a deferred drop or a waiting flush is handed to the flusher.
// nbio calls it (through onWritten) with its connection lock held, so it
// must not take that lock: drop does, and runs on the flusher instead.
func (c *Conn) written(n int) {
	left := c.unsent.Add(-int64(n))
	if p := c.pipe.Load(); p != nil && left <= pipeWriteAhead {
		p.wakeWriters() // a writer through the pipe may go on
	}
	if left > 0 {
		return
	}
	if c.flags.cas(flagDropPending, true, false) {
		c.flags.store(flagDropReady, true)
		c.Wake()
		return
	}
	if c.flags.cas(flagWantWritable, true, false) {
		c.Wake()
	}
}
