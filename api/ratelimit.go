package api

import (
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: up to Burst events at once, PerSecond on
// average. A zero Rate takes its field's default; a negative PerSecond
// means no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// RateLimits bound what one session's client may ask of the server. A
// frame over its bucket is refused with $error "rate_limited" (a refused
// frame takes no effect and frees its id for a resend); a client that
// keeps sending past its buckets exhausts Refusals and is closed with 1008.
// Server-side calls (Server.Join, Broadcast, Send) and Identity.Rooms are
// not limited. Buckets are allocated on a session's first limited frame,
// so idle sessions pay nothing for them.
type RateLimits struct {
	// Join bounds $join frames. Default 10/s, burst 64.
	Join Rate
	// Publish bounds application frames sent to a room or to a handler.
	// Default 100/s, burst 200.
	Publish Rate
	// Direct bounds application frames sent to a session ("to"). Default
	// 50/s, burst 100.
	Direct Rate
	// FanoutBytes bounds the bytes a client's room frames cost to deliver:
	// the frame's size times the room's other members (a frame costing
	// more than Burst passes only on a full bucket). Default 32 MiB/s,
	// burst 32 MiB.
	FanoutBytes Rate
	// Refusals bounds rate_limited answers; past it the connection is
	// closed with 1008, which ends the session. Default 2/s, burst 20.
	Refusals Rate
	// FailuresPerIP bounds, per client address, upgrades refused by
	// Authorize; past it the address's upgrades get HTTP 429 until its
	// bucket refills. A resume with an unknown token is no failure (after
	// a restart every client presents one), nor is a *Refusal with a 5xx
	// status (the server's trouble, such as a backend that is down).
	// Default 2/s, burst 50.
	FailuresPerIP Rate
}

// DefaultRateLimits returns the rate limits a zero RateLimits takes:
// $join 10/s (burst 64), publish 100/s (200), direct 50/s (100), fan-out
// 32 MiB/s (32 MiB), refusals 2/s (20), failed upgrades per address 2/s
// (50).
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Join:          Rate{PerSecond: 10, Burst: 64},
		Publish:       Rate{PerSecond: 100, Burst: 200},
		Direct:        Rate{PerSecond: 50, Burst: 100},
		FanoutBytes:   Rate{PerSecond: 32 << 20, Burst: 32 << 20},
		Refusals:      Rate{PerSecond: 2, Burst: 20},
		FailuresPerIP: Rate{PerSecond: 2, Burst: 50},
	}
}

// NoRateLimits returns rate limits that are all off (for trusted clients
// and benchmarks).
func NoRateLimits() RateLimits {
	off := Rate{PerSecond: -1}
	return RateLimits{Join: off, Publish: off, Direct: off, FanoutBytes: off, Refusals: off, FailuresPerIP: off}
}

func (r RateLimits) withDefaults() RateLimits {
	def := func(v *Rate, d Rate) {
		if *v == (Rate{}) {
			*v = d
		}
	}
	d := DefaultRateLimits()
	def(&r.Join, d.Join)
	def(&r.Publish, d.Publish)
	def(&r.Direct, d.Direct)
	def(&r.FanoutBytes, d.FanoutBytes)
	def(&r.Refusals, d.Refusals)
	def(&r.FailuresPerIP, d.FailuresPerIP)
	return r
}

// limiter returns a bucket for r, or nil when r is unlimited.
func (r Rate) limiter() *rate.Limiter {
	if r.PerSecond < 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1))
}

// bucketKind names one of a session's buckets.
type bucketKind uint8

const (
	bucketJoin bucketKind = iota
	bucketPublish
	bucketDirect
	bucketFanout
	bucketRefusals
	nBuckets
)

// buckets are one session's rate limiters, each made on first use (an
// idle client that joined once holds one).
type buckets [nBuckets]*rate.Limiter

// bucket returns c's limiter of kind, or nil when that limit is off.
// Called under c.handling.
func (c *Conn) bucket(kind bucketKind) *rate.Limiter {
	rl := &c.srv.opts.RateLimits
	r := [nBuckets]*Rate{&rl.Join, &rl.Publish, &rl.Direct, &rl.FanoutBytes, &rl.Refusals}[kind]
	if r.PerSecond < 0 {
		return nil
	}
	if c.limits == nil {
		c.limits = new(buckets)
	}
	if c.limits[kind] == nil {
		c.limits[kind] = r.limiter()
	}
	return c.limits[kind]
}

// allow reports whether c may have one more frame of kind now; a room frame
// also pays its fan-out cost (bytes × recipients). Called under
// c.handling, so one frame at a time per session.
func (c *Conn) allow(kind bucketKind, fanout int64) bool {
	now := time.Now()
	l := c.bucket(kind)
	if l != nil && l.TokensAt(now) < 1 {
		c.srv.counters.limited[kind].Add(1)
		return false
	}
	if fanout > 0 {
		if f := c.bucket(bucketFanout); f != nil {
			cost := int(min(fanout, int64(f.Burst()), math.MaxInt32))
			if !f.AllowN(now, cost) {
				c.srv.counters.limited[bucketFanout].Add(1)
				return false
			}
		}
	}
	if l != nil {
		l.AllowN(now, 1)
	}
	return true
}

// refuseRateLimited answers a frame over its bucket, and closes the
// connection with 1008 once the client has used up its refusals.
func (c *Conn) refuseRateLimited(id, room string) {
	if r := c.bucket(bucketRefusals); r != nil && !r.Allow() {
		c.srv.log.Info("closing a client that ignores rate limits", "session", c.id)
		if lc := c.transport(); lc != nil {
			lc.Close(uint16(ClosePolicy), "rate limit exceeded")
		}
		return
	}
	c.sendError(id, room, CodeRateLimited, "too many frames: slow down")
}

// allowFrame applies c's buckets to an application frame: a direct
// message takes from Direct, anything else from Publish, and a room frame
// pays its size for each other member of the room.
func (s *Server) allowFrame(c *Conn, f *Frame) bool {
	if f.To != "" && f.Room == "" {
		return c.allow(bucketDirect, 0)
	}
	var fanout int64
	if f.Room != "" {
		if n := s.rooms.Count(f.Room) - 1; n > 0 {
			fanout = int64(wireSize(f, c.id)) * int64(n)
		}
	}
	return c.allow(bucketPublish, fanout)
}

// wireSize is about the size of f as delivered: its fields with the
// sender's id, plus the envelope and WebSocket header.
func wireSize(f *Frame, from string) int {
	const envelope = 64
	return len(f.Event) + len(f.Room) + len(from) + len(f.Payload) + envelope
}
