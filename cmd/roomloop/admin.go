package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/httpapi"
	"github.com/roomloop/roomloop/internal/metrics"
)

// apiKeyEnv names the environment variable with the HTTP API's key, read
// when neither -api-key nor -api-key-file is set.
const apiKeyEnv = "ROOMLOOP_API_KEY"

// adminConfig holds the flags of the admin address.
type adminConfig struct {
	addr, apiKey, apiKeyFile string
	drainDelay               time.Duration
	key                      string // resolved by resolve
}

// adminFlags defines the admin flags on fs.
func adminFlags(fs *flag.FlagSet) *adminConfig {
	c := &adminConfig{}
	fs.StringVar(&c.addr, "admin-addr", "127.0.0.1:9090", "admin listen address for /healthz, /readyz, /metrics, /debug/pprof/ and the HTTP API at /api/ (empty: none); keep it private")
	fs.StringVar(&c.apiKey, "api-key", "", "bearer key of the HTTP API (prefer -api-key-file or $"+apiKeyEnv+": flags show in ps); none: the API answers 404")
	fs.StringVar(&c.apiKeyFile, "api-key-file", "", "file holding the HTTP API's bearer key (surrounding white space trimmed)")
	fs.DurationVar(&c.drainDelay, "drain-delay", 0, "on SIGINT or SIGTERM, how long /readyz answers 503 before the drain starts (lets load balancers stop sending new clients; e.g. 5s)")
	return c
}

// resolve finds the API key: -api-key-file, -api-key (not both), else
// $ROOMLOOP_API_KEY, else none.
func (c *adminConfig) resolve() error {
	switch {
	case c.apiKey != "" && c.apiKeyFile != "":
		return errors.New("-api-key and -api-key-file exclude each other")
	case c.apiKeyFile != "":
		b, err := os.ReadFile(c.apiKeyFile)
		if err != nil {
			return fmt.Errorf("-api-key-file: %w", err)
		}
		if c.key = strings.TrimSpace(string(b)); c.key == "" {
			return fmt.Errorf("-api-key-file: %s is empty", c.apiKeyFile)
		}
	case c.apiKey != "":
		c.key = c.apiKey
	default:
		c.key = strings.TrimSpace(os.Getenv(apiKeyEnv))
	}
	return nil
}

// admin is the admin address's HTTP server. A nil *admin (no
// -admin-addr) still delays the drain.
type admin struct {
	hs       *http.Server
	delay    time.Duration
	draining atomic.Bool
}

// start serves the admin address for srv; with -admin-addr empty it
// serves nothing and returns an admin that only delays the drain.
func (c *adminConfig) start(srv *api.Server, lim frame.Limits, log *slog.Logger) (*admin, error) {
	a := &admin{delay: c.drainDelay}
	if c.addr == "" {
		return a, nil
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return nil, fmt.Errorf("-admin-addr: %w", err)
	}
	a.hs = &http.Server{Handler: a.mux(srv, c.key, lim), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = a.hs.Serve(ln) }()
	log.Info("admin serving", "addr", ln.Addr().String(), "api", c.key != "")
	return a, nil
}

// mux routes the admin address: /healthz is 200 "ok" while the process
// runs; /readyz is 200 "ready" until the drain begins, then 503
// "draining"; /metrics is Prometheus (internal/metrics, docs/metrics.md);
// /debug/pprof/ is net/http/pprof (on this mux only, never the
// public port); /api/ is the HTTP API (internal/httpapi).
func (a *admin) mux(srv *api.Server, key string, lim frame.Limits) *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	m.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if a.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "draining: shutting down")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	met := metrics.New(srv)
	m.Handle("/metrics", met.Handler())
	m.Handle("/api/", httpapi.New(srv, httpapi.Options{APIKey: key, Limits: lim, Observe: met.ObserveAPI}))
	return m
}

// drain turns /readyz to 503, then waits -drain-delay, before run's
// Shutdown starts closing clients.
func (a *admin) drain(log *slog.Logger) {
	a.draining.Store(true)
	if a.delay > 0 {
		log.Info("not ready; draining after the delay", "drain_delay", a.delay)
		time.Sleep(a.delay)
	}
}

// close stops the admin address (after the drain: /healthz answers until
// then).
func (a *admin) close() {
	if a == nil || a.hs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if a.hs.Shutdown(ctx) != nil {
		_ = a.hs.Close()
	}
}
