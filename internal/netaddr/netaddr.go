// Package netaddr turns a connection's net.Addr into the netip.Addr that
// per-address limits are keyed by.
package netaddr

import (
	"net"
	"net/netip"
)

// IP returns a's IP address, with IPv4-mapped IPv6 addresses unmapped, so
// that one client counts once whichever way it reached the listener. It
// returns the zero Addr for anything but a *net.TCPAddr with a valid IP:
// all such addresses count as one.
func IP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}
