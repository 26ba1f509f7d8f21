package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/wstest"
)

// dialToken dials ws://addr/ws with the token as a Bearer header and
// returns the connection, or the refusal's status and body.
func dialToken(t *testing.T, addr, token string) (*websocket.Conn, int, string) {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return wstest.Dial(t, "ws://"+addr+"/ws", h)
}

// TestJWTFlags: with -jwt-secret-file and -jwt-public-key, tokens signed by
// either key connect (rooms claim joined), and a bad or missing token gets
// 401; the log never holds a token.
func TestJWTFlags(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("s", 32)
	secretFile := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(secret+"\n"), 0o600))
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	require.NoError(t, err)
	keyFile := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))

	addr, logs := startBinary(t, "-no-demo", "-log-level", "debug", "-jwt-secret-file", secretFile,
		"-jwt-public-key", keyFile, "-jwt-audience", "chat", "-jwt-issuer", "auth")
	claims := jwt.MapClaims{"sub": "ada", "aud": "chat", "iss": "auth", "exp": time.Now().Add(time.Hour).Unix(), "rooms": []string{"lobby"}}

	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	require.NoError(t, err)
	es, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(ec)
	require.NoError(t, err)
	for _, tok := range []string{hs, es} {
		ws, status, body := dialToken(t, addr, tok)
		require.Equal(t, http.StatusSwitchingProtocols, status, body)
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, msg, err := ws.ReadMessage()
		require.NoError(t, err)
		assert.Contains(t, string(msg), `"$welcome"`)
		_, msg, err = ws.ReadMessage()
		require.NoError(t, err)
		assert.Contains(t, string(msg), `"$joined"`)
		assert.Contains(t, string(msg), `"lobby"`)
	}

	bad, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(strings.Repeat("x", 32)))
	require.NoError(t, err)
	_, status, body := dialToken(t, addr, bad)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "bad token signature", body)
	_, status, body = dialToken(t, addr, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "missing token", body)

	require.Eventually(t, func() bool { return strings.Count(logs.String(), "upgrade refused") >= 2 }, 10*time.Second, 10*time.Millisecond)
	for _, tok := range []string{hs, es, bad} {
		assert.NotContains(t, logs.String(), tok)
	}
}

// TestJWTSecretEnv: ROOMLOOP_JWT_SECRET alone turns JWT auth on.
func TestJWTSecretEnv(t *testing.T) {
	secret := strings.Repeat("e", 32)
	t.Setenv(secretEnv, secret)
	addr, _ := startBinary(t, "-no-demo")
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ada"}).SignedString([]byte(secret))
	require.NoError(t, err)
	_, status, body := dialToken(t, addr, tok)
	assert.Equal(t, http.StatusSwitchingProtocols, status, body)
	_, status, _ = dialToken(t, addr, "")
	assert.Equal(t, http.StatusUnauthorized, status)
}

// TestNoJWTFlags: without the flags everyone is accepted, as before.
func TestNoJWTFlags(t *testing.T) {
	addr, _ := startBinary(t, "-no-demo")
	_, status, body := dialToken(t, addr, "")
	assert.Equal(t, http.StatusSwitchingProtocols, status, body)
}

// TestBadJWTFlags: unusable key files are a usage error (exit 2).
func TestBadJWTFlags(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("tooshort\n"), 0o600))
	notPEM := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-jwt-audience", "chat"}, "-jwt-audience and -jwt-issuer need a key"},
		{[]string{"-jwt-secret-file", short}, "at least 32 bytes"},
		{[]string{"-jwt-secret-file", filepath.Join(dir, "none")}, "-jwt-secret-file: open"},
		{[]string{"-jwt-public-key", notPEM}, "no PEM public key"},
		{[]string{"-jwt-jwks", notPEM}, "-jwt-jwks"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, &stdout, &stderr, nil)
		var ue *usageError
		require.True(t, errors.As(err, &ue), "%q: %v", tc.args, err)
		assert.Equal(t, 2, exitCode(err, &stderr))
		assert.Contains(t, stderr.String(), tc.want, "%q", tc.args)
	}
}
