package api_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/cutproxy"
)

// newProxy puts a proxy in front of the server at addr until the test
// ends. Its Cut drops both sides without a WebSocket close (the server
// sees the transport vanish); Blackhole stops forwarding but keeps the
// sockets open (a half-open connection the server cannot tell from a
// silent client).
func newProxy(t *testing.T, addr string) *cutproxy.Proxy {
	p, err := cutproxy.Start(addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}
