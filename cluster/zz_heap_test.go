package cluster

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wsproto"
)

func zzConnect(t *testing.T, port int, room string) int {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	require.NoError(t, syscall.Connect(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}))
	req := "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	j := wsproto.AppendClientFrame([]byte(req), true, wsproto.OpText, fmt.Appendf(nil, `{"event":"$join","room":"%s"}`, room), [4]byte{1, 2, 3, 4})
	_, err = syscall.Write(fd, j)
	require.NoError(t, err)
	var acc []byte
	buf := make([]byte, 16<<10)
	for !bytes.Contains(acc, []byte(`$joined`)) {
		n, err := syscall.Read(fd, buf)
		require.NoError(t, err)
		require.NotZero(t, n)
		acc = append(acc, buf[:n]...)
	}
	return fd
}

func zzLive() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if os.Getenv("ZZ_INUSE") != "" {
		return ms.HeapInuse
	}
	return ms.HeapAlloc
}

func TestZZHeap(t *testing.T) {
	runtime.MemProfileRate = 1
	const n = 3000
	nnodes := 3
	if os.Getenv("ZZ_SINGLE") != "" {
		nnodes = 1
	}
	opts := api.Options{DisablePresence: true, DisableResume: true, QueueFrames: 4096, QueueBytes: 4 << 20, RateLimits: api.NoRateLimits()}
	var ports []int
	var srvs []*api.Server
	if nnodes == 1 {
		o := opts
		srv := api.New(&o)
		require.NoError(t, srv.Start("127.0.0.1:0"))
		ports = append(ports, srv.Addr().(*net.TCPAddr).Port)
		srvs = append(srvs, srv)
	} else {
		ns := startNATS(t, 0, t.TempDir())
		for i := range nnodes {
			nd := startNode(t, ns.url(), fmt.Sprint("n", i+1), opts)
			ports = append(ports, nd.srv.Addr().(*net.TCPAddr).Port)
			srvs = append(srvs, nd.srv)
		}
		time.Sleep(2 * time.Second)
	}
	before := zzLive()
	fb, _ := os.Create(fmt.Sprintf("/tmp/heap%d-before.prof", nnodes))
	pprof.Lookup("heap").WriteTo(fb, 0)
	fb.Close()
	for i := range n {
		zzConnect(t, ports[i%nnodes], fmt.Sprint("r", i/100))
	}
	time.Sleep(3 * time.Second)
	after := zzLive()
	t.Logf("nodes %d heap per conn %.0f B", nnodes, (float64(after)-float64(before))/n)
	f, _ := os.Create(fmt.Sprintf("/tmp/heap%d.prof", nnodes))
	pprof.Lookup("heap").WriteTo(f, 0)
	f.Close()
}
