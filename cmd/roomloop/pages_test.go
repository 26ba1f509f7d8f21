package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	jsclient "github.com/roomloop/roomloop/clients/js"
	"github.com/roomloop/roomloop/internal/selfsigned"
	"github.com/roomloop/roomloop/internal/wstest"
)

// syncBuffer collects the server's log.
type syncBuffer = wstest.LogBuffer

// startBinary runs the binary's run with args on 127.0.0.1:0 until the
// test ends, and returns its address and log.
func startBinary(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0"}, args...), io.Discard, logs,
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

// get fetches url and returns the response, its body closed and read.
func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp, string(body)
}

// TestPageConnectsWithDefaultOrigins: the chat demo the binary serves at
// "/" is same-origin with its WebSocket, so with the default origin policy
// a browser on that page connects; a page of another site is refused with
// 403, and the log says why.
func TestPageConnectsWithDefaultOrigins(t *testing.T) {
	addr, logs := startBinary(t)
	page := "http://" + addr + "/"
	resp, body := get(t, page, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	assert.Contains(t, body, `data-path="/ws"`)
	assert.Contains(t, body, `<script type="module" src="/demo.js"></script>`)
	assert.Contains(t, logs.String(), "demo=true")

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

	resp, _ = get(t, "http://"+addr+"/nothing-here", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestPageCSP: the page's policy lets its own module scripts and its one
// inline style (by hash) run, no inline script, and WebSockets to its own
// host.
func TestPageCSP(t *testing.T) {
	addr, _ := startBinary(t)
	resp, body := get(t, "http://"+addr+"/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'self';")
	assert.Contains(t, csp, "connect-src 'self' ws://"+addr+" wss://"+addr)
	assert.NotContains(t, csp, "unsafe-inline")
	style := body[strings.Index(body, "<style>")+len("<style>") : strings.Index(body, "</style>")]
	sum := sha256.Sum256([]byte(style))
	assert.Contains(t, csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	assert.Equal(t, 1, strings.Count(body, "<style>"), "one inline style")
	assert.Equal(t, 1, strings.Count(body, "<script"), "one script, not inline")
	assert.NotContains(t, body, " style=", "no style attributes: the hash does not cover them")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

// TestScripts: /roomloop.js is the client module (jsclient.Source) and
// /demo.js the demo's, both JavaScript that browsers revalidate, with an
// ETag answered 304.
func TestScripts(t *testing.T) {
	addr, _ := startBinary(t)
	for path, want := range map[string]string{"/roomloop.js": jsclient.Source(), "/demo.js": demoScript} {
		resp, body := get(t, "http://"+addr+path, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"), path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), path)
		assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"), path)
		assert.Equal(t, want, body, path)
		etag := resp.Header.Get("ETag")
		require.NotEmpty(t, etag, path)
		resp, body = get(t, "http://"+addr+path, http.Header{"If-None-Match": {etag}})
		assert.Equal(t, http.StatusNotModified, resp.StatusCode, path)
		assert.Empty(t, body, path)
	}
	_, demo := get(t, "http://"+addr+"/demo.js", nil)
	assert.Contains(t, demo, `from "/roomloop.js"`)
}

// TestPlainRequestAtWebSocketPaths: with the demo on, a plain GET at a
// WebSocket path (roomloop's and the wires') gets 426 and a reason, not
// the demo's 404; another path still gets 404.
func TestPlainRequestAtWebSocketPaths(t *testing.T) {
	addr, _ := startBinary(t)
	for _, path := range []string{"/ws", "/wspulse", "/wsrooms"} {
		resp, body := get(t, "http://"+addr+path, nil)
		assert.Equal(t, http.StatusUpgradeRequired, resp.StatusCode, path)
		assert.Equal(t, "websocket", resp.Header.Get("Upgrade"), path)
		assert.Contains(t, body, path+" is a WebSocket endpoint", path)
	}
	resp, _ := get(t, "http://"+addr+"/nope", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestNoDemo: -no-demo serves nothing but the WebSocket.
func TestNoDemo(t *testing.T) {
	addr, logs := startBinary(t, "-no-demo")
	for _, path := range []string{"/", "/roomloop.js", "/demo.js"} {
		resp, _ := get(t, "http://"+addr+path, nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
	assert.Contains(t, logs.String(), "demo=false")
	// A refusal is logged before its answer is written.
	assert.NotContains(t, logs.String(), "status=404", "a request at another path is no refused upgrade worth an info line")
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
