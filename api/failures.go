package api

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/roomloop/roomloop/internal/netaddr"
)

// maxTrackedAddrs bounds the addresses failures tracks; past it new
// addresses go untracked until refilled buckets are swept.
const maxTrackedAddrs = 1 << 16

// failures throttles addresses whose upgrades Authorize keeps refusing
// (not timeouts, not clients that left, not unknown resume tokens, not
// 5xx refusals, which are the server's trouble): once
// an address has used
// up RateLimits.FailuresPerIP, its upgrades get 429 until its bucket
// refills. It is safe for concurrent use.
type failures struct {
	rate Rate
	mu   sync.Mutex
	by   map[netip.Addr]*rate.Limiter
}

// throttled reports whether addr has no failures left.
func (f *failures) throttled(addr net.Addr) bool {
	if f.rate.PerSecond < 0 {
		return false
	}
	ip := netaddr.IP(addr)
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.by[ip]
	return l != nil && l.Tokens() < 1
}

// fail counts a failure of addr.
func (f *failures) fail(addr net.Addr) {
	if f.rate.PerSecond < 0 {
		return
	}
	ip := netaddr.IP(addr)
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.by[ip]
	if l == nil {
		if len(f.by) >= maxTrackedAddrs {
			return
		}
		if f.by == nil {
			f.by = make(map[netip.Addr]*rate.Limiter)
		}
		l = f.rate.limiter()
		f.by[ip] = l
	}
	l.Allow()
}

// sweep forgets the addresses whose buckets have refilled.
func (f *failures) sweep(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ip, l := range f.by {
		if l.TokensAt(now) >= float64(l.Burst()) {
			delete(f.by, ip)
		}
	}
}
