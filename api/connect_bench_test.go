package api_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// connectBatch is how many connections BenchmarkConnectJoin holds open at
// once, in rooms of connectRoomSize; it closes them between batches, with
// the timer stopped.
const (
	connectBatch    = 1000
	connectRoomSize = 100
)

// BenchmarkConnectJoin measures what the server allocates for one client
// that connects, upgrades, reads $welcome, sends $join and reads $joined,
// in rooms of 100, with the connections held open (as a connect storm
// holds them). Run it with
//
//	go test -run '^$' -bench ConnectJoin -benchtime 5000x ./api/
//
// The client is raw blocking system calls on a socket descriptor with
// buffers made before the timer starts, so it allocates next to nothing
// on the Go heap (a sockaddr per dial): B/op and allocs/op, the
// process's runtime.MemStats deltas, are the server's work for a
// connect+join (accept, the upgrade, the session, the join and its
// frames), garbage included. live-B/conn is the live heap (HeapAlloc
// after two collections) per connection held open at the end of the
// first batch, over the same reading before it: what an idle connection
// keeps, in size-class bytes (the bench's "heap in use" also counts the
// unused rest of its spans). It needs b.N >= 1000. ns/op
// includes both sides and the loopback, on a shared machine: read the
// memory figures, not the timings.
//
// "bench" runs the options of the bench's idle scenario (no resumption,
// no presence); "defaults" runs api's defaults (both on).
func BenchmarkConnectJoin(b *testing.B) {
	b.Run("bench", func(b *testing.B) {
		benchConnectJoin(b, &api.Options{DisablePresence: true, DisableResume: true, QueueFrames: 4096, QueueBytes: 4 << 20})
	})
	b.Run("defaults", func(b *testing.B) { benchConnectJoin(b, &api.Options{}) })
}

func benchConnectJoin(b *testing.B, opts *api.Options) {
	opts.RateLimits = api.NoRateLimits()
	srv := api.New(opts)
	require.NoError(b, srv.Start("127.0.0.1:0"))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(b, srv.Shutdown(ctx))
	})
	port := uint16(srv.Addr().(*net.TCPAddr).Port)
	joins := make([][]byte, connectBatch/connectRoomSize)
	for i := range joins {
		joins[i] = wsproto.AppendClientFrame(nil, true, wsproto.OpText,
			fmt.Appendf(nil, `{"event":"$join","room":"r%d"}`, i), [4]byte{1, 2, 3, 4})
	}
	req := []byte("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	// A close frame (1000) ends the session at once, resumption or not.
	bye := wsproto.AppendClientFrame(nil, true, wsproto.OpClose, wsproto.AppendClose(nil, 1000, ""), [4]byte{1, 2, 3, 4})
	buf := make([]byte, 64<<10)
	fds := make([]int, 0, connectBatch)
	closeAll := func() {
		for _, fd := range fds {
			_ = writeAll(fd, bye)
			_ = syscall.Close(fd)
		}
		fds = fds[:0]
		require.Eventually(b, func() bool { return srv.Stats().Sessions == 0 }, 30*time.Second, time.Millisecond)
	}
	var live float64
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	b.StopTimer()
	base := heap()
	b.ReportAllocs()
	b.StartTimer()
	for i := range b.N {
		fd, err := rawConnectJoin(port, req, joins[(i%connectBatch)/connectRoomSize], buf)
		if err != nil {
			b.Fatal(err)
		}
		fds = append(fds, fd)
		if len(fds) == connectBatch || i == b.N-1 {
			b.StopTimer()
			if live == 0 && len(fds) == connectBatch {
				live = float64(heap()-base) / connectBatch
			}
			closeAll()
			b.StartTimer()
		}
	}
	b.StopTimer()
	if live > 0 {
		b.ReportMetric(live, "live-B/conn")
	}
}

// rawConnectJoin connects to 127.0.0.1:port with blocking system calls,
// sends the upgrade request, reads until the 101 and $welcome, sends
// join and reads until $joined. It returns the open descriptor.
func rawConnectJoin(port uint16, req, join, buf []byte) (fd int, err error) {
	fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer func() {
		if err != nil {
			_ = syscall.Close(fd)
		}
	}()
	tv := syscall.Timeval{Sec: 10}
	if err = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return fd, err
	}
	if err = connectRetrying(fd, &syscall.SockaddrInet4{Port: int(port), Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fd, err
	}
	if err = writeAll(fd, req); err != nil {
		return fd, err
	}
	r := rawReader{fd: fd, buf: buf}
	if err = r.head(); err != nil {
		return fd, err
	}
	if err = r.until([]byte(`"event":"$welcome"`)); err != nil {
		return fd, err
	}
	if err = writeAll(fd, join); err != nil {
		return fd, err
	}
	return fd, r.until([]byte(`"event":"$joined"`))
}

// rawReader reads a server's upgrade response and unmasked frames from a
// blocking descriptor into a buffer it reuses.
type rawReader struct {
	fd     int
	buf    []byte
	n, off int // bytes read; start of the next frame
}

func (r *rawReader) fill() error {
	if r.off > 0 {
		r.n = copy(r.buf, r.buf[r.off:r.n])
		r.off = 0
	}
	if r.n == len(r.buf) {
		return fmt.Errorf("a frame over %d bytes", len(r.buf))
	}
	m, err := syscall.Read(r.fd, r.buf[r.n:])
	for err == syscall.EINTR { // a signal (the runtime's preemption) cut the call short
		m, err = syscall.Read(r.fd, r.buf[r.n:])
	}
	if err != nil {
		return err
	}
	if m == 0 {
		return fmt.Errorf("server closed after %q", r.buf[:min(r.n, 200)])
	}
	r.n += m
	return nil
}

// head reads the HTTP response head and requires a 101.
func (r *rawReader) head() error {
	for {
		if i := bytes.Index(r.buf[:r.n], []byte("\r\n\r\n")); i >= 0 {
			if !bytes.HasPrefix(r.buf, []byte("HTTP/1.1 101")) {
				return fmt.Errorf("upgrade refused: %q", r.buf[:min(r.n, 200)])
			}
			r.off = i + 4
			return nil
		}
		if err := r.fill(); err != nil {
			return err
		}
	}
}

// until reads whole frames until one whose payload contains want.
func (r *rawReader) until(want []byte) error {
	for {
		b := r.buf[r.off:r.n]
		size, h := uint64(0), 2
		if len(b) >= 2 {
			size = uint64(b[1] & 0x7f)
			switch size {
			case 126:
				size, h = 0, 4
				if len(b) >= 4 {
					size = uint64(binary.BigEndian.Uint16(b[2:]))
				}
			case 127:
				size, h = 0, 10
				if len(b) >= 10 {
					size = binary.BigEndian.Uint64(b[2:])
				}
			}
		}
		if len(b) < h || uint64(len(b)-h) < size {
			if err := r.fill(); err != nil {
				return err
			}
			continue
		}
		r.off += h + int(size)
		if bytes.Contains(b[h:h+int(size)], want) {
			return nil
		}
	}
}

func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := syscall.Write(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// connectRetrying connects a blocking socket, going on where a signal
// interrupted the call: the connection goes on meanwhile, and a later
// call reports it in progress, or made.
func connectRetrying(fd int, sa syscall.Sockaddr) error {
	for {
		switch err := syscall.Connect(fd, sa); err {
		case syscall.EINTR, syscall.EALREADY:
			continue
		case syscall.EISCONN:
			return nil
		default:
			return err
		}
	}
}
