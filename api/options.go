package api

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/roomloop/roomloop/internal/opt"
	"github.com/roomloop/roomloop/loop"
	"github.com/roomloop/roomloop/resume"
)

// SlowPolicy says what happens to an application frame for a client whose
// outbound queue is full. Control frames are never dropped.
type SlowPolicy uint8

const (
	// Disconnect closes a slow client with 4002 (the default); its
	// session is suspended and may resume.
	Disconnect SlowPolicy = iota
	// Drop discards the frame (it takes no seq) and tells the client with a
	// coalesced $error "dropped" notice.
	Drop
)

// Identity is what Authorize learns about a client.
type Identity struct {
	// SessionID is the public session id to use; empty means a random one.
	// A SessionID already connected is refused with 409; a suspended one
	// is ended and replaced.
	SessionID string
	// User names who the client is, for resumption: a session can only be
	// resumed by a request that Authorize gives the same User (a leaked
	// token is useless to anyone else). Empty matches only empty.
	User string
	// Claims are kept on the Conn for handlers and CanJoin.
	Claims map[string]any
	// Rooms are joined at connect, each announced with $joined.
	Rooms []string
	// Expires is when the credential behind this Identity expires (a
	// JWT's exp); zero: never. The client learns it in $welcome. When it
	// passes, the server closes the connection with 4004 (token expired)
	// and the session is suspended: the client resumes it with a fresh
	// credential, or sends $refresh before then (Options.Refresh).
	// docs/protocol.md, "Credential expiry".
	Expires time.Time
}

// Options configures a Server. A nil *Options means all defaults; New
// copies it, so later changes have no effect.
//
// The rule for numbers: zero takes the field's default. A negative value
// means "no cap" or "off" on the fields whose documentation says so; on
// any other field it is an error (see Validate).
type Options struct {
	// Path accepts upgrades. Default "/ws".
	Path string

	// Endpoints mount other wire protocols on paths of their own or by
	// subprotocol (package wire; wire/wsrooms, wire/wspulse): their
	// clients share the rooms, sessions and limits of roomloop's. At most
	// 6. Default none.
	Endpoints []Endpoint

	// Broker makes the server one node of a cluster (package cluster;
	// docs/cluster.md): rooms, presence, direct messages and the
	// server-side API then reach every node. Session ids end with
	// "." and the node's id. Default nil: one node.
	Broker Broker

	// Authorize runs (on the worker pool) for every upgrade request
	// before the upgrade. r.Context() ends at the AuthTimeout deadline
	// (the client then gets 503), when the client goes away, and when the
	// server shuts down: pass it to whatever Authorize waits on, since a
	// hook that ignores it holds a worker until it returns. Under
	// ServeHTTP the context also carries the values middleware put in the
	// request's. A non-nil error refuses the upgrade: a *Refusal gives
	// its status and reason; any other error gives 401 "unauthorized"
	// (its text is logged at debug level, never sent). Default: everyone
	// is accepted with a random id.
	Authorize func(r *http.Request) (Identity, error)
	// Refresh checks a fresh credential that a connected client sends
	// with $refresh, before its Identity.Expires passes. It runs on the
	// worker pool, in the session's frame order, like a handler. The
	// Identity it returns must have the session's User (else $error
	// forbidden). When its Expires is later than the session's (zero
	// counts as never, the latest), it becomes the session's and its
	// Claims replace the session's; a refresh never brings expiry
	// forward. An error refuses the refresh and leaves the old
	// expiry: a *Refusal or an *Error gives its reason, anything else
	// "refresh refused" (logged at debug level), both as $error
	// unauthorized (an *Error with its own code). Default: nil, and
	// $refresh is answered $error bad_request.
	Refresh func(c *Conn, token string) (Identity, error)
	// CheckOrigin decides the Origin policy. Default: requests without an
	// Origin header (non-browser clients), same-origin requests, and
	// origins listed in AllowedOrigins are accepted; others get 403.
	CheckOrigin func(r *http.Request) bool
	// AllowedOrigins are origins ("https://app.example.com") accepted by
	// the default CheckOrigin, compared exactly (case-insensitive).
	AllowedOrigins []string
	// CanJoin authorizes a client's $join. An *Error refuses it with its
	// code and message; any other error with $error "forbidden" and a
	// fixed message (its text is logged, not sent: see Error). Default:
	// allow.
	// It is not consulted for Identity.Rooms or Server.Join.
	CanJoin func(c *Conn, room string) error
	// OnConnect runs once a client has received $welcome and its initial
	// rooms, before its first frame is handled.
	OnConnect func(c *Conn)
	// OnDisconnect runs once when a session has ended (its client closed,
	// was kicked, broke the protocol, or did not resume in time) and it has
	// left its rooms. info is the close of its last connection.
	OnDisconnect func(c *Conn, info CloseInfo)
	// OnSuspend runs when a session's connection drops without a close
	// handshake (or is closed with 1001 or 4002) and the session waits for
	// a resume; OnResume when a new connection resumes it.
	OnSuspend func(c *Conn, info CloseInfo)
	OnResume  func(c *Conn)

	// DisableResume turns session resumption off: a dropped connection
	// ends its session at once, and no replay buffer is kept.
	DisableResume bool
	// ResumeWindow is how long a suspended session waits for its client.
	// Default 30s.
	ResumeWindow time.Duration
	// ReplayFrames and ReplayBytes bound the frames a session has written
	// and the client has not confirmed yet, which it keeps for a resume:
	// at most ReplayFrames frames, and at most the connection's TCP send
	// buffer as the kernel reports it (SO_SNDBUF, which Linux grows to
	// the path's bandwidth-delay product, up to net.ipv4.tcp_wmem's
	// maximum, 4 MiB by default) plus ReplayBytes, in bytes. A frame is confirmed, and freed, by the client's pong to
	// a ping sent after it (the server pings after a quarter of
	// ReplayFrames, at most 256, or of ReplayBytes written, at the
	// bound, and 2 s after a write) or by $seen. At
	// the bound, writing waits for a confirmation and frames wait in the
	// queue: a client that does not keep up meets SlowConsumer, and
	// written frames are never forgotten unconfirmed while it is
	// connected. See docs/protocol.md, "Resuming", for when a resume
	// gets a gap. Defaults 4096 frames, 256 KiB.
	ReplayFrames int
	ReplayBytes  int
	// DedupeWindow is how many recent client frame ids a session remembers
	// to apply a resent frame once. Default 64.
	DedupeWindow int
	// SuspendedBytes bounds the frame bytes held by all suspended sessions
	// together (each frame counted once per session holding it). Past it
	// the longest-suspended sessions end (a later resume hears "expired").
	// Default 256 MiB.
	SuspendedBytes int64

	// Limits bounds the fields of client frames; each zero field takes
	// its default on its own (event 64, room 128, to 64, id 64 bytes).
	Limits Limits
	// MaxMessageSize bounds a whole WebSocket message; larger ones are
	// closed with 1009. Default 64 KiB.
	MaxMessageSize int
	// MaxFramesPerMessage bounds the WebSocket frames of one message
	// (1009 past it). Default 4096.
	MaxFramesPerMessage int
	// Compression accepts permessage-deflate (RFC 7692) from clients that
	// offer it (browsers do), with no context takeover either way: the
	// server keeps no compression state per connection, and each frame
	// of a broadcast is compressed once per codec and shared by every
	// compressed recipient. A client's compressed messages are bounded by
	// MaxMessageSize both as sent and once inflated (1009 past it).
	// Control frames of WebSocket (ping, pong, close) and the $welcome are
	// never compressed. docs/protocol.md states the negotiation rules.
	// Default false: the offer is declined and nothing is compressed.
	Compression bool
	// CompressionMinSize is the smallest frame, in encoded bytes, written
	// compressed to a client that negotiated compression; smaller ones
	// (and any that would not shrink) go uncompressed. Default 256.
	CompressionMinSize int
	// MessageTimeout bounds the time from a message's first byte to its
	// last; a slower client is closed with 1008. Default 10s.
	MessageTimeout time.Duration
	// InboxTimeout bounds how long a client's received messages may wait
	// for a handler that makes no progress. A client may have 256
	// messages waiting to be handled: past that the server stops reading
	// its socket, so TCP slows it down, and reads again once half are
	// handled. A client whose 256 waiting messages see none handled for
	// InboxTimeout (a handler blocked for good) is closed with 1008
	// "messages not handled in time". While its reading is paused, a
	// client is not timed out by HeartbeatTimeout. Default 30s.
	InboxTimeout time.Duration
	// MaxHeaderBytes and MaxHeaders bound the upgrade request's head
	// (431 past them). Defaults 8 KiB and 64 header lines.
	MaxHeaderBytes int
	MaxHeaders     int
	// MaxRoomsPerConn caps the rooms one client is in. Default 64.
	MaxRoomsPerConn int
	// MaxRooms caps the rooms on the server. Default 1,000,000; negative:
	// no cap.
	MaxRooms int
	// MaxMembersListed caps the member list in $joined. Default 100;
	// negative: list every member.
	MaxMembersListed int
	// DisablePresence turns off $presence diffs.
	DisablePresence bool
	// PresenceInterval is how long a room's joins and leaves are gathered
	// before its members get them as one $presence diff each (sooner
	// when 256 changes are waiting). A join storm of N members then
	// costs about N frames per interval. Default 100ms.
	PresenceInterval time.Duration
	// PresenceMaxMembers stops $presence in rooms with more other
	// members than this when a diff is due: each diff costs a frame per
	// member. $joined still gives the count. Default 10,000; negative: no
	// cap.
	PresenceMaxMembers int
	// RateLimits bound each client's joins, frames and fan-out (see
	// RateLimits for the defaults).
	RateLimits RateLimits

	// SlowConsumer is the policy for full queues. Default Disconnect.
	SlowConsumer SlowPolicy
	// QueueFrames and QueueBytes bound each client's outbound queue.
	// Defaults 1024 frames and 1 MiB.
	QueueFrames int
	QueueBytes  int

	// HeartbeatInterval is how often the server pings each connection;
	// the first ping comes at a random point of the second half of the
	// interval, so that connections made together are not pinged
	// together. Default 25s.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout drops a client that sent no frame for this long.
	// Default 60s.
	HeartbeatTimeout time.Duration
	// HandshakeTimeout bounds receiving the upgrade request. Default 5s.
	HandshakeTimeout time.Duration
	// AuthTimeout bounds Authorize; past it the client gets 503. Default 2s.
	AuthTimeout time.Duration
	// CloseTimeout is how long the server waits for a client to answer its
	// close frame before dropping the connection. Default 2s.
	CloseTimeout time.Duration
	// Tick is the least time between two flushes of a busy flusher, in
	// whole milliseconds: the runtime cannot sleep less than about a
	// millisecond, so the part of a wait under one is a yield to the
	// goroutines that are ready (a fan-out in progress) instead. Frames
	// queued meanwhile go out in one write per connection. Default 1ms.
	Tick time.Duration
	// Workers bounds the goroutines running handlers. Default 256 per core.
	Workers int
	// MaxConns caps open connections (HTTP 503 past it). Default: the
	// open-file limit less 5% and 64.
	MaxConns int
	// MaxConnsPerIP caps open connections from one address (503). Default
	// (0) and negative: no cap (behind a proxy all clients share its
	// address).
	MaxConnsPerIP int
	// AcceptRate limits new connections per second (AcceptBurst at once);
	// the rest wait in the kernel's listen backlog, which spreads a
	// reconnect storm out. Default (0) and negative: no limit.
	AcceptRate  float64
	AcceptBurst int
	// DrainSpread spreads Shutdown's 1001 close frames evenly over this
	// window, so clients do not all reconnect elsewhere at once (give
	// Shutdown a context that allows for it). Default 0: all at once.
	DrainSpread time.Duration

	// URingWrites has each flusher submit a flush tick's socket writes
	// through io_uring, many sockets per system call (Linux; where io_uring
	// is unavailable the server logs a warning and writes each socket
	// itself). docs/architecture.md, "Batching writes". Default off.
	URingWrites bool

	// HandoverWait, with a Broker, is how long Shutdown keeps the
	// sessions its drain suspended, for their clients to resume them on
	// other nodes (docs/cluster.md), before it ends those left (within
	// Shutdown's context); not at all when no other node is up (the
	// last node). Default 0: none is kept.
	HandoverWait time.Duration
	// MaxPendingPerIP caps connections from one address still sending
	// their upgrade request or being authorized (503), against slow
	// handshake floods. Default 256; negative: no cap.
	MaxPendingPerIP int

	// TLSConfig, if set, serves TLS (wss://, https://) on the server's
	// own listeners (Start, Serve) with Go's crypto/tls: each handshake
	// runs on a goroutine of its own within HandshakeTimeout, and an
	// established connection needs none. Requests reaching ServeHTTP are
	// not affected. Default nil: plain TCP.
	TLSConfig *tls.Config

	// HTTPHandler serves the requests that arrive on the server's own
	// listeners (Start, Serve) and are not WebSocket upgrades at Path:
	// pages, health checks, an API on the same port. A page it serves is
	// same-origin with the WebSocket, so the default origin policy
	// accepts it. Those connections are served by a net/http server of
	// the Server's own, with a goroutine each as net/http has, and stay
	// bounded: a client that sends more than 1 MiB the handler has not
	// read is dropped, and a response waits for a slow reader rather than
	// piling up. Default nil: such requests get 404 (another path) or 400
	// (not an upgrade).
	HTTPHandler http.Handler

	// Logger receives the server's logs, and the event loop's (nbio's)
	// own lines. Default slog.Default().
	Logger *slog.Logger
	// Histograms keeps Stats.HandlerSeconds (a clock read before and
	// after each client frame's handling) and Stats.FanOut (one count per
	// frame sent to a room, not per recipient). Off by default; the
	// binary turns it on with its metrics.
	Histograms bool
}

// Defaults of Options fields that api itself applies.
const (
	DefaultResumeWindow     = 30 * time.Second
	DefaultReplayFrames     = 4096
	DefaultReplayBytes      = 256 << 10
	DefaultDedupeWindow     = 64
	DefaultSuspendedBytes   = 256 << 20
	DefaultMaxRoomsPerConn  = 64
	DefaultMaxRooms         = 1_000_000
	DefaultMaxMembersListed = 100
	DefaultPresenceMax      = 10_000
	DefaultPresenceInterval = 100 * time.Millisecond
	DefaultQueueFrames      = 1024
	DefaultQueueBytes       = 1 << 20
	DefaultMaxMessageSize   = 64 << 10
	// DefaultCompressionMinSize is Options.CompressionMinSize's default.
	DefaultCompressionMinSize = loop.DefaultCompressionMin
	// DefaultControlFrames is the room control frames ($-events) have in
	// a client's queue beyond QueueFrames.
	DefaultControlFrames = 64
)

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Path == "" {
		c.Path = loop.DefaultPath
	}
	c.Limits = c.Limits.WithDefaults()
	opt.Default(&c.MaxRoomsPerConn, DefaultMaxRoomsPerConn)
	if c.MaxRooms == 0 {
		c.MaxRooms = DefaultMaxRooms // negative: no cap
	}
	if c.MaxMembersListed == 0 {
		c.MaxMembersListed = DefaultMaxMembersListed // negative: list all
	}
	if c.PresenceMaxMembers == 0 {
		c.PresenceMaxMembers = DefaultPresenceMax
	}
	opt.Default(&c.PresenceInterval, DefaultPresenceInterval)
	c.RateLimits = c.RateLimits.withDefaults()
	opt.Default(&c.QueueFrames, DefaultQueueFrames)
	opt.Default(&c.QueueBytes, DefaultQueueBytes)
	opt.Default(&c.MaxMessageSize, DefaultMaxMessageSize)
	opt.Default(&c.CompressionMinSize, DefaultCompressionMinSize)
	opt.Default(&c.HeartbeatInterval, loop.DefaultPingInterval)
	opt.Default(&c.HeartbeatTimeout, loop.DefaultPingTimeout)
	opt.Default(&c.ResumeWindow, DefaultResumeWindow)
	opt.Default(&c.ReplayFrames, DefaultReplayFrames)
	opt.Default(&c.ReplayBytes, DefaultReplayBytes)
	opt.Default(&c.DedupeWindow, DefaultDedupeWindow)
	opt.Default(&c.SuspendedBytes, DefaultSuspendedBytes)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (o *Options) loopConfig() loop.Config {
	cfg := loop.Config{
		URingWrites:        o.URingWrites,
		Path:               o.Path,
		Tick:               o.Tick,
		Workers:            o.Workers,
		HandshakeTimeout:   o.HandshakeTimeout,
		AuthTimeout:        o.AuthTimeout,
		CloseWait:          o.CloseTimeout,
		PingInterval:       o.HeartbeatInterval,
		PingTimeout:        o.HeartbeatTimeout,
		MaxConns:           o.MaxConns,
		MaxConnsPerIP:      o.MaxConnsPerIP,
		MaxPendingPerIP:    o.MaxPendingPerIP,
		AcceptRate:         o.AcceptRate,
		AcceptBurst:        o.AcceptBurst,
		DrainSpread:        o.DrainSpread,
		MessageTimeout:     o.MessageTimeout,
		InboxTimeout:       o.InboxTimeout,
		Compression:        o.Compression,
		CompressionMinSize: o.CompressionMinSize,
		HTTPHandler:        o.HTTPHandler,
		TLSConfig:          o.TLSConfig,
		Logger:             o.Logger,
	}
	cfg.MorePaths = endpointPaths(o.Endpoints)
	cfg.MaxMessage, cfg.MaxFramesPerMessage = o.MaxMessageSize, o.MaxFramesPerMessage
	cfg.MaxHeaderBytes, cfg.MaxHeaders = o.MaxHeaderBytes, o.MaxHeaders
	if o.DisableResume {
		cfg.ConfirmAfter = -1 // nothing is kept for a resume: no pings to free it
	}
	// A flush hands the event loop at most a write chunk, or one frame
	// (a queued frame is bounded by QueueBytes), and a close frame.
	cfg.MaxWriteBuffer = 256<<10 + max(o.QueueBytes, o.MaxMessageSize) + 64<<10
	return cfg
}

func (o *Options) streamConfig() resume.Config {
	cfg := resume.Config{
		QueueFrames:   o.QueueFrames,
		QueueBytes:    o.QueueBytes,
		ControlFrames: DefaultControlFrames,
		Policy:        resume.SlowPolicy(o.SlowConsumer),
	}
	if !o.DisableResume {
		cfg.ReplayFrames, cfg.ReplayBytes = o.ReplayFrames, o.ReplayBytes
	}
	return cfg
}
