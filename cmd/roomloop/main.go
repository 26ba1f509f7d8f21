// Command roomloop runs a roomloop WebSocket room server.
//
//	go run ./cmd/roomloop -addr 127.0.0.1:8080
//
// It serves the roomloop protocol (docs/protocol.md) at ws://ADDR/ws, and a
// chat demo built on the JavaScript client at http://ADDR/ (-no-demo turns
// it off), until SIGINT or SIGTERM, then drains: every client gets close
// 1001 after its queued frames. "roomloop -h" lists the flags; README.md, section
// "Configuration", explains them.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/memrelease"
)

// description opens the usage text.
const description = `roomloop is a room-based WebSocket server speaking the roomloop protocol
(see docs/protocol.md in github.com/roomloop/roomloop).

Usage: roomloop [flags]

It serves ws://ADDR/PATH, and a chat demo at http://ADDR/, until SIGINT or
SIGTERM, then drains.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a bad command line: exit status 2. printed says the flag
// package has already written it.
type usageError struct {
	err     error
	printed bool
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCode reports err on stderr (unless already reported) and returns
// the exit status: 0 for nil, 2 for a bad command line, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		if !ue.printed {
			fmt.Fprintln(stderr, prefixed(err))
		}
		fmt.Fprintln(stderr, "Run 'roomloop -h' for the flags.")
		return 2
	default:
		fmt.Fprintln(stderr, prefixed(err))
		return 1
	}
}

// prefixed is err's text after "roomloop: ", once (api's errors carry it
// already).
func prefixed(err error) string {
	if s := err.Error(); strings.HasPrefix(s, "roomloop: ") {
		return s
	}
	return "roomloop: " + err.Error()
}

// run parses args and serves until ctx ends (main's ends at SIGINT or
// SIGTERM), then drains; serving, if set, learns the address once the
// server listens. Asked for help (-h, -help, --help), it writes the usage
// to stdout and returns nil. Logs and flag errors go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, serving func(addr net.Addr)) error {
	fs := flag.NewFlagSet("roomloop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // run prints the usage itself, below
	var (
		addr      = fs.String("addr", "127.0.0.1:8080", "listen address")
		path      = fs.String("path", "/ws", "WebSocket path")
		logLevel  = fs.String("log-level", "info", "debug, info, warn or error")
		origins   = fs.String("allowed-origins", "", "comma-separated origins accepted besides same-origin, each scheme://host[:port] as browsers send it, e.g. https://app.example.com,http://localhost:8000")
		slow      = fs.String("slow-consumer", "disconnect", "full-queue policy: disconnect (close 4002) or drop")
		drain     = fs.Duration("drain-timeout", 30*time.Second, "how long shutdown waits for clients to close")
		lim       = api.Limits{}.WithDefaults()
		opts      api.Options
		maxRooms  = fs.Int("max-rooms", api.DefaultMaxRooms, "rooms on the server (-1: no cap)")
		perConn   = fs.Int("max-rooms-per-conn", api.DefaultMaxRoomsPerConn, "rooms per client")
		listed    = fs.Int("max-members-listed", api.DefaultMaxMembersListed, "members listed in $joined (-1: all)")
		noPresnce = fs.Bool("no-presence", false, "do not send $presence diffs of rooms' joins and leaves")
		noDemo    = fs.Bool("no-demo", false, "serve no chat demo at / and no /roomloop.js, /demo.js: requests at other paths get 404, non-upgrade requests at -path 400 or 405")
		tlsCert   = fs.String("tls-cert", "", "PEM certificate (chain) file: serve wss:// and https:// (with -tls-key)")
		tlsKey    = fs.String("tls-key", "", "PEM private key file of -tls-cert")
		uringW    = fs.Bool("uring-writes", false, "submit each flush tick's socket writes through io_uring, 128 sockets per system call (Linux; where io_uring is unavailable the server logs a warning and writes each socket itself)")
		release   = fs.Bool("release-memory", true, "after a burst of allocation (a connect storm) followed by a quiet moment, collect garbage and return free memory to the OS (at most every 10 s)")
	)
	fs.IntVar(&opts.MaxMessageSize, "max-message", 64<<10, "largest WebSocket message in bytes (larger: close 1009)")
	fs.BoolVar(&opts.Compression, "compression", false, "accept permessage-deflate from clients that offer it (browsers do): frames compressed once per broadcast, no context takeover")
	fs.IntVar(&opts.CompressionMinSize, "compression-min-size", api.DefaultCompressionMinSize, "smallest frame in bytes written compressed (with -compression)")
	fs.IntVar(&lim.MaxEvent, "max-event", lim.MaxEvent, "longest event name in bytes")
	fs.IntVar(&lim.MaxRoom, "max-room", lim.MaxRoom, "longest room name in bytes")
	fs.IntVar(&lim.MaxTo, "max-to", lim.MaxTo, "longest 'to' in bytes")
	fs.IntVar(&lim.MaxID, "max-id", lim.MaxID, "longest 'id' in bytes")
	fs.IntVar(&opts.QueueFrames, "queue-frames", 1024, "outbound queue bound per client, in frames")
	fs.IntVar(&opts.QueueBytes, "queue-bytes", 1<<20, "outbound queue bound per client, in bytes")
	fs.DurationVar(&opts.Tick, "tick", time.Millisecond, "least time between two flushes of a busy flusher")
	fs.DurationVar(&opts.HeartbeatInterval, "heartbeat", 25*time.Second, "ping interval")
	fs.DurationVar(&opts.HeartbeatTimeout, "heartbeat-timeout", 60*time.Second, "drop a client silent for this long")
	fs.DurationVar(&opts.HandshakeTimeout, "handshake-timeout", 5*time.Second, "deadline for the upgrade request")
	fs.IntVar(&opts.Workers, "workers", 0, "handler goroutines (0: 256 per core)")
	fs.IntVar(&opts.MaxConns, "max-conns", 0, "open connections (0: the open-file limit less 5% and 64)")
	fs.IntVar(&opts.MaxConnsPerIP, "max-conns-per-ip", 0, "open connections from one address (0 or -1: no cap)")
	fs.BoolVar(&opts.DisableResume, "no-resume", false, "end sessions when their connection drops")
	fs.DurationVar(&opts.ResumeWindow, "resume-window", api.DefaultResumeWindow, "how long a suspended session waits for its client")
	fs.IntVar(&opts.ReplayFrames, "replay-frames", api.DefaultReplayFrames, "most frames written and not yet confirmed per session, kept for a resume (the window)")
	fs.IntVar(&opts.ReplayBytes, "replay-bytes", api.DefaultReplayBytes, "bytes of the window beyond the connection's TCP send buffer")
	fs.Int64Var(&opts.SuspendedBytes, "suspended-bytes", api.DefaultSuspendedBytes, "frame bytes all suspended sessions may hold together")
	fs.IntVar(&opts.DedupeWindow, "dedupe-window", api.DefaultDedupeWindow, "client frame ids remembered per session")
	fs.IntVar(&opts.MaxFramesPerMessage, "max-frames-per-message", 4096, "WebSocket frames of one message (more: close 1009)")
	fs.DurationVar(&opts.MessageTimeout, "message-timeout", 10*time.Second, "deadline from a message's first byte to its last (close 1008)")
	fs.DurationVar(&opts.InboxTimeout, "inbox-timeout", 30*time.Second, "close 1008 a client whose 256 waiting messages see none handled for this long (reading it is paused meanwhile)")
	fs.IntVar(&opts.MaxHeaderBytes, "max-header-bytes", 8<<10, "upgrade request head in bytes (more: 431)")
	fs.IntVar(&opts.MaxHeaders, "max-headers", 64, "upgrade request header lines (more: 431)")
	fs.DurationVar(&opts.AuthTimeout, "auth-timeout", 2*time.Second, "deadline for authorizing an upgrade (503 past it)")
	fs.DurationVar(&opts.CloseTimeout, "close-timeout", 2*time.Second, "wait for a client's answer to our close frame")
	fs.IntVar(&opts.PresenceMaxMembers, "presence-max-members", api.DefaultPresenceMax, "no $presence diffs in rooms with more other members (-1: no cap)")
	fs.DurationVar(&opts.PresenceInterval, "presence-interval", api.DefaultPresenceInterval, "how long a room's joins and leaves are gathered into one $presence diff")
	fs.Float64Var(&opts.AcceptRate, "accept-rate", 0, "new connections per second, the rest wait in the listen backlog (0: no limit)")
	fs.IntVar(&opts.AcceptBurst, "accept-burst", 1000, "new connections taken at once under -accept-rate")
	fs.DurationVar(&opts.DrainSpread, "drain-spread", 0, "spread shutdown's close frames over this window (0: all at once; keep it below -drain-timeout)")
	fs.IntVar(&opts.MaxPendingPerIP, "max-pending-per-ip", 256, "connections from one address still upgrading (-1: no cap)")
	fs.String("config", "", "config file, YAML (.yaml, .yml) or TOML (.toml), keys the flags' names; precedence: flags > ROOMLOOP_* environment > file > defaults")
	printCfg := fs.Bool("print-config", false, "check the configuration, print every flag's effective value and its source (secrets masked), and exit")
	rateFlags(fs, &opts.RateLimits)
	jwtCfg := jwtFlags(fs)
	authURL := authURLFlags(fs)
	adm := adminFlags(fs)
	wires := wireFlags(fs)
	clusterCfg := clusterFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, description)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return &usageError{err: err, printed: true}
	}
	if fs.NArg() > 0 {
		return &usageError{err: fmt.Errorf("unexpected argument %q (roomloop takes flags only)", fs.Arg(0))}
	}
	src, err := layerConfig(fs, os.Environ)
	if err != nil {
		return &usageError{err: err}
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return src.usage(fmt.Errorf("-log-level: %q is not one of debug, info, warn, error", *logLevel))
	}
	allowed, err := parseOrigins(*origins)
	if err != nil {
		return src.usage(err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	switch *slow {
	case "disconnect":
		opts.SlowConsumer = api.Disconnect
	case "drop":
		opts.SlowConsumer = api.Drop
	default:
		return src.usage(fmt.Errorf("-slow-consumer: %q is neither disconnect nor drop", *slow))
	}
	opts.AllowedOrigins = allowed
	opts.Path, opts.Limits, opts.Logger = *path, lim, log
	opts.MaxRooms, opts.MaxRoomsPerConn, opts.MaxMembersListed = *maxRooms, *perConn, *listed
	opts.DisablePresence = *noPresnce
	opts.Endpoints = wires.endpoints()
	if !*noDemo {
		var more []string
		for _, e := range opts.Endpoints {
			more = append(more, e.Path)
		}
		opts.HTTPHandler = pages(*path, more...)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return src.usage(errors.New("-tls-cert and -tls-key go together"))
	}
	scheme := "ws://"
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return src.usage(fmt.Errorf("-tls-cert/-tls-key: %w", err))
		}
		opts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "wss://"
	}
	if err := jwtCfg.apply(&opts); err != nil {
		return src.usage(err)
	}
	if err := authURL.apply(&opts, log); err != nil {
		return src.usage(err)
	}
	if err := negativeFlag(fs); err != nil {
		return src.usage(err)
	}
	if err := opts.Validate(); err != nil {
		return src.usage(err)
	}
	if err := adm.resolve(); err != nil {
		return src.usage(err)
	}
	if *printCfg {
		printConfig(stdout, fs, src, os.Getenv)
		return nil
	}
	// Connected last: the configuration is sound by now. Not a usage
	// error, but a failure: exit 1 with the reason.
	if err := clusterCfg.apply(&opts, log); err != nil {
		return err
	}

	// /metrics, served with the admin address, includes the histograms.
	opts.Histograms = adm.addr != ""
	opts.URingWrites = *uringW
	srv := api.New(&opts)
	if err := srv.Start(*addr); err != nil {
		return err
	}
	log.Info("roomloop serving", "url", scheme+srv.Addr().String()+*path, "demo", !*noDemo)
	adminSrv, err := adm.start(srv, lim, log)
	if err != nil {
		_ = srv.Shutdown(context.Background())
		return err
	}
	defer adminSrv.close()

	if *release {
		defer memrelease.Start(ctx, memrelease.Config{OnRelease: func(reclaimable uint64) {
			log.Debug("memory released after a burst", "bytes", reclaimable)
		}})()
	}
	if serving != nil {
		serving(srv.Addr())
	}
	<-ctx.Done()
	adminSrv.drain(log)
	log.Info("draining", "clients", srv.Stats().Sessions)
	dctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// negativeFlag returns an error naming the first flag set to a negative
// number, unless its usage says what -1 means.
func negativeFlag(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if err != nil || !ok || strings.Contains(f.Usage, "-1") {
			return
		}
		neg := false
		switch v := g.Get().(type) {
		case int:
			neg = v < 0
		case int64:
			neg = v < 0
		case float64:
			neg = v < 0
		case time.Duration:
			neg = v < 0
		}
		if neg {
			err = fmt.Errorf("-%s is %s: it must be 0 or positive", f.Name, f.Value)
		}
	})
	return err
}
