package loop

import (
	"net/netip"
	"sync"

	"github.com/roomloop/roomloop/internal/netaddr"
)

// perIP counts connections per remote address against a cap (0: no cap,
// nothing counted).
type perIP struct {
	limit int
	mu    sync.Mutex
	n     map[netip.Addr]int32
}

// add counts ip and reports whether it was counted, and whether ip is
// within the cap after it.
func (p *perIP) add(ip netip.Addr) (counted, ok bool) {
	if p.limit <= 0 {
		return false, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = make(map[netip.Addr]int32)
	}
	p.n[ip]++
	return true, int(p.n[ip]) <= p.limit
}

// remove uncounts ip.
func (p *perIP) remove(ip netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[ip]--; p.n[ip] <= 0 {
		delete(p.n, ip)
	}
}

// countIn counts c's address in p (the open-connection cap), reporting
// whether it is within the cap.
func (c *Conn) countIn(p *perIP) bool {
	counted, ok := p.add(netaddr.IP(c.RemoteAddr()))
	c.flags.store(flagIPCounted, counted)
	return ok
}

// countPending counts c's address among pending handshakes, reporting
// whether it is within MaxPendingPerIP.
func (c *Conn) countPending(p *perIP) bool {
	counted, ok := p.add(netaddr.IP(c.RemoteAddr()))
	c.flags.store(flagPendingCounted, counted)
	return ok
}

// handshakeDone uncounts c from pending handshakes, once: when it opens,
// is refused or closes.
func (c *Conn) handshakeDone() {
	if c.flags.cas(flagPendingCounted, true, false) {
		c.eng.pendingIP.remove(netaddr.IP(c.RemoteAddr()))
	}
}
