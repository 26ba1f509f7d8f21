package resume

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// SecretBytes is the size of a token's random part: 128 bits.
const SecretBytes = 16

// NewToken returns a resume token for session id: the id, a dot, and 128
// random bits in unpadded base64url. The id part lets the server find the
// session without using the secret as a lookup key; the secret is then
// compared in constant time.
func NewToken(id string) string {
	var b [SecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("resume: crypto/rand failed: " + err.Error())
	}
	return id + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// SessionOf returns the session id a token names, or false if it is not a
// well-formed token.
func SessionOf(token string) (string, bool) {
	i := strings.LastIndexByte(token, '.')
	if i <= 0 || len(token)-i-1 != base64.RawURLEncoding.EncodedLen(SecretBytes) {
		return "", false
	}
	return token[:i], true
}

// Match reports whether presented equals the session's token, in time that
// does not depend on where they differ.
func Match(presented, token string) bool {
	return subtle.ConstantTimeCompare([]byte(presented), []byte(token)) == 1
}
