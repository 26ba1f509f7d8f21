package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wstest"
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

// serve starts a server on 127.0.0.1:0 authorizing with v, logging at
// debug level into the returned buffer.
func serve(t *testing.T, v *Verifier) (*api.Server, string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv := api.New(&api.Options{
		Authorize: v.Authorize,
		CanJoin:   v.CanJoin,
		Refresh:   v.Refresh,
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

// bearer is an Authorization header for tok.
func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// withToken is the query ?token=tok.
func withToken(tok string) url.Values { return url.Values{"token": {tok}} }

// The shared client helpers, under this package's names.
type syncBuffer = wstest.LogBuffer

var (
	dial      = wstest.DialQuery
	next      = wstest.Next
	welcomeOf = wstest.WelcomeOf
	send      = wstest.Send
)
