// Package loop is roomloop's transport: one nbio epoll engine that
// accepts TCP connections (from its own listeners, or handed over by a
// net/http server through ServeHTTP), optionally speaks TLS, performs the
// WebSocket upgrade, parses frames strictly (RFC 6455), hands whole
// messages to a bounded worker pool in per-connection order, pings, and
// writes each connection's pending bytes from per-core flushers, many
// messages per write.
//
// It knows bytes, WebSocket frames and connections, and nothing of
// sessions, seq numbers or roomloop events: what a connection writes comes
// from its Source (resume.Stream, in roomloop), which the engine drains and
// tells what the peer has received.
//
// No goroutine and no read buffer exist per connection: the engine reads
// every socket into pooled buffers, and a connection buffers bytes only
// while a frame or handshake is incomplete, or while reading it is paused
// because MaxInflight of its messages wait for a worker (backpressure: see
// backpressure.go).
package loop

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/roomloop/roomloop/internal/opt"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// Config configures an Engine. Zero values take the defaults documented on
// each field; New copies it.
type Config struct {
	// Path is the URL path that accepts upgrades. Default "/ws".
	Path string
	// MorePaths are further URL paths that accept upgrades (other wire
	// protocols); Handler.Upgrade tells them apart by Request.URL.Path.
	MorePaths []string
	// Tick is the shortest interval between two flushes of one flusher
	// while it is busy; an idle flusher writes at once. Waits are slept
	// in whole milliseconds (the runtime's sleep granularity); the rest
	// of a wait is one yield to the goroutines that are ready. Default 1ms.
	Tick time.Duration
	// Flushers is the number of flusher goroutines. Default GOMAXPROCS.
	Flushers int
	// Pollers is the number of epoll loops. Default 1 per 4 cores, at least 1.
	Pollers int
	// Workers bounds the worker pool that runs handlers. Default 256 per core.
	Workers int

	// MaxHeaderBytes and MaxHeaders bound the HTTP upgrade request's head
	// (431 past them). Defaults 8 KiB and 64 header lines.
	MaxHeaderBytes int
	MaxHeaders     int
	// MaxMessage bounds a WebSocket message in bytes, and
	// MaxFramesPerMessage the frames of one (1009 past either). Defaults
	// 64 KiB and 4096.
	MaxMessage          int
	MaxFramesPerMessage int
	// HandshakeTimeout bounds the time from accept to a complete upgrade
	// request. Default 5s.
	HandshakeTimeout time.Duration
	// AuthTimeout bounds the Upgrade hook; past it the client gets 503.
	// Default 2s.
	AuthTimeout time.Duration
	// PingInterval is how often the server pings each connection; the
	// first ping is due at a random point of the second half of the
	// interval after the upgrade. Default 25s.
	PingInterval time.Duration
	// ConfirmAfter brings a ping forward to this long after a source's
	// messages are written: its pong tells the source the peer has them
	// (Source.Received). Default 2s; negative: pings only every
	// PingInterval.
	ConfirmAfter time.Duration
	// PingTimeout drops a connection that sent no frame for this long.
	// Default 60s.
	PingTimeout time.Duration
	// MessageTimeout bounds the time from a message's first byte to its
	// last; a slower peer is closed with 1008. Default 10s.
	MessageTimeout time.Duration
	// CloseWait is how long the server waits for the peer's close frame
	// after sending its own before it drops the TCP connection. Default 2s.
	CloseWait time.Duration

	// MaxWriteBuffer bounds the bytes the event loop may hold for a
	// connection whose socket has not taken them; past it the connection
	// is dropped. A backstop only: a flusher hands the event loop one
	// write at a time. Default 1 MiB plus twice the largest message.
	MaxWriteBuffer int
	// URingWrites makes each flusher submit a tick's writes through
	// io_uring: the sends of the connections it writes in one tick go to
	// the kernel 128 per io_uring_enter, instead of one write(2) per
	// socket (see uring.go). Off by default. Where io_uring is
	// unavailable (not Linux, an old kernel, io_uring_disabled, a seccomp
	// filter) the flushers write each socket as without it
	// (Engine.URingFlushers says which). URingEnv (ROOMLOOP_URING_WRITES)
	// set to 1 or true in the environment turns it on as well, for
	// servers built through api.Options, which has no field for it (the
	// roomloop binary's -uring-writes sets it).
	URingWrites bool
	// MaxInflight bounds received messages waiting for the worker pool per
	// connection. When a connection's inbox is full the engine stops
	// reading its socket, so TCP slows the peer down; reading resumes once
	// the inbox is down to half. Default 256; at most MaxInflightLimit.
	MaxInflight int
	// InboxTimeout closes with 1008 ("messages not handled in time") a
	// connection whose inbox is full and whose worker has taken none of
	// its messages for this long: a handler blocked for good. A paused
	// connection is not timed out for silence meanwhile (PingTimeout).
	// Default 30s.
	InboxTimeout time.Duration

	// MaxConns caps open TCP connections; more are answered 503 and
	// closed. Default: the open-file limit less 5% and 64 spare, so the
	// process never runs out of descriptors.
	MaxConns int
	// MaxConnsPerIP caps open TCP connections from one address (503 past
	// it). Default 0: no cap (behind a proxy every client has its address).
	MaxConnsPerIP int
	// DrainSpread spreads Shutdown's close frames evenly over this window
	// (a lame-duck drain), so clients do not all reconnect elsewhere at
	// once; Shutdown's context must allow for it. Default 0: all at once.
	DrainSpread time.Duration
	// AcceptRate limits new connections per second (AcceptBurst at once);
	// the rest wait in the kernel's listen backlog, so a reconnect storm is
	// spread out instead of refused. Default 0: no limit.
	AcceptRate  float64
	AcceptBurst int
	// MaxPendingPerIP caps connections from one address that have not
	// finished their upgrade (503 past it), against slow-handshake floods.
	// Default 256; negative: no cap.
	MaxPendingPerIP int

	// TLSConfig, if set, makes every connection accepted by Start and
	// Serve a TLS connection (wss://), with Go's crypto/tls. Its
	// handshake runs on a goroutine of its own, bounded by
	// HandshakeTimeout; afterwards the connection needs none.
	TLSConfig *tls.Config

	// Compression accepts permessage-deflate (RFC 7692) from clients that
	// offer it, with no context takeover either way (see
	// wsproto.NegotiateDeflate): data messages of at least
	// CompressionMinSize bytes are then written compressed by a Source
	// that asks Conn.Deflate, and compressed messages from the client are
	// inflated within MaxMessage. Default false: the offer is declined.
	Compression bool
	// CompressionMinSize is the smallest message written compressed;
	// smaller ones go as they are (deflate gains nothing on them).
	// Default 256.
	CompressionMinSize int

	// HTTPHandler, if set, serves the requests that arrive on the
	// engine's listeners (Start, Serve) and are not WebSocket upgrades at
	// Path, through a net/http server of the engine's own: pages, health
	// checks, an API on the same port. Such a connection stays in the
	// event loop (and counts against MaxConns): the HTTP server reads and
	// writes it through a bounded pipe (see pipe), with a goroutine as
	// net/http has; an upgrade at Path later on it comes back to the
	// engine. Default nil: such requests are refused (400, 404 or 405).
	HTTPHandler http.Handler

	// Logger receives the engine's logs. Default slog.Default().
	Logger *slog.Logger
}

// Default bounds, exported so the server and its docs state the same values.
const (
	DefaultPath             = "/ws"
	DefaultTick             = time.Millisecond
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultAuthTimeout      = 2 * time.Second
	DefaultPingInterval     = 25 * time.Second
	DefaultPingTimeout      = 60 * time.Second
	DefaultConfirmAfter     = 2 * time.Second
	DefaultCloseWait        = 2 * time.Second
	DefaultMessageTimeout   = 10 * time.Second
	DefaultMaxInflight      = 256
	MaxInflightLimit        = 1 << 20 // a larger MaxInflight is taken as this
	DefaultInboxTimeout     = 30 * time.Second
	DefaultMaxPendingPerIP  = 256
	DefaultCompressionMin   = 256
)

// maxWriteChunk caps the bytes one flush hands to one connection; more
// waits for the next flush.
const maxWriteChunk = 256 << 10

// upgradePath returns the path an upgrade request for path is checked
// against: path itself when it accepts upgrades, else Path (so that the
// request is refused with 404).
func (c *Config) upgradePath(path string) string {
	if path == c.Path || slices.Contains(c.MorePaths, path) {
		return path
	}
	return c.Path
}

// URingEnv is the environment variable that, set to 1 or true (any
// value strconv.ParseBool takes as true), turns Config.URingWrites on.
const URingEnv = "ROOMLOOP_URING_WRITES"

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.Tick <= 0 {
		c.Tick = DefaultTick
	}
	if on, err := strconv.ParseBool(os.Getenv(URingEnv)); err == nil && on {
		c.URingWrites = true
	}
	procs := runtime.GOMAXPROCS(0)
	if c.Flushers <= 0 {
		c.Flushers = procs
	}
	if c.Pollers <= 0 {
		c.Pollers = max(1, procs/4)
	}
	if c.Workers <= 0 {
		c.Workers = 256 * procs
	}
	head, frames := wsproto.DefaultHeadLimits(), wsproto.DefaultLimits()
	opt.Default(&c.MaxHeaderBytes, head.MaxBytes)
	opt.Default(&c.MaxHeaders, head.MaxHeaders)
	opt.Default(&c.MaxMessage, frames.MaxMessage)
	opt.Default(&c.MaxFramesPerMessage, frames.MaxFrames)
	opt.Default(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	opt.Default(&c.AuthTimeout, DefaultAuthTimeout)
	opt.Default(&c.PingInterval, DefaultPingInterval)
	opt.Default(&c.PingTimeout, DefaultPingTimeout)
	if c.ConfirmAfter == 0 {
		c.ConfirmAfter = DefaultConfirmAfter
	}
	opt.Default(&c.CloseWait, DefaultCloseWait)
	opt.Default(&c.MessageTimeout, DefaultMessageTimeout)
	opt.Default(&c.MaxWriteBuffer, 1<<20+2*c.MaxMessage)
	opt.Default(&c.MaxInflight, DefaultMaxInflight)
	c.MaxInflight = min(c.MaxInflight, MaxInflightLimit)
	opt.Default(&c.InboxTimeout, DefaultInboxTimeout)
	opt.Default(&c.CompressionMinSize, DefaultCompressionMin)
	if c.MaxPendingPerIP == 0 {
		c.MaxPendingPerIP = DefaultMaxPendingPerIP
	}
	if c.MaxConns <= 0 {
		c.MaxConns = defaultMaxConns()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// defaultMaxConns leaves 5% and 64 descriptors of the open-file limit for
// everything else the process opens.
func defaultMaxConns() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 10_000
	}
	n := int(min(lim.Cur, 1<<30))
	return max(n-n/20-64, 16)
}

// sweepEvery is how often the sweeper checks deadlines: a quarter of the
// shortest deadline, between 10ms and 1s.
func (c Config) sweepEvery() time.Duration {
	d := min(c.PingInterval, c.PingTimeout, c.HandshakeTimeout, c.AuthTimeout, c.CloseWait, c.InboxTimeout) / 4
	return min(max(d, 10*time.Millisecond), time.Second)
}

// headLimits and frameLimits are the bounds in the parser's terms.
func (c *Config) headLimits() wsproto.HeadLimits {
	return wsproto.HeadLimits{MaxBytes: c.MaxHeaderBytes, MaxHeaders: c.MaxHeaders}
}

func (c *Config) frameLimits() *wsproto.Limits {
	return &wsproto.Limits{MaxMessage: c.MaxMessage, MaxFrames: c.MaxFramesPerMessage}
}
