// Package jwtauth authorizes roomloop connections with JSON Web Tokens: its
// Verifier gives an api.Options.Authorize, CanJoin and Refresh.
//
// Keys: HS256 secrets, RS256 (RSA) and ES256 (P-256) public keys, each
// accepting only its own algorithm, so a token signed with HS256 using an
// RSA public key as the secret (the classic confusion attack) or with alg
// "none" is refused. Several keys may be configured at once, for rotation:
// a token whose header has a "kid" is checked against the keys with that id
// (JWKS keys have ids; secrets and PEM keys do not, and are tried when no
// key has the token's kid); otherwise against every key of its algorithm.
//
// Claims: "sub" (required) is the user (api.Identity.User: only the same
// sub resumes a session); "exp" and "nbf", when present, are checked with
// Leeway (default 5 s) for clock skew; "aud" and "iss" when the Verifier
// is configured with an audience or issuer; "rooms" (optional, an array of
// room names) are joined at connect; "allowed_rooms" (optional, an array of
// patterns) limits $join: a pattern is a room name, or a prefix followed by
// "*" matching every room that starts with it ("*" alone: any room). Only a
// trailing "*" is special. Without "allowed_rooms" any room may be joined;
// with an empty array none. The token's claims are kept on the Conn
// (api.Conn.Claims). "exp" also becomes api.Identity.Expires: when it
// passes, the server closes the connection with 4004 unless the client
// has sent a later token of the same sub with $refresh (Refresh).
//
// The token is read from the Authorization header ("Bearer <token>"), else
// from the "token" query parameter. Refusals are 401 with a fixed
// plain-text reason that never contains the token.
package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/roomloop/roomloop/api"
)

// DefaultLeeway is the clock skew allowed on "exp" and "nbf".
const DefaultLeeway = 5 * time.Second

// The algorithms accepted, one per key type.
const (
	HS256 = "HS256"
	RS256 = "RS256"
	ES256 = "ES256"
)

// Key is one verification key.
type Key struct {
	ID  string // "kid"; empty for secrets and PEM keys
	Alg string // HS256, RS256 or ES256, fixed by the key's type
	key any    // []byte, *rsa.PublicKey or *ecdsa.PublicKey
}

// SecretKey returns an HS256 key.
func SecretKey(secret []byte) (Key, error) {
	if len(secret) < 32 {
		return Key{}, fmt.Errorf("jwtauth: an HS256 secret must have at least 32 bytes, this one has %d", len(secret))
	}
	return Key{Alg: HS256, key: append([]byte(nil), secret...)}, nil
}

// PublicKey returns the key for an *rsa.PublicKey (RS256) or an
// *ecdsa.PublicKey on P-256 (ES256), with id kid (may be empty).
func PublicKey(kid string, pub any) (Key, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return Key{}, fmt.Errorf("jwtauth: RSA key %q has %d bits, fewer than 2048", kid, k.N.BitLen())
		}
		return Key{ID: kid, Alg: RS256, key: k}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return Key{}, fmt.Errorf("jwtauth: EC key %q is not on P-256 (only ES256 is accepted)", kid)
		}
		return Key{ID: kid, Alg: ES256, key: k}, nil
	default:
		return Key{}, fmt.Errorf("jwtauth: key %q is a %T, neither RSA nor EC", kid, pub)
	}
}

// Config configures a Verifier.
type Config struct {
	Keys     []Key
	Audience string        // if set, "aud" must contain it
	Issuer   string        // if set, "iss" must equal it
	Leeway   time.Duration // on exp and nbf; 0: DefaultLeeway
	Now      func() time.Time
}

// Verifier checks tokens against its keys.
type Verifier struct {
	cfg Config
}

// New returns a Verifier; it needs at least one key.
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("jwtauth: no keys")
	}
	for _, k := range cfg.Keys {
		if k.key == nil {
			return nil, errors.New("jwtauth: a key was not made by SecretKey, PublicKey, ParsePEM or ParseJWKS")
		}
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Keys = append([]Key(nil), cfg.Keys...)
	return &Verifier{cfg: cfg}, nil
}

// The refusal reasons, sent as the 401's body.
const (
	ReasonMissing      = "missing token"
	ReasonMalformed    = "malformed token"
	ReasonAlgNone      = "alg none is not accepted"
	ReasonAlgorithm    = "token algorithm not accepted for the key"
	ReasonUnknownKey   = "unknown key id"
	ReasonSignature    = "bad token signature"
	ReasonExpired      = "token expired"
	ReasonNotYetValid  = "token not valid yet"
	ReasonAudience     = "wrong token audience"
	ReasonIssuer       = "wrong token issuer"
	ReasonNoSub        = "token has no sub"
	ReasonBadClaims    = "malformed token claims"
	claimRooms         = "rooms"
	claimAllowedRooms  = "allowed_rooms"
	maxTokenBytes      = 4 << 10
	authorizationLabel = "bearer "
)

// Token returns the request's token: "Authorization: Bearer <token>", else
// the "token" query parameter; "" if neither.
func Token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > len(authorizationLabel) && strings.EqualFold(h[:len(authorizationLabel)], authorizationLabel) {
		return strings.TrimSpace(h[len(authorizationLabel):])
	}
	return r.URL.Query().Get("token")
}

// Authorize is an api.Options.Authorize: it verifies the request's token
// and returns the Identity its claims give, or a 401 *api.Refusal.
func (v *Verifier) Authorize(r *http.Request) (api.Identity, error) {
	tok := Token(r)
	if tok == "" {
		return api.Identity{}, api.Unauthorized(ReasonMissing)
	}
	return v.identity(tok)
}

// Refresh is an api.Options.Refresh: it verifies a token a connected
// client sends with $refresh, as Authorize does one at connect. The
// server checks that its sub is the session's user; its "rooms" are not
// joined (they are for connecting).
func (v *Verifier) Refresh(_ *api.Conn, tok string) (api.Identity, error) {
	id, err := v.identity(tok)
	id.Rooms = nil
	return id, err
}

// identity verifies tok and returns the Identity its claims give, or a
// 401 *api.Refusal. Identity.Expires is the token's exp (zero without).
func (v *Verifier) identity(tok string) (api.Identity, error) {
	claims, reason := v.Verify(tok)
	if reason != "" {
		return api.Identity{}, api.Unauthorized(reason)
	}
	sub, _ := claims["sub"].(string)
	rooms, _ := claims[claimRooms].([]string)
	id := api.Identity{User: sub, Claims: claims, Rooms: rooms}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		id.Expires = exp.Time
	}
	return id, nil
}

// CanJoin is an api.Options.CanJoin: a client whose token has
// "allowed_rooms" may join only the rooms they match.
func (v *Verifier) CanJoin(c *api.Conn, room string) error {
	patterns, limited := c.Claims()[claimAllowedRooms].([]string)
	if !limited || Allowed(patterns, room) {
		return nil
	}
	return api.NewError(api.CodeForbidden, "the token does not allow room "+room)
}

// Allowed reports whether room matches one of patterns: a room name, or a
// prefix and a trailing "*".
func Allowed(patterns []string, room string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(room, prefix) {
				return true
			}
		} else if p == room {
			return true
		}
	}
	return false
}

// Verify checks tok and returns its claims ("rooms" and "allowed_rooms",
// when present, as []string), or the reason it is refused.
func (v *Verifier) Verify(tok string) (jwt.MapClaims, string) {
	if len(tok) > maxTokenBytes {
		return nil, ReasonMalformed
	}
	unverified, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		return nil, ReasonMalformed
	}
	alg, _ := unverified.Header["alg"].(string)
	if strings.EqualFold(alg, "none") {
		return nil, ReasonAlgNone
	}
	kid, _ := unverified.Header["kid"].(string)
	candidates := v.keysFor(kid)
	if len(candidates) == 0 {
		return nil, ReasonUnknownKey
	}
	reason := ReasonAlgorithm
	for _, k := range candidates {
		if k.Alg != alg {
			continue
		}
		claims, r := v.verifyWith(tok, k)
		if r == "" {
			return claims, ""
		}
		if r != ReasonSignature {
			return nil, r
		}
		reason = r
	}
	return nil, reason
}

// keysFor returns the keys with id kid, or if there are none, the keys
// without an id.
func (v *Verifier) keysFor(kid string) []Key {
	var withID, without []Key
	for _, k := range v.cfg.Keys {
		switch {
		case k.ID == "":
			without = append(without, k)
		case kid != "" && k.ID == kid:
			withID = append(withID, k)
		}
	}
	if len(withID) > 0 {
		return withID
	}
	if kid == "" {
		// No kid: every key, including those of a JWKS.
		return v.cfg.Keys
	}
	return without
}

func (v *Verifier) verifyWith(tok string, k Key) (jwt.MapClaims, string) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{k.Alg}),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithTimeFunc(v.cfg.Now),
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return k.key, nil })
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, ReasonSignature
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, ReasonMalformed
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return nil, ReasonAudience
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, ReasonIssuer
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if _, ok := claims["aud"]; !ok && v.cfg.Audience != "" {
			return nil, ReasonAudience
		}
		if _, ok := claims["iss"]; !ok && v.cfg.Issuer != "" {
			return nil, ReasonIssuer
		}
		return nil, ReasonBadClaims
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return nil, ReasonBadClaims
	default:
		return nil, ReasonSignature
	}
	if sub, ok := claims["sub"].(string); !ok || sub == "" {
		if _, present := claims["sub"]; present && !ok {
			return nil, ReasonBadClaims
		}
		return nil, ReasonNoSub
	}
	for _, name := range []string{claimRooms, claimAllowedRooms} {
		raw, present := claims[name]
		if !present {
			continue
		}
		list, ok := stringList(raw)
		if !ok {
			return nil, ReasonBadClaims
		}
		claims[name] = list
	}
	return claims, ""
}

// stringList converts a JSON array of strings.
func stringList(raw any) ([]string, bool) {
	arr, ok := raw.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok || s == "" {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
