package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binary is the binary's run in-process, with its stop under the test's
// control.
type binary struct {
	addr, admin string // public and admin addresses; admin "" when off
	logs        *syncBuffer
	stop        context.CancelFunc
	done        chan error
}

var adminLine = regexp.MustCompile(`msg="admin serving" addr=(\S+)`)

// startControlled runs the binary with args on 127.0.0.1:0 (admin too,
// unless args set -admin-addr); the test ends it with b.stop, or cleanup.
func startControlled(t *testing.T, args ...string) *binary {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &binary{logs: &syncBuffer{}, stop: cancel, done: make(chan error, 1)}
	addrs := make(chan net.Addr, 1)
	go func() {
		b.done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0"}, args...),
			io.Discard, b.logs, func(a net.Addr) { addrs <- a })
	}()
	select {
	case a := <-addrs:
		b.addr = a.String()
	case err := <-b.done:
		t.Fatalf("the server stopped: %v; log:\n%s", err, b.logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}
	// The admin address is logged before serving is called.
	if m := adminLine.FindStringSubmatch(b.logs.String()); m != nil {
		b.admin = m[1]
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-b.done:
			assert.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("the server did not drain")
		}
	})
	return b
}

func TestAdminHealthReadyPprof(t *testing.T) {
	t.Setenv(apiKeyEnv, "")
	b := startControlled(t)
	require.NotEmpty(t, b.admin, b.logs.String())
	resp, body := get(t, "http://"+b.admin+"/healthz", nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "ok\n", body)
	resp, _ = get(t, "http://"+b.admin+"/readyz", nil)
	assert.Equal(t, 200, resp.StatusCode)
	resp, body = get(t, "http://"+b.admin+"/debug/pprof/", nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, body, "goroutine")
	resp, _ = get(t, "http://"+b.admin+"/debug/pprof/cmdline", nil)
	assert.Equal(t, 200, resp.StatusCode)
	resp, body = get(t, "http://"+b.admin+"/metrics", nil)
	assert.Equal(t, 200, resp.StatusCode)
	for _, name := range []string{"roomloop_sessions_active 0", "roomloop_frames_written_total", "go_goroutines", "process_start_time_seconds"} {
		assert.Contains(t, body, name)
	}

	// Nothing of it on the public port.
	for _, p := range []string{"/debug/pprof/", "/healthz", "/readyz", "/metrics", "/api/stats"} {
		resp, _ = get(t, "http://"+b.addr+p, nil)
		assert.Equal(t, 404, resp.StatusCode, p)
	}
	// No key: the API is off, and says so.
	resp, body = get(t, "http://"+b.admin+"/api/stats", http.Header{"Authorization": {"Bearer x"}})
	assert.Equal(t, 404, resp.StatusCode)
	assert.Contains(t, body, "no API key configured")
}

func TestAdminOff(t *testing.T) {
	b := startControlled(t, "-admin-addr", "")
	assert.Empty(t, b.admin)
	assert.NotContains(t, b.logs.String(), "admin serving")
}

func TestAdminAPIKeySources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(file, []byte("from-file\n"), 0o600))
	t.Setenv(apiKeyEnv, "from-env")
	for _, tc := range []struct {
		args []string
		key  string
	}{
		{[]string{"-api-key", "from-flag"}, "from-flag"},
		{[]string{"-api-key-file", file}, "from-file"},
		{nil, "from-env"},
	} {
		b := startControlled(t, tc.args...)
		url := "http://" + b.admin + "/api/stats"
		resp, body := get(t, url, http.Header{"Authorization": {"Bearer " + tc.key}})
		assert.Equal(t, 200, resp.StatusCode, "%q: %s", tc.args, body)
		assert.Contains(t, body, `"sessions":0`)
		resp, _ = get(t, url, http.Header{"Authorization": {"Bearer wrong"}})
		assert.Equal(t, 401, resp.StatusCode, "%q", tc.args)
		assert.Equal(t, `Bearer realm="roomloop"`, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestAdminUsageErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-api-key", "a", "-api-key-file", empty}, "-api-key and -api-key-file exclude each other"},
		{[]string{"-api-key-file", empty}, "is empty"},
		{[]string{"-api-key-file", filepath.Join(t.TempDir(), "none")}, "-api-key-file: open"},
		{[]string{"-drain-delay", "-1s"}, "-drain-delay is -1s"},
	} {
		var stderr strings.Builder
		err := run(context.Background(), tc.args, io.Discard, &stderr, nil)
		var ue *usageError
		require.True(t, errors.As(err, &ue), "%q: %v", tc.args, err)
		assert.Equal(t, 2, exitCode(err, &stderr))
		assert.Contains(t, stderr.String(), tc.want, "%q", tc.args)
	}
}

// TestDrainOrder: at the end of run's context /readyz turns 503 first;
// only after -drain-delay do clients get their 1001.
func TestDrainOrder(t *testing.T) {
	b := startControlled(t, "-drain-delay", "2s")
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+b.addr+"/ws", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer ws.Close()
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	resp, _ = get(t, "http://"+b.admin+"/readyz", nil)
	require.Equal(t, 200, resp.StatusCode)

	b.stop()
	require.Eventually(t, func() bool {
		resp, _ := get(t, "http://"+b.admin+"/readyz", nil)
		return resp.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 5*time.Millisecond)
	select {
	case err := <-closed:
		t.Fatalf("the client was closed (%v) before /readyz said 503", err)
	default:
	}
	resp, body := get(t, "http://"+b.admin+"/healthz", nil)
	assert.Equal(t, 200, resp.StatusCode, "healthz stays up during the drain")
	assert.Equal(t, "ok\n", body)

	select {
	case err := <-closed:
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, websocket.CloseGoingAway, ce.Code)
	case <-time.After(15 * time.Second):
		t.Fatal("the client got no close")
	}
	require.NoError(t, <-b.done)
	b.done <- nil // for the cleanup
}
