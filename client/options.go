package client

import (
	"context"
	"net/http"
	"time"
)

// Codec picks the wire codec: docs/protocol.md, "Frames".
type Codec int

const (
	// JSON is roomloop.json, one JSON object per text message (the default).
	JSON Codec = iota
	// Binary is roomloop.bin, length-prefixed fields in binary messages.
	Binary
)

// Options configures a Client. The zero value (or nil) is ready to use:
// every zero field takes the default its comment gives.
type Options struct {
	// Codec is the wire codec. Default JSON.
	Codec Codec
	// Token, when set, is called before every connection attempt, and
	// its result is sent as "Authorization: Bearer <token>". An error
	// from it counts as a failed attempt and is retried with backoff.
	// When the server says the credential expires, Token is also called
	// before then and its result sent with $refresh, so the connection
	// outlives the credential (docs/protocol.md, "Credential expiry").
	Token func(ctx context.Context) (string, error)
	// Header holds extra headers for the upgrade request.
	Header http.Header
	// HTTPClient makes the upgrade requests. Default http.DefaultClient.
	HTTPClient *http.Client

	// MinBackoff and MaxBackoff bound the reconnect delay: attempt n
	// waits up to min(MaxBackoff, MinBackoff·2^(n−1)). Defaults 500 ms
	// and 20 s.
	MinBackoff, MaxBackoff time.Duration
	// NoJitter waits the bound itself instead of a random time up to
	// it. Only for comparisons: without jitter, clients dropped together
	// come back together.
	NoJitter bool
	// HandshakeTimeout bounds one connection attempt, up to and including
	// $welcome. Default 10 s.
	HandshakeTimeout time.Duration
	// ProbeAfter is how long the connection may stay silent before the
	// client pings the server. Default half the server's heartbeat.
	ProbeAfter time.Duration
	// ProbeTimeout is how long the client waits for the ping's answer
	// before it drops the connection and resumes. Default 5 s.
	ProbeTimeout time.Duration
	// WriteTimeout bounds one write. Default 10 s.
	WriteTimeout time.Duration
	// SendBuffer is how many frames may wait to be sent (while
	// disconnected, or behind the 64 unanswered frames the protocol
	// allows). A send beyond it fails at once with ErrBufferFull.
	// Default 256.
	SendBuffer int
	// MaxMessage bounds a message from the server, in bytes. Default
	// 1 MiB.
	MaxMessage int64
	// OnState, when set, sees every state change from the first
	// (Connecting), which a handler added with Client.OnState after Dial
	// returns would miss.
	OnState func(StateChange)
	// Setup, when set, runs in Dial before the first connection attempt:
	// handlers registered there (On, OnGap, OnError…) see every frame from
	// the first. Frames that arrive before a handler is registered are
	// not kept for it.
	Setup func(*Client)
}

// maxInFlight is how many frames with an id may be unanswered at once:
// the server remembers the last 64 accepted ids of a session, so a resent
// id within this window is never applied twice.
const maxInFlight = 64

// dispatchQueue is how many received frames may wait for handlers.
const dispatchQueue = 256

// stableAfter is how long a connection must last before the backoff
// starts over: a server that welcomes clients and drops them at once
// must not get a retry every half second from each of them.
const stableAfter = 10 * time.Second

// withDefaults returns o with every zero field set to its default.
func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&v.MinBackoff, 500*time.Millisecond)
	set(&v.MaxBackoff, 20*time.Second)
	set(&v.HandshakeTimeout, 10*time.Second)
	set(&v.ProbeTimeout, 5*time.Second)
	set(&v.WriteTimeout, 10*time.Second)
	v.MaxBackoff = max(v.MaxBackoff, v.MinBackoff)
	if v.SendBuffer <= 0 {
		v.SendBuffer = 256
	}
	if v.MaxMessage <= 0 {
		v.MaxMessage = 1 << 20
	}
	if v.HTTPClient == nil {
		v.HTTPClient = http.DefaultClient
	}
	return v
}
