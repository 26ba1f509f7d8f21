package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/authproxy"
)

// authURLConfig holds -auth-url and -auth-url-timeout. README.md, section
// "Connect proxy", explains them.
type authURLConfig struct {
	url     string
	timeout time.Duration
}

// authURLFlags defines -auth-url and -auth-url-timeout on fs.
func authURLFlags(fs *flag.FlagSet) *authURLConfig {
	c := &authURLConfig{}
	fs.StringVar(&c.url, "auth-url", "", "authorize every upgrade by POSTing it to this http(s) URL (README: Connect proxy); excludes the -jwt-* flags")
	fs.DurationVar(&c.timeout, "auth-url-timeout", authproxy.DefaultTimeout, "with -auth-url: deadline for the backend's answer (503 past it); at most -auth-timeout")
	return c
}

// apply sets opts.Authorize and opts.CanJoin to ask the backend; without
// -auth-url it leaves them alone. Run it after the JWT flags': JWT auth
// (opts.Authorize already set) and -auth-url exclude each other.
func (c *authURLConfig) apply(opts *api.Options, log *slog.Logger) error {
	if c.url == "" {
		return nil
	}
	if opts.Authorize != nil {
		return errors.New("-auth-url and JWT auth (-jwt-secret-file, -jwt-public-key, -jwt-jwks, " + secretEnv + ") exclude each other")
	}
	if c.timeout <= 0 {
		return fmt.Errorf("-auth-url-timeout: %v is not positive", c.timeout)
	}
	if opts.AuthTimeout > 0 && c.timeout > opts.AuthTimeout {
		return fmt.Errorf("-auth-url-timeout %v is over -auth-timeout %v", c.timeout, opts.AuthTimeout)
	}
	p, err := authproxy.New(authproxy.Config{URL: c.url, Timeout: c.timeout, Logger: log})
	if err != nil {
		return fmt.Errorf("-auth-url: %w", err)
	}
	opts.Authorize, opts.CanJoin, opts.Refresh = p.Authorize, p.CanJoin, p.Refresh
	return nil
}
