package resume

import "sync/atomic"

// SlowPolicy says what happens to an application frame for a client whose
// outbound queue is full. Control frames are never dropped.
type SlowPolicy uint8

const (
	// Disconnect closes the connection with 4002 (slow consumer); the
	// session is suspended and may resume.
	Disconnect SlowPolicy = iota
	// Drop discards the frame (it takes no seq) and tells the client with
	// a coalesced $error "dropped" notice.
	Drop
)

// Config bounds every stream of a Streams. All fields must be set (the
// api package fills in its defaults).
type Config struct {
	// QueueFrames and QueueBytes bound the application frames queued for
	// the attached connection and not yet written.
	QueueFrames int
	QueueBytes  int
	// ControlFrames is the extra room kept for control ($-event) frames
	// beyond QueueFrames: control frames are never dropped, and count
	// with application frames against QueueFrames plus this; a connection
	// that fills that too is closed with 4002.
	ControlFrames int
	// ReplayFrames and ReplayBytes size the window: the frames a stream
	// keeps after writing them, until the client confirms them, for a
	// resume. At most ReplayFrames frames are written and unconfirmed,
	// and at most ReplayBytes plus the connection's send buffer
	// (loop.Conn.SendBuffer) in bytes; past either, writing waits for a
	// confirmation. Zero keeps none (no resumption).
	ReplayFrames int
	ReplayBytes  int
	// Policy chooses what a full queue does to application frames.
	Policy SlowPolicy
}

// keeps reports whether written frames are kept for a resume.
func (c *Config) keeps() bool { return c.ReplayFrames > 0 && c.ReplayBytes > 0 }

// probeFrames and probeBytes are how much a stream writes between two
// pings it asks for: a quarter of ReplayFrames (at most 256) and of
// ReplayBytes.
func (c *Config) probeFrames() int { return max(1, min(c.ReplayFrames/4, 256)) }
func (c *Config) probeBytes() int  { return max(1, c.ReplayBytes/4) }

// Streams makes the outbound streams of one server's sessions and counts
// the bytes they hold together. It is safe for concurrent use.
type Streams struct {
	cfg    Config
	queued atomic.Int64 // frame bytes held by all its streams
	// slow counts transports closed with 4002, dropped the frames the
	// Drop policy refused: rare events, counted where they happen.
	slow, dropped atomic.Uint64
}

// SlowConsumers returns how many transports were closed with 4002 for a
// full queue, and how many application frames the Drop policy dropped.
func (ss *Streams) SlowConsumers() (closed, dropped uint64) {
	return ss.slow.Load(), ss.dropped.Load()
}

// NewStreams returns a Streams whose streams are bounded by cfg.
func NewStreams(cfg Config) *Streams { return &Streams{cfg: cfg} }

// QueuedBytes returns the frame bytes all its streams hold, queued or kept
// for a resume (a frame held by many streams counts once per stream).
func (ss *Streams) QueuedBytes() int64 { return ss.queued.Load() }
