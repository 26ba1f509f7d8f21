package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/jwtauth"
)

// secretEnv holds an HS256 secret, as -jwt-secret-file's contents would.
const secretEnv = "ROOMLOOP_JWT_SECRET"

// jwtConfig holds the -jwt-* flags. README.md, section "JWT
// authentication", explains them.
type jwtConfig struct {
	secretFile string
	publicKeys listFlag
	jwks       string
	audience   string
	issuer     string
	getenv     func(string) string
}

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// jwtFlags defines the -jwt-* flags on fs.
func jwtFlags(fs *flag.FlagSet) *jwtConfig {
	c := &jwtConfig{getenv: os.Getenv}
	fs.StringVar(&c.secretFile, "jwt-secret-file", "", "file of HS256 secrets, one a line, at least 32 bytes each (also: env "+secretEnv+"); turns JWT auth on")
	fs.Var(&c.publicKeys, "jwt-public-key", "PEM public key file(s), RSA (RS256) or P-256 EC (ES256), repeatable or comma-separated; turns JWT auth on")
	fs.StringVar(&c.jwks, "jwt-jwks", "", "JWKS file of RSA and P-256 EC keys, chosen by the token's kid; turns JWT auth on")
	fs.StringVar(&c.audience, "jwt-audience", "", "with JWT auth: tokens' aud must contain this")
	fs.StringVar(&c.issuer, "jwt-issuer", "", "with JWT auth: tokens' iss must equal this")
	return c
}

// apply sets opts.Authorize and opts.CanJoin from the flags; with no key
// flag (nor the environment variable) set it leaves them alone.
func (c *jwtConfig) apply(opts *api.Options) error {
	var keys []jwtauth.Key
	addSecrets := func(what string, data []byte) error {
		n := 0
		for _, line := range bytes.Split(data, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			k, err := jwtauth.SecretKey(line)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			keys = append(keys, k)
			n++
		}
		if n == 0 {
			return fmt.Errorf("%s: no secret", what)
		}
		return nil
	}
	if c.secretFile != "" {
		data, err := os.ReadFile(c.secretFile)
		if err != nil {
			return fmt.Errorf("-jwt-secret-file: %w", err)
		}
		if err := addSecrets("-jwt-secret-file", data); err != nil {
			return err
		}
	}
	if env := c.getenv(secretEnv); env != "" {
		if err := addSecrets(secretEnv, []byte(env)); err != nil {
			return err
		}
	}
	for _, f := range c.publicKeys {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("-jwt-public-key: %w", err)
		}
		ks, err := jwtauth.ParsePEM(data)
		if err != nil {
			return fmt.Errorf("-jwt-public-key %s: %w", f, err)
		}
		keys = append(keys, ks...)
	}
	if c.jwks != "" {
		data, err := os.ReadFile(c.jwks)
		if err != nil {
			return fmt.Errorf("-jwt-jwks: %w", err)
		}
		ks, err := jwtauth.ParseJWKS(data)
		if err != nil {
			return fmt.Errorf("-jwt-jwks %s: %w", c.jwks, err)
		}
		keys = append(keys, ks...)
	}
	if len(keys) == 0 {
		if c.audience != "" || c.issuer != "" {
			return errors.New("-jwt-audience and -jwt-issuer need a key: -jwt-secret-file, -jwt-public-key or -jwt-jwks")
		}
		return nil
	}
	v, err := jwtauth.New(jwtauth.Config{Keys: keys, Audience: c.audience, Issuer: c.issuer})
	if err != nil {
		return err
	}
	opts.Authorize, opts.CanJoin, opts.Refresh = v.Authorize, v.CanJoin, v.Refresh
	return nil
}
