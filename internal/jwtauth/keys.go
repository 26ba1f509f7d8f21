package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// ParsePEM returns the keys of the PEM blocks in data: "PUBLIC KEY"
// (PKIX: RSA or P-256 EC) and "RSA PUBLIC KEY" (PKCS #1). Other blocks are
// an error, private keys included; so is data without a block.
func ParsePEM(data []byte) ([]Key, error) {
	var keys []Key
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var pub any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
		default:
			return nil, fmt.Errorf("jwtauth: a PEM block of type %q is no public key (want PUBLIC KEY or RSA PUBLIC KEY)", b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("jwtauth: %s: %w", b.Type, err)
		}
		k, err := PublicKey("", pub)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwtauth: no PEM public key found")
	}
	return keys, nil
}

// jwk is one key of a JWKS.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseJWKS returns the signing keys of a JSON Web Key Set
// ({"keys":[...]}): RSA keys (RS256) and EC P-256 keys (ES256). Keys of
// other types, with "use" other than "sig", or with an "alg" other than
// their type's are skipped; a set with no usable key is an error, as is a
// malformed usable key.
func ParseJWKS(data []byte) ([]Key, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("jwtauth: JWKS: %w", err)
	}
	var keys []Key
	for i, j := range set.Keys {
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		var pub any
		var err error
		switch {
		case j.Kty == "RSA" && (j.Alg == "" || j.Alg == RS256):
			pub, err = j.rsa()
		case j.Kty == "EC" && j.Crv == "P-256" && (j.Alg == "" || j.Alg == ES256):
			pub, err = j.ec()
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("jwtauth: JWKS key %d (kid %q): %w", i, j.Kid, err)
		}
		k, err := PublicKey(j.Kid, pub)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwtauth: the JWKS has no RS256 or ES256 signing key")
	}
	return keys, nil
}

func (j jwk) rsa() (*rsa.PublicKey, error) {
	n, err := base64.RawURLEncoding.DecodeString(j.N)
	if err != nil || len(n) == 0 {
		return nil, errors.New("bad n")
	}
	e, err := base64.RawURLEncoding.DecodeString(j.E)
	if err != nil || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("bad e")
	}
	exp := new(big.Int).SetBytes(e)
	if exp.Int64() < 3 || exp.Int64()%2 == 0 {
		return nil, errors.New("bad e")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
}

func (j jwk) ec() (*ecdsa.PublicKey, error) {
	x, errX := base64.RawURLEncoding.DecodeString(j.X)
	y, errY := base64.RawURLEncoding.DecodeString(j.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad x or y")
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
}
