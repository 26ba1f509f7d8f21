package jwtauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// Test keys, made once: RSA keys are slow to generate under -race.
var (
	keysOnce        sync.Once
	rsaKey, rsaKey2 *rsa.PrivateKey
	ecKey           *ecdsa.PrivateKey
)

func testKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey, *ecdsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err == nil {
			rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		if err == nil {
			ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		if err != nil {
			panic(err)
		}
	})
	return rsaKey, rsaKey2, ecKey
}

// pemOf returns pub as a PEM "PUBLIC KEY" block.
func pemOf(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// jwksOf returns a JWKS holding an RSA and an EC key, with kids.
func jwksOf(t *testing.T, rsaKid string, rsaPub *rsa.PublicKey, ecKid string, ecPub *ecdsa.PublicKey) []byte {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	ecBytes, err := ecPub.Bytes()
	require.NoError(t, err)
	set := map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": rsaKid, "use": "sig", "alg": "RS256", "n": b64(rsaPub.N.Bytes()), "e": "AQAB"},
		{"kty": "EC", "kid": ecKid, "crv": "P-256", "x": b64(ecBytes[1:33]), "y": b64(ecBytes[33:])},
		{"kty": "oct", "kid": "skipped", "k": "c2VjcmV0"},
	}}
	data, err := json.Marshal(set)
	require.NoError(t, err)
	return data
}

// sign returns a token of claims signed by method with key, its header
// carrying kid when not empty.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// syncBuffer collects the server's log.
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

// serve starts a server on 127.0.0.1:0 authorizing with v, logging at
// debug level into the returned buffer.
func serve(t *testing.T, v *Verifier) (*api.Server, string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv := api.New(&api.Options{
		Authorize: v.Authorize,
		CanJoin:   v.CanJoin,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
	})
	return srv, "ws://" + srv.Addr().String() + "/ws", logs
}

// dial connects to wsURL with query and header; on a refusal it returns
// the status and body.
func dial(t *testing.T, wsURL string, query url.Values, header http.Header) (*websocket.Conn, int, string) {
	t.Helper()
	u := wsURL
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial(u, header)
	if err != nil {
		require.NotNil(t, resp, "dial: %v", err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return nil, resp.StatusCode, strings.TrimSuffix(string(body), "\n") // the server ends the reason with a newline
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	return ws, http.StatusSwitchingProtocols, ""
}

// bearer is an Authorization header for tok.
func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// withToken is the query ?token=tok.
func withToken(tok string) url.Values { return url.Values{"token": {tok}} }

type frame struct {
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// next reads ws's frames until one of event arrives.
func next(t *testing.T, ws *websocket.Conn, event string) frame {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		_, msg, err := ws.ReadMessage()
		require.NoError(t, err, "waiting for %s", event)
		var f frame
		require.NoError(t, json.Unmarshal(msg, &f), "%s", msg)
		if f.Event == event {
			return f
		}
	}
}

type welcome struct {
	Session string `json:"session"`
	Resume  string `json:"resume"`
	Resumed bool   `json:"resumed"`
	Reason  string `json:"reason"`
}

func welcomeOf(t *testing.T, ws *websocket.Conn) welcome {
	t.Helper()
	var w welcome
	require.NoError(t, json.Unmarshal(next(t, ws, "$welcome").Payload, &w))
	return w
}

// send writes a frame to ws.
func send(t *testing.T, ws *websocket.Conn, f map[string]any) {
	t.Helper()
	require.NoError(t, ws.WriteJSON(f))
}
