//go:build linux

package uring

import (
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// pairs returns n connected TCP pairs on 127.0.0.1: the accepted sides'
// descriptors (non-blocking, as nbio's are) and the dialled sides.
func pairs(t testing.TB, n int) (fds []int, peers []net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	for range n {
		d, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		a, err := ln.Accept()
		require.NoError(t, err)
		f, err := a.(*net.TCPConn).File() // a blocking dup; made non-blocking below
		require.NoError(t, err)
		_ = a.Close()
		fd := int(f.Fd())
		require.NoError(t, syscall.SetNonblock(fd, true))
		t.Cleanup(func() { _ = f.Close(); _ = d.Close() })
		fds = append(fds, fd)
		peers = append(peers, d)
	}
	return fds, peers
}

func newRing(t testing.TB, entries uint32) *Ring {
	r, err := New(entries)
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestSendAllDeliversEachBuffer(t *testing.T) {
	r := newRing(t, 4) // 10 sockets: three enters
	fds, peers := pairs(t, 10)
	bufs := make([][]byte, len(fds))
	for i := range bufs {
		bufs[i] = []byte{byte('a' + i), byte('a' + i), '\n'}
	}
	bufs[3] = nil // not sent
	res := make([]int32, len(fds))
	require.NoError(t, r.SendAll(fds, bufs, res))
	for i, p := range peers {
		require.Equal(t, int32(len(bufs[i])), res[i], "socket %d", i)
		if len(bufs[i]) == 0 {
			continue
		}
		got := make([]byte, 3)
		_, err := io.ReadFull(p, got)
		require.NoError(t, err)
		require.Equal(t, bufs[i], got)
	}
}

func TestSendAllFullSocketIsEAGAIN(t *testing.T) {
	r := newRing(t, 8)
	fds, _ := pairs(t, 2)
	big := make([]byte, 64<<20)
	res := make([]int32, 2)
	// The first send takes what the buffers hold (a short send); the
	// next finds them full and must complete at once with EAGAIN rather
	// than wait for the peer, which never reads.
	require.NoError(t, r.SendAll(fds[:1], [][]byte{big}, res))
	require.Positive(t, res[0])
	require.Less(t, res[0], int32(len(big)))
	require.NoError(t, r.SendAll(fds, [][]byte{big, []byte("x")}, res))
	require.Equal(t, -int32(syscall.EAGAIN), res[0])
	require.Equal(t, int32(1), res[1])
}

func TestSendAllErrorsPerSocket(t *testing.T) {
	r := newRing(t, 8)
	fds, peers := pairs(t, 2)
	require.NoError(t, peers[0].(*net.TCPConn).SetLinger(0))
	require.NoError(t, peers[0].Close()) // RST: the send fails, without SIGPIPE
	buf := []byte("hello")
	res := make([]int32, 2)
	for range 3 { // the first send may still succeed before the RST lands
		require.NoError(t, r.SendAll(fds, [][]byte{buf, buf}, res))
		if res[0] < 0 {
			break
		}
	}
	require.Negative(t, res[0])
	require.Equal(t, int32(len(buf)), res[1])
}

// BenchmarkWrite and BenchmarkSendAll compare one write(2) per socket
// with one io_uring_enter per 256 sockets, 1000 sockets, one 64-byte
// frame each, the peers drained by a goroutine each.
func BenchmarkWrite(b *testing.B)   { benchSends(b, false) }
func BenchmarkSendAll(b *testing.B) { benchSends(b, true) }

func benchSends(b *testing.B, ring bool) {
	const n = 1000
	fds, peers := pairs(b, n)
	for _, p := range peers {
		go func() { _, _ = io.Copy(io.Discard, p) }()
	}
	var r *Ring
	if ring {
		r = newRing(b, 256)
	}
	buf := make([]byte, 64)
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = buf
	}
	res := make([]int32, n)
	b.ResetTimer()
	for range b.N {
		if ring {
			if err := r.SendAll(fds, bufs, res); err != nil {
				b.Fatal(err)
			}
			continue
		}
		for _, fd := range fds {
			_, _ = syscall.Write(fd, buf)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/send")
}
