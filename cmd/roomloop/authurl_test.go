package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/wstest"
)

// TestAuthURL: with -auth-url the backend is asked about every upgrade: a
// known cookie connects (its rooms joined), an unknown one gets the
// backend's 401 and reason; the log never holds the cookie or token.
// -auth-url with a JWT flag, or a bad URL, is a usage error.
func TestAuthURL(t *testing.T) {
	var mu sync.Mutex
	var cookies []string
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token   string            `json:"token"`
			Headers map[string]string `json:"headers"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		mu.Lock()
		cookies = append(cookies, req.Headers["Cookie"])
		mu.Unlock()
		if req.Headers["Cookie"] == "sid=secret-ada" && req.Token == "tok-ada" {
			_ = json.NewEncoder(w).Encode(map[string]any{"user": "ada", "rooms": []string{"lobby"}})
			return
		}
		http.Error(w, "unknown session", http.StatusUnauthorized)
	}))
	t.Cleanup(backend.Close)

	addr, logs := startBinary(t, "-no-demo", "-log-level", "debug", "-auth-url", backend.URL, "-auth-url-timeout", "1s")
	dialCookie := func(cookie string) (*websocket.Conn, int, string) {
		return wstest.Dial(t, "ws://"+addr+"/ws?token=tok-ada", http.Header{"Cookie": {cookie}})
	}
	ws, status, body := dialCookie("sid=secret-ada")
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, msg, err := ws.ReadMessage()
	require.NoError(t, err)
	assert.Contains(t, string(msg), `"$welcome"`)
	_, msg, err = ws.ReadMessage()
	require.NoError(t, err)
	assert.Contains(t, string(msg), `"$joined"`)
	assert.Contains(t, string(msg), `"lobby"`)

	_, status, body = dialCookie("sid=secret-eve")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "unknown session", body)
	mu.Lock()
	assert.Equal(t, []string{"sid=secret-ada", "sid=secret-eve"}, cookies)
	mu.Unlock()

	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "upgrade refused") }, 10*time.Second, 10*time.Millisecond)
	for _, secret := range []string{"secret-ada", "secret-eve", "tok-ada"} {
		assert.NotContains(t, logs.String(), secret)
	}

	secretFile := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(strings.Repeat("s", 32)), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-auth-url", backend.URL, "-jwt-secret-file", secretFile}, "-auth-url and JWT auth"},
		{[]string{"-auth-url", "ftp://auth.example/"}, "-auth-url:"},
		{[]string{"-auth-url", backend.URL, "-auth-url-timeout", "3s"}, "-auth-url-timeout 3s is over -auth-timeout 2s"},
		{[]string{"-auth-url", backend.URL, "-auth-url-timeout", "0s"}, "-auth-url-timeout: 0s is not positive"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, &stdout, &stderr, nil)
		var ue *usageError
		require.True(t, errors.As(err, &ue), "%q: %v", tc.args, err)
		assert.Equal(t, 2, exitCode(err, &stderr))
		assert.Contains(t, stderr.String(), tc.want, "%q", tc.args)
	}
}

// TestAuthURLPrintConfig: -print-config masks the password of -auth-url.
func TestAuthURLPrintConfig(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-print-config", "-auth-url", "https://svc:hunter2@auth.example/check"}, &stdout, &stderr, nil), stderr.String())
	assert.NotContains(t, stdout.String(), "hunter2")
	assert.Contains(t, stdout.String(), "\nauth-url: \"https://svc:xxxxx@auth.example/check\"  # flag\n")
	assert.Contains(t, stdout.String(), "\nauth-url-timeout: 2s  # default\n")
}
