package loop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
)

// nbio's poller goroutine clears its stop flag when it begins its loop.
// A Stop that comes before that (a server shut down microseconds after it
// started) is forgotten, and nbio's Stop then waits forever. waitPollers
// closes that window: Start returns only once every poller has handled an
// event, so every later Stop finds its poller looping.

// pollerProbe is the session of a socket that waitPollers hands to one
// poller; arrived closes when that poller has read it.
// Its fields are set and read under mu: nbio hands the socket to the
// poller through epoll, which the race detector cannot see.
type pollerProbe struct {
	mu      sync.Mutex
	arrived chan struct{}
	read    bool
}

func newPollerProbe() *pollerProbe {
	p := new(pollerProbe)
	p.mu.Lock()
	p.arrived = make(chan struct{})
	p.mu.Unlock()
	return p
}

// readable marks the probe arrived; the poller may report it more than
// once.
func (p *pollerProbe) readable() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.read {
		p.read = true
		close(p.arrived)
	}
}

// probeOf returns nc's probe, or nil for a client connection.
func probeOf(nc *nbio.Conn) *pollerProbe {
	p, _ := nc.Session().(*pollerProbe)
	return p
}

// pollerStartLimit bounds how long Start waits for nbio's pollers.
const pollerStartLimit = 30 * time.Second

// waitPollers returns once each of nb's n pollers has read from a socket
// pair of its own, or an error.
func waitPollers(nb *nbio.Engine, n int) error {
	probes := make([]*pollerProbe, n)
	var conns []*nbio.Conn
	var spare []*nbio.Conn // not handed to nbio
	var peers []int
	defer func() {
		for _, c := range spare {
			_ = c.Close()
		}
		for _, c := range conns {
			_ = c.Close()
		}
		for _, fd := range peers {
			_ = syscall.Close(fd)
		}
	}()
	// nbio picks a connection's poller by its descriptor modulo n: make
	// pairs until every poller has one.
	for left, tries := n, 0; left > 0; tries++ {
		if tries > 4*n+16 {
			return errors.New("loop: no socket reached every poller")
		}
		nc, peer, err := socketPair()
		if err != nil {
			return fmt.Errorf("loop: probing the pollers: %w", err)
		}
		i := nc.Hash() % n
		peers = append(peers, peer)
		if probes[i] != nil {
			// Kept open until the end, with one descriptor more, so the
			// next pair gets other numbers.
			spare = append(spare, nc)
			if fd, err := syscall.Dup(peer); err == nil {
				peers = append(peers, fd)
			}
			continue
		}
		probes[i] = newPollerProbe()
		nc.SetSession(probes[i])
		if _, err := nb.AddConn(nc); err != nil {
			return fmt.Errorf("loop: probing the pollers: %w", err)
		}
		conns = append(conns, nc)
		if _, err := syscall.Write(peer, []byte{0}); err != nil {
			return fmt.Errorf("loop: probing the pollers: %w", err)
		}
		left--
	}
	limit := time.NewTimer(pollerStartLimit)
	defer limit.Stop()
	for _, p := range probes {
		select {
		case <-p.arrived:
		case <-limit.C:
			return errors.New("loop: the event loop (nbio) did not start")
		}
	}
	return nil
}

// socketPair returns one end of a new Unix socket pair as an nbio
// connection, and the other end's descriptor.
func socketPair() (*nbio.Conn, int, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, err
	}
	f := os.NewFile(uintptr(fds[0]), "poller-probe")
	conn, err := net.FileConn(f) // a duplicate of the descriptor
	_ = f.Close()
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, 0, err
	}
	nc, err := nbio.NBConn(conn) // another duplicate; conn is closed
	if err != nil {
		_ = conn.Close()
		_ = syscall.Close(fds[1])
		return nil, 0, err
	}
	return nc, fds[1], nil
}
