package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/selfsigned"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBinary runs the binary's run with args on 127.0.0.1:0 until the
// test ends, and returns its address and log.
func startBinary(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard, logs,
			func(a net.Addr) { addrs <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("the server stopped: %v; log:\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("the server did not drain")
		}
	})
	return addr.String(), logs
}

// TestPageConnectsWithDefaultOrigins: the page the binary serves at "/"
// is same-origin with its WebSocket, so with the default origin policy a
// browser on that page connects; a page of another site is refused with
// 403, and the log says why.
func TestPageConnectsWithDefaultOrigins(t *testing.T) {
	addr, logs := startBinary(t)
	page := "http://" + addr + "/"
	resp, err := http.Get(page)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, string(body), `data-path="/ws"`)
	assert.Contains(t, string(body), "new WebSocket(url")

	// What a browser on that page sends: Origin is the page's origin.
	origin := strings.TrimSuffix(page, "/")
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", http.Header{"Origin": {origin}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	_, msg, err := ws.ReadMessage()
	require.NoError(t, err)
	assert.Contains(t, string(msg), `"$welcome"`)
	_ = ws.Close()

	_, resp, err = websocket.DefaultDialer.Dial("ws://"+addr+"/ws", http.Header{"Origin": {"https://elsewhere.example"}})
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "upgrade refused") }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, logs.String(), "https://elsewhere.example", "the log names the refused origin")

	resp, err = http.Get("http://" + addr + "/nothing-here")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestNoPages: -no-pages serves nothing but the WebSocket.
func TestNoPages(t *testing.T) {
	addr, _ := startBinary(t, "-no-pages")
	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestTLSFlags: with -tls-cert and -tls-key the page and the WebSocket
// are served over TLS, and the page's origin connects.
func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, clientTLS := writeSelfSigned(t, dir)
	addr, logs := startBinary(t, "-tls-cert", certFile, "-tls-key", keyFile)
	assert.Contains(t, logs.String(), "url=wss://")
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}, Timeout: 10 * time.Second}
	resp, err := hc.Get("https://" + addr + "/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	hc.CloseIdleConnections()

	d := websocket.Dialer{TLSClientConfig: clientTLS}
	ws, resp, err := d.Dial("wss://"+addr+"/ws", http.Header{"Origin": {"https://" + addr}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	_, msg, err := ws.ReadMessage()
	require.NoError(t, err)
	assert.Contains(t, string(msg), `"$welcome"`)
	_ = ws.Close()

	var stderr bytes.Buffer
	err = run(context.Background(), []string{"-tls-cert", certFile}, io.Discard, &stderr, nil)
	assert.Equal(t, 2, exitCode(err, &stderr))
	assert.Contains(t, stderr.String(), "-tls-cert and -tls-key go together")
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key as PEM
// files in dir, and returns them with a client configuration trusting it.
func writeSelfSigned(t *testing.T, dir string) (string, string, *tls.Config) {
	t.Helper()
	cert, err := selfsigned.New()
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, cert.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(keyFile, cert.KeyPEM, 0o600))
	return certFile, keyFile, cert.Client
}
