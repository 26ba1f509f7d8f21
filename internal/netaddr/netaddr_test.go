package netaddr

import (
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIP(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr net.Addr
		want netip.Addr
	}{
		{"ipv4", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}, netip.MustParseAddr("192.0.2.1")},
		{"ipv6", &net.TCPAddr{IP: net.ParseIP("2001:db8::1")}, netip.MustParseAddr("2001:db8::1")},
		{"mapped", &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1")}, netip.MustParseAddr("192.0.2.1")},
		{"bad ip", &net.TCPAddr{IP: net.IP{1, 2, 3}}, netip.Addr{}},
		{"not tcp", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, netip.Addr{}},
		{"nil", nil, netip.Addr{}},
	} {
		assert.Equal(t, tc.want, IP(tc.addr), tc.name)
	}
}
