package loop

import (
	"net"
	"net/netip"
	"sync"
)

// perIP counts open connections per remote address when a cap is set.
type perIP struct {
	limit int
	mu    sync.Mutex
	n     map[netip.Addr]int32
}

// add counts c and reports whether its address is within the cap.
func (p *perIP) add(c *Conn) bool {
	if p.limit <= 0 {
		return true
	}
	ip := addrOf(c.remote)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = make(map[netip.Addr]int32)
	}
	p.n[ip]++
	c.ipCounted = true
	return int(p.n[ip]) <= p.limit
}

// remove uncounts c.
func (p *perIP) remove(c *Conn) {
	if !c.ipCounted {
		return
	}
	ip := addrOf(c.remote)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[ip]--; p.n[ip] <= 0 {
		delete(p.n, ip)
	}
}

func addrOf(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}
