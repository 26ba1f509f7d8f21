package jwtauth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wstest"
)

const (
	testAud = "roomloop-test"
	testIss = "https://issuer.test"
)

// claims returns valid claims for sub, with extra ones merged in (a nil
// value deletes a claim).
func claims(sub string, extra jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "aud": testAud, "iss": testIss, "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// asymmetricVerifier trusts rsaKey's public key as a PEM key, and a JWKS
// with rsaKey2 ("r2") and ecKey ("e1"), with audience and issuer checks.
func asymmetricVerifier(t *testing.T) *Verifier {
	t.Helper()
	rk, rk2, ek := testKeys(t)
	pemKeys, err := ParsePEM(pemOf(t, &rk.PublicKey))
	require.NoError(t, err)
	jwks, err := ParseJWKS(jwksOf(t, "r2", &rk2.PublicKey, "e1", &ek.PublicKey))
	require.NoError(t, err)
	require.Len(t, jwks, 2, "the oct key is skipped")
	v, err := New(Config{Keys: append(pemKeys, jwks...), Audience: testAud, Issuer: testIss})
	require.NoError(t, err)
	return v
}

// TestRefusals: each bad token is refused over a real WebSocket dial with
// 401 and its reason as a plain-text body, neither the body nor the
// server's log (at debug level) holds the token, and a client connected
// before keeps receiving broadcasts.
func TestRefusals(t *testing.T) {
	rk, _, ek := testKeys(t)
	srv, wsURL, logs := serve(t, asymmetricVerifier(t))

	bystander, status, body := dial(t, wsURL, nil, bearer(sign(t, jwt.SigningMethodRS256, rk, "",
		claims("bystander", jwt.MapClaims{"rooms": []string{"lobby"}}))))
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	welcomeOf(t, bystander)
	assert.Equal(t, "lobby", next(t, bystander, "$joined").Room)

	hour := time.Hour
	rsaPEM := pemOf(t, &rk.PublicKey)
	for i, tc := range []struct {
		name, token, want string
	}{
		{"missing", "", ReasonMissing},
		{"malformed", "not.a-token", ReasonMalformed},
		{"garbage header", "e30.e30.", ReasonMalformed},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims("mallory", nil)), ReasonAlgNone},
		// The confusion attack: HS256 "signed" with the RSA public key as the secret.
		{"HS256 with the RSA public key", sign(t, jwt.SigningMethodHS256, rsaPEM, "", claims("mallory", nil)), ReasonAlgorithm},
		{"RS256 for an EC kid", sign(t, jwt.SigningMethodRS256, rk, "e1", claims("mallory", nil)), ReasonAlgorithm},
		{"unknown kid", sign(t, jwt.SigningMethodES256, ek, "nope", claims("mallory", nil)), ReasonAlgorithm},
		{"bad signature", sign(t, jwt.SigningMethodRS256, untrustedRSA(t), "", claims("mallory", nil)), ReasonSignature},
		{"expired", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix()})), ReasonExpired},
		{"not yet valid", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"nbf": time.Now().Add(hour).Unix()})), ReasonNotYetValid},
		{"wrong aud", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"aud": "elsewhere"})), ReasonAudience},
		{"no aud", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"aud": nil})), ReasonAudience},
		{"no iss", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"iss": nil})), ReasonIssuer},
		{"sub not a string", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"sub": 7})), ReasonBadClaims},
		{"too long", strings.Repeat("a", 5000), ReasonMalformed},
		{"wrong iss", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"iss": "https://evil.test"})), ReasonIssuer},
		{"no sub", sign(t, jwt.SigningMethodRS256, rk, "", claims("", nil)), ReasonNoSub},
		{"rooms not strings", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"rooms": []int{1}})), ReasonBadClaims},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, how := range []string{"query", "header"} {
				var ws *websocket.Conn
				var status int
				var body string
				if how == "query" {
					ws, status, body = dial(t, wsURL, withToken(tc.token), nil)
				} else {
					ws, status, body = dial(t, wsURL, nil, bearer(tc.token))
				}
				require.Equal(t, http.StatusUnauthorized, status, "%s: connected", how)
				require.Nil(t, ws)
				assert.Equal(t, tc.want, strings.TrimSpace(body), how)
				if tc.token != "" {
					assert.NotContains(t, body, tc.token)
					assert.NotContains(t, logs.String(), tc.token, "the log must not hold the token")
				}
			}
			// The bystander is unaffected.
			f, err := api.JSON("tick", i)
			require.NoError(t, err)
			f.Room = "lobby"
			n, err := srv.Broadcast("lobby", f)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			got := next(t, bystander, "tick")
			assert.JSONEq(t, fmt.Sprint(i), string(got.Payload))
		})
	}
	assert.Contains(t, logs.String(), "upgrade refused", "refusals are logged, without the token")
}

// untrustedRSA returns an RSA key the verifiers do not know.
func untrustedRSA(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}

// TestAccepted: tokens signed by each kind of key connect, by query
// parameter and by header; "rooms" are joined at connect; "allowed_rooms"
// limits $join.
func TestAccepted(t *testing.T) {
	rk, rk2, ek := testKeys(t)
	_, wsURL, _ := serve(t, asymmetricVerifier(t))

	for _, tc := range []struct {
		name  string
		token string
	}{
		{"RS256 PEM key", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", nil))},
		{"RS256 JWKS key by kid", sign(t, jwt.SigningMethodRS256, rk2, "r2", claims("ada", nil))},
		{"ES256 JWKS key by kid", sign(t, jwt.SigningMethodES256, ek, "e1", claims("ada", nil))},
		{"ES256 JWKS key without kid", sign(t, jwt.SigningMethodES256, ek, "", claims("ada", nil))},
		{"expired within the leeway", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"exp": time.Now().Add(-2 * time.Second).Unix()}))},
		{"aud as a list", sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", jwt.MapClaims{"aud": []string{"other", testAud}}))},
	} {
		for _, how := range []string{"query", "header"} {
			var status int
			var body string
			if how == "query" {
				_, status, body = dial(t, wsURL, withToken(tc.token), nil)
			} else {
				_, status, body = dial(t, wsURL, nil, bearer(tc.token))
			}
			assert.Equal(t, http.StatusSwitchingProtocols, status, "%s by %s: %s", tc.name, how, body)
		}
	}

	tok := sign(t, jwt.SigningMethodES256, ek, "e1", claims("grace", jwt.MapClaims{
		"rooms": []string{"user:grace", "lobby"}, "allowed_rooms": []string{"game:*", "lobby"}}))
	ws, status, body := dial(t, wsURL, withToken(tok), nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	welcomeOf(t, ws)
	assert.Equal(t, "user:grace", next(t, ws, "$joined").Room, "rooms are joined at connect, not checked against allowed_rooms")
	assert.Equal(t, "lobby", next(t, ws, "$joined").Room)

	send(t, ws, map[string]any{"event": "$join", "room": "game:42", "id": "1"})
	assert.Equal(t, "game:42", next(t, ws, "$joined").Room)
	send(t, ws, map[string]any{"event": "$join", "room": "lobby", "id": "2"})
	assert.Equal(t, "lobby", next(t, ws, "$joined").Room)
	send(t, ws, map[string]any{"event": "$join", "room": "private", "id": "3"})
	e := next(t, ws, "$error")
	assert.Equal(t, "3", e.ID)
	var p struct{ Code, Message string }
	require.NoError(t, json.Unmarshal(e.Payload, &p))
	assert.Equal(t, api.CodeForbidden, p.Code)
	assert.Contains(t, p.Message, "private")

	// Without allowed_rooms, any room.
	ws2, status, body := dial(t, wsURL, nil, bearer(sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", nil))))
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	welcomeOf(t, ws2)
	send(t, ws2, map[string]any{"event": "$join", "room": "private", "id": "1"})
	assert.Equal(t, "private", next(t, ws2, "$joined").Room)
}

// TestSecretRotation: with two HS256 secrets, tokens of either connect; a
// third secret's are refused; an RS256 token is refused (no RSA key).
func TestSecretRotation(t *testing.T) {
	oldSecret := []byte(strings.Repeat("o", 32))
	newSecret := []byte(strings.Repeat("n", 40))
	k1, err := SecretKey(oldSecret)
	require.NoError(t, err)
	k2, err := SecretKey(newSecret)
	require.NoError(t, err)
	_, err = SecretKey([]byte("short"))
	require.Error(t, err, "a secret under 32 bytes")
	v, err := New(Config{Keys: []Key{k1, k2}})
	require.NoError(t, err)
	_, wsURL, _ := serve(t, v)

	plain := jwt.MapClaims{"sub": "ada"}
	for _, secret := range [][]byte{oldSecret, newSecret} {
		_, status, body := dial(t, wsURL, withToken(sign(t, jwt.SigningMethodHS256, secret, "", plain)), nil)
		assert.Equal(t, http.StatusSwitchingProtocols, status, body)
	}
	_, status, body := dial(t, wsURL, withToken(sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 32)), "", plain)), nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, ReasonSignature, body)
	rk, _, _ := testKeys(t)
	_, status, body = dial(t, wsURL, withToken(sign(t, jwt.SigningMethodRS256, rk, "", plain)), nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, ReasonAlgorithm, body)
	_, status, body = dial(t, wsURL, withToken(sign(t, jwt.SigningMethodHS384, newSecret, "", plain)), nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, ReasonAlgorithm, body, "HS384 is not accepted")
}

// TestResumeNeedsSameSub: a resume token presented with a token for
// another sub gets a fresh session (reason "unknown"); with the same sub it
// resumes.
func TestResumeNeedsSameSub(t *testing.T) {
	rk, _, _ := testKeys(t)
	_, wsURL, _ := serve(t, asymmetricVerifier(t))
	ada := sign(t, jwt.SigningMethodRS256, rk, "", claims("ada", nil))
	eve := sign(t, jwt.SigningMethodRS256, rk, "", claims("eve", nil))

	ws, status, body := dial(t, wsURL, withToken(ada), nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	first := welcomeOf(t, ws)
	require.NotEmpty(t, first.Resume)

	q := url.Values{"token": {eve}, "resume": {first.Resume}, "last_seq": {"0"}}
	other, status, body := dial(t, wsURL, q, nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	w := welcomeOf(t, other)
	assert.False(t, w.Resumed)
	assert.Equal(t, "unknown", w.Reason)
	assert.NotEqual(t, first.Session, w.Session)

	q.Set("token", ada)
	same, status, body := dial(t, wsURL, q, nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	w = welcomeOf(t, same)
	assert.True(t, w.Resumed)
	assert.Equal(t, first.Session, w.Session)
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		room     string
		want     bool
	}{
		{[]string{"lobby"}, "lobby", true},
		{[]string{"lobby"}, "lobby2", false},
		{[]string{"game:*"}, "game:1", true},
		{[]string{"game:*"}, "game:", true},
		{[]string{"game:*"}, "gam", false},
		{[]string{"*"}, "anything", true},
		{[]string{"a*b"}, "axb", false},
		{[]string{"a*b"}, "a*b", true},
		{nil, "lobby", false},
	} {
		assert.Equal(t, tc.want, Allowed(tc.patterns, tc.room), "%q %q", tc.patterns, tc.room)
	}
}

func TestParseKeys(t *testing.T) {
	_, err := ParsePEM([]byte("nothing"))
	assert.ErrorContains(t, err, "no PEM public key")
	_, err = ParsePEM([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	assert.ErrorContains(t, err, "no public key")
	_, err = ParseJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	assert.ErrorContains(t, err, "no RS256 or ES256 signing key")
	_, err = ParseJWKS([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}`))
	assert.ErrorContains(t, err, "bad x or y")
	_, err = ParseJWKS([]byte(`not json`))
	assert.Error(t, err)
	_, err = New(Config{})
	assert.Error(t, err)

	rk, _, ek := testKeys(t)
	keys, err := ParsePEM(append(pemOf(t, &rk.PublicKey), pemOf(t, &ek.PublicKey)...))
	require.NoError(t, err)
	require.Len(t, keys, 2)
	assert.Equal(t, RS256, keys[0].Alg)
	assert.Equal(t, ES256, keys[1].Alg)
}

// TestKidSelection: with JWKS keys only, a kid none has is "unknown key
// id"; a kid picks its key even when another key has the same algorithm.
func TestKidSelection(t *testing.T) {
	_, rk2, ek := testKeys(t)
	keys, err := ParseJWKS(jwksOf(t, "r2", &rk2.PublicKey, "e1", &ek.PublicKey))
	require.NoError(t, err)
	v, err := New(Config{Keys: keys})
	require.NoError(t, err)
	sub := jwt.MapClaims{"sub": "ada"}

	_, reason := v.Verify(sign(t, jwt.SigningMethodES256, ek, "other", sub))
	assert.Equal(t, ReasonUnknownKey, reason)
	c, reason := v.Verify(sign(t, jwt.SigningMethodES256, ek, "e1", sub))
	assert.Empty(t, reason)
	assert.Equal(t, "ada", c["sub"])
	_, reason = v.Verify(sign(t, jwt.SigningMethodES256, ek, "r2", sub))
	assert.Equal(t, ReasonAlgorithm, reason, "kid r2 is an RSA key")
	_, reason = v.Verify(sign(t, jwt.SigningMethodRS256, rk2, "", sub))
	assert.Empty(t, reason, "no kid: every key of the algorithm")

	// The leeway is 5 s: 2 s past exp passes, 10 s does not.
	now := time.Now()
	v.cfg.Now = func() time.Time { return now }
	_, reason = v.Verify(sign(t, jwt.SigningMethodES256, ek, "e1", jwt.MapClaims{"sub": "ada", "exp": now.Add(-2 * time.Second).Unix()}))
	assert.Empty(t, reason)
	_, reason = v.Verify(sign(t, jwt.SigningMethodES256, ek, "e1", jwt.MapClaims{"sub": "ada", "exp": now.Add(-10 * time.Second).Unix()}))
	assert.Equal(t, ReasonExpired, reason)
}

// TestExpiryAndRefresh: $welcome tells how long the token has left; a
// $refresh with a later token of the same sub moves the expiry; one of
// another sub, a bad one or an expired one is refused; when the token's
// exp passes unrefreshed the connection closes with 4004.
func TestExpiryAndRefresh(t *testing.T) {
	rk, _, _ := testKeys(t)
	_, wsURL, logs := serve(t, asymmetricVerifier(t))
	token := func(sub string, exp time.Time) string {
		return sign(t, jwt.SigningMethodRS256, rk, "", claims(sub, jwt.MapClaims{"exp": exp.Unix()}))
	}
	refresh := func(ws *websocket.Conn, id, tok string) wstest.Frame { return wstest.Refresh(t, ws, id, tok) }

	ws, status, body := dial(t, wsURL, withToken(token("ada", time.Now().Add(30*time.Minute))), nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	w := welcomeOf(t, ws)
	assert.InDelta(t, 30*60*1000, w.ExpiresInMS, 5000)

	f := refresh(ws, "1", token("ada", time.Now().Add(2*time.Hour)))
	require.Equal(t, "$refreshed", f.Event, "payload %s", f.Payload)
	var p frame.RefreshedPayload
	require.NoError(t, json.Unmarshal(f.Payload, &p))
	assert.InDelta(t, 2*60*60*1000, p.ExpiresInMS, 5000)

	for _, tc := range []struct{ name, tok, code, reason string }{
		{"another sub", token("eve", time.Now().Add(3*time.Hour)), api.CodeForbidden, ""},
		{"expired", token("ada", time.Now().Add(-time.Hour)), api.CodeUnauthorized, ReasonExpired},
		{"malformed", "not.a.jwt", api.CodeUnauthorized, ReasonMalformed},
	} {
		f := refresh(ws, "x", tc.tok)
		require.Equal(t, "$error", f.Event, tc.name)
		var e frame.ErrorPayload
		require.NoError(t, json.Unmarshal(f.Payload, &e))
		assert.Equal(t, tc.code, e.Code, tc.name)
		if tc.reason != "" {
			assert.Equal(t, tc.reason, e.Message, tc.name)
		}
		assert.NotContains(t, e.Message, tc.tok, tc.name)
	}
	assert.NotContains(t, logs.String(), "not.a.jwt", "tokens are never logged")

	// A token that expires in a second, unrefreshed: closed with 4004.
	short, status, body := dial(t, wsURL, withToken(token("bo", time.Now().Add(time.Second))), nil)
	require.Equal(t, http.StatusSwitchingProtocols, status, body)
	welcomeOf(t, short)
	assert.Equal(t, 4004, wstest.CloseCode(t, short, 10*time.Second))
}
