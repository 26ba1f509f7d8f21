// Package serve runs one server implementation under test (roomloop or
// the goroutine-model baseline) in the current process and answers a
// small line protocol on stdin: "STATS" prints a JSON line of Stats; end
// of input stops the server.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/bench/baseline"
	"github.com/roomloop/roomloop/bench/floor"
)

// The implementations Start knows. RoomloopHTTP and RoomloopTLS are
// roomloop reached another way: mounted as an http.Handler on a net/http
// server (ServeHTTP), and on its own listener with native TLS
// (Options.TLSConfig). Roomloop uses its own listener (Start).
// RoomloopMetrics is Roomloop with its Prometheus metrics on and scraped
// once a second (extras.go). RoomloopDeflate and BaselineDeflate are
// Roomloop and Baseline with permessage-deflate on: roomloop's
// Options.Compression (compress once per broadcast, the default minimum
// size), and the baseline's Options.Compression (gorilla's
// EnableCompression, broadcasts as one PreparedMessage).
const (
	Roomloop        = "roomloop"
	Baseline        = "baseline"
	RoomloopHTTP    = "roomloop-http"
	RoomloopTLS     = "roomloop-tls"
	RoomloopMetrics = "roomloop-metrics"
	RoomloopDeflate = "roomloop-deflate"
	BaselineDeflate = "baseline-deflate"
	// RoomloopURing is Roomloop with Options.URingWrites on: the
	// flushers submit their writes through io_uring.
	RoomloopURing = "roomloop-uring"
)

// Deflates reports whether impl accepts permessage-deflate.
func Deflates(impl string) bool { return impl == RoomloopDeflate || impl == BaselineDeflate }

// isBaseline reports whether impl is the goroutine-model baseline, with
// compression or without.
func isBaseline(impl string) bool { return impl == Baseline || impl == BaselineDeflate }

// Impls returns the implementations in their default order.
func Impls() [2]string { return [2]string{Roomloop, Baseline} }

// WaysIn returns roomloop's ways in, Start first: the idle scenario
// compares their memory per connection (runner.Config.WaysIn).
func WaysIn() [3]string { return [3]string{Roomloop, RoomloopHTTP, RoomloopTLS} }

// IsTLS reports whether impl serves wss:// only.
func IsTLS(impl string) bool { return impl == RoomloopTLS }

// Config selects and configures the implementation.
type Config struct {
	Impl string // Roomloop or Baseline
	Addr string // listen address, e.g. 127.0.0.1:0
	// Resume keeps roomloop's session resumption on (replay buffers); the
	// baseline has none, so it is off by default.
	Resume bool
	// QueueFrames and QueueBytes bound roomloop's per-client queue.
	QueueFrames, QueueBytes int

	// The rest configure roomloop only; zero values keep api's defaults.
	ResumeWindow      time.Duration // how long a dropped session waits
	ReplayFrames      int           // replay buffer bound per session, frames
	ReplayBytes       int           // replay buffer bound per session, bytes
	HeartbeatInterval time.Duration // server ping interval
	HeartbeatTimeout  time.Duration // drop a silent client after this long
	// DropSlow selects the Drop policy for full queues (default
	// Disconnect, close 4002).
	DropSlow bool
	// Presence turns $presence diffs (a room's joins and leaves) on.
	Presence bool
	// Defaults runs roomloop with api's default options (resumption and
	// presence on, default queues and replay bounds) but for rate limits
	// (off) and the connection cap (raised); the fields above are then
	// ignored.
	Defaults bool
	// API serves roomloop's HTTP API (internal/httpapi, key APIKey) on an
	// admin listener of its own at 127.0.0.1:0, as the roomloop binary
	// does on -admin-addr; Run reports its address on an "ADMIN" line.
	API bool
	// Broker, when set, makes roomloop a node of a cluster
	// (Options.Broker). The caller connects it (the server child's -nats,
	// in cmd/roomloop-bench), so that this package, which the centrifuge
	// comparator's module links too, links no NATS.
	Broker api.Broker
	// HandoverWait, with Broker, is how long shutdown keeps the sessions
	// its drain suspended for their clients to resume them on other nodes
	// (Options.HandoverWait); Close then waits that much longer.
	HandoverWait time.Duration
}

// Server is a started implementation.
type Server interface {
	Addr() string
	Close() error
}

// Start starts the implementation cfg names.
func Start(cfg Config) (Server, error) {
	switch cfg.Impl {
	case Roomloop, RoomloopTLS, RoomloopMetrics, RoomloopDeflate, RoomloopURing:
		return startRoomloop(cfg)
	case RoomloopHTTP:
		return startRoomloopHTTP(cfg)
	case Floor:
		s := floor.New()
		if err := s.Start(cfg.Addr); err != nil {
			return nil, err
		}
		return floorServer{s}, nil
	case Baseline, BaselineDeflate:
		s := baseline.New(&baseline.Options{Compression: cfg.Impl == BaselineDeflate})
		if err := s.Start(cfg.Addr); err != nil {
			return nil, err
		}
		return baselineServer{s}, nil
	}
	return nil, fmt.Errorf("serve: unknown implementation %q (want %s, %s, %s, %s, %s, %s, %s, %s or %s)", cfg.Impl,
		Roomloop, Baseline, RoomloopHTTP, RoomloopTLS, RoomloopMetrics, RoomloopDeflate, BaselineDeflate, Floor, RoomloopURing)
}

// roomloopServer adapts *api.Server and counts how its sessions end.
type roomloopServer struct {
	s    *api.Server
	hook *hooks
	ex   *extras       // the admin listener and the metrics scraper, if on
	wait time.Duration // Config.HandoverWait, which Close allows for
}

// startRoomloop starts roomloop on its own listener (Start), with a
// self-signed certificate for RoomloopTLS.
func startRoomloop(cfg Config) (Server, error) {
	opts := roomloopOptions(cfg)
	opts.Broker, opts.HandoverWait = cfg.Broker, cfg.HandoverWait
	opts.URingWrites = cfg.Impl == RoomloopURing
	if cfg.Impl == RoomloopTLS {
		tc, err := selfSigned()
		if err != nil {
			return nil, err
		}
		opts.TLSConfig = tc
	}
	s := api.New(opts.Options)
	if err := s.Start(cfg.Addr); err != nil {
		return nil, err
	}
	ex, err := startExtras(cfg, s, opts.Limits)
	if err != nil {
		_ = roomloopServer{s: s}.Close()
		return nil, err
	}
	return roomloopServer{s: s, hook: opts.hooks, ex: ex, wait: cfg.HandoverWait}, nil
}

// options are roomloop's options with the hooks that count session ends.
type options struct {
	*api.Options
	hooks *hooks
}

// roomloopOptions configures roomloop as every variant runs it: without
// presence, and with large queues; or, with cfg.Defaults, as a deployment
// with the default options runs it.
func roomloopOptions(cfg Config) options {
	qf, qb := cfg.QueueFrames, cfg.QueueBytes
	if qf <= 0 {
		qf = 4096
	}
	if qb <= 0 {
		qb = 4 << 20
	}
	h := newHooks()
	if cfg.Defaults {
		return options{&api.Options{
			RateLimits:   api.NoRateLimits(),
			MaxConns:     benchMaxConns(),
			OnDisconnect: h.ended,
			OnSuspend:    h.suspended,
			OnResume:     h.resumed,
			Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		}, h}
	}
	policy := api.Disconnect
	if cfg.DropSlow {
		policy = api.Drop
	}
	return options{&api.Options{
		DisablePresence:   !cfg.Presence,
		DisableResume:     !cfg.Resume,
		QueueFrames:       qf,
		QueueBytes:        qb,
		ResumeWindow:      cfg.ResumeWindow,
		ReplayFrames:      cfg.ReplayFrames,
		ReplayBytes:       cfg.ReplayBytes,
		HeartbeatInterval: cfg.HeartbeatInterval,
		HeartbeatTimeout:  cfg.HeartbeatTimeout,
		SlowConsumer:      policy,
		RateLimits:        api.NoRateLimits(), // the baseline has none; scenarios publish at saturation
		MaxConns:          benchMaxConns(),    // the baseline has no cap
		OnDisconnect:      h.ended,
		OnSuspend:         h.suspended,
		OnResume:          h.resumed,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		Histograms:        cfg.Impl == RoomloopMetrics, // as the binary does when it serves /metrics
		Compression:       cfg.Impl == RoomloopDeflate, // with the default minimum size, as -compression
	}, h}
}

// benchMaxConns is the open-file limit less 256: the benchmark holds up to
// 19,000 connections under a 20,000 limit, which roomloop's default cap
// (5% and 64 below the limit) would refuse in part. 0 (the default) where
// the limit cannot be read.
func benchMaxConns() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur < 1024 || l.Cur > 1<<30 {
		return 0
	}
	return int(l.Cur) - 256
}

// report adds the server's own counts to st.
func (r roomloopServer) report(st *Stats) {
	a := r.s.Stats()
	st.Conns, st.Sessions, st.Suspended, st.Rooms, st.QueuedBytes = a.Connections, a.Sessions, a.Suspended, a.Rooms, a.QueuedBytes
	st.Writes, st.Frames = a.Writes, a.FramesWritten
	// api's default worker pool: 256 per core (loop.Config.Workers).
	st.PoolSize = 256 * runtime.GOMAXPROCS(0)
	r.hook.report(st)
}

// Addr returns the listening address.
func (r roomloopServer) Addr() string { return r.s.Addr().String() }

// AdminAddr returns the admin listener's address; "" without one.
func (r roomloopServer) AdminAddr() string { return r.ex.adminAddr() }

// Close stops the admin listener and the scraper, then drains and stops
// the server, waiting at most 5 seconds more than Config.HandoverWait.
func (r roomloopServer) Close() error {
	exErr := r.ex.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second+r.wait)
	defer cancel()
	return errors.Join(exErr, r.s.Shutdown(ctx))
}

// baselineServer adapts *baseline.Server.
type baselineServer struct{ s *baseline.Server }

// report adds the frames written (one per write) to st.
func (b baselineServer) report(st *Stats) {
	st.Writes = b.s.Writes()
	st.Frames = st.Writes
}

// Addr returns the listening address.
func (b baselineServer) Addr() string { return b.s.Addr().String() }

// Close stops the server.
func (b baselineServer) Close() error { return b.s.Close() }

// floorServer adapts *floor.Server.
type floorServer struct{ s *floor.Server }

// report adds the rooms with members to st.
func (f floorServer) report(st *Stats) { st.Rooms = f.s.Rooms() }

// Addr returns the listening address.
func (f floorServer) Addr() string { return f.s.Addr().String() }

// Close stops the server.
func (f floorServer) Close() error { return f.s.Close() }
