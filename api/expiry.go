package api

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/roomloop/roomloop/frame"
)

// Credential expiry (docs/protocol.md, "Credential expiry"): a session
// admitted with an Identity that Expires is closed with 4004 when that
// moment passes, unless a $refresh has moved it later. The close
// suspends the session, so a client that fetches a fresh credential
// resumes it exactly. Each session with an expiry holds one runtime timer
// (no goroutine until it fires); sessions without one hold nothing.

// setIdentityLocked takes the claims and expiry of id, the Identity of a
// new connection or a resume. c.mu must be held (or c not yet shared).
func (c *Conn) setIdentityLocked(id Identity) {
	c.setClaims(id.Claims)
	c.setExpiryLocked(id.Expires)
}

func (c *Conn) setClaims(claims map[string]any) {
	if claims == nil {
		c.claims.Store(nil)
		return
	}
	c.claims.Store(&claims)
}

// expiry is a session's credential expiry and the timer that fires at
// it: allocated only for a session that has one. Guarded by Conn.mu.
type expiry struct {
	at    time.Time
	timer *time.Timer
}

// expiresLocked returns the session's expiry; zero: never. c.mu must be
// held.
func (c *Conn) expiresLocked() time.Time {
	if c.expiry == nil {
		return time.Time{}
	}
	return c.expiry.at
}

// setExpiryLocked makes at the session's expiry (zero: none), replacing
// the timer of the previous one. c.mu must be held.
func (c *Conn) setExpiryLocked(at time.Time) {
	c.stopExpiryLocked()
	if at.IsZero() {
		return
	}
	// Set before the timer starts: one that fires at once (an expiry
	// already past) reads it, under c.mu, while a caller that has not
	// shared c yet writes without it.
	e := &expiry{at: at}
	c.expiry = e
	e.timer = time.AfterFunc(time.Until(at), func() { c.srv.credentialExpired(c, at) })
}

// stopExpiryLocked drops the expiry and its timer. c.mu must be held.
func (c *Conn) stopExpiryLocked() {
	if c.expiry != nil {
		c.expiry.timer.Stop()
		c.expiry = nil
	}
}

// credentialExpired closes c's connection with 4004 if at is still its
// expiry. A suspended session is left alone: resuming it takes a new
// credential anyway, and its window ends it otherwise.
func (s *Server) credentialExpired(c *Conn, at time.Time) {
	c.mu.Lock()
	lc := c.lc
	current := !c.gone && c.expiresLocked().Equal(at)
	c.mu.Unlock()
	if current && lc != nil {
		lc.Close(uint16(CloseTokenExpired), "token expired")
	}
}

// refresh handles $refresh: Options.Refresh checks the fresh credential,
// which must name the session's user; its expiry (if later) and claims
// become the session's, and the client gets $refreshed with the time
// left. Refreshes count against the join rate limit: each costs a
// signature check.
func (s *Server) refresh(c *Conn, f *Frame) {
	if s.opts.Refresh == nil {
		c.sendError(f.ID, "", CodeBadRequest, "this server does not take $refresh")
		return
	}
	var p frame.RefreshPayload
	if f.Kind != frame.JSONPayload || json.Unmarshal(f.Payload, &p) != nil || p.Token == "" {
		c.sendError(f.ID, "", CodeBadRequest, `$refresh needs a payload {"token":"…"}`)
		return
	}
	if !c.allow(bucketJoin, 0) {
		c.refuseRateLimited(f.ID, "")
		return
	}
	var id Identity
	err := s.hook("Refresh", c, func() (err error) {
		id, err = s.opts.Refresh(c, p.Token)
		return err
	})
	if err != nil {
		code, msg := refreshRefusal(err)
		s.log.Debug("refresh refused", "session", c.id, "err", err)
		c.sendError(f.ID, "", code, msg)
		return
	}
	if id.User != c.user || (id.SessionID != "" && id.SessionID != c.id) {
		c.sendError(f.ID, "", CodeForbidden, "the credential is for another user or session")
		return
	}
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		return
	}
	if later(id.Expires, c.expiresLocked()) {
		c.setExpiryLocked(id.Expires)
		c.setClaims(id.Claims)
	}
	left := msUntil(c.expiresLocked())
	c.mu.Unlock()
	_ = c.sendOut(controlFrame(evRefreshed, "", f.ID, frame.RefreshedPayload{ExpiresInMS: left}))
}

// refreshRefusal is the $error code and message for a refused refresh.
func refreshRefusal(err error) (code, msg string) {
	var ref *Refusal
	var e *Error
	switch {
	case err == errPanicked:
		return CodeInternal, "the server failed to check the credential"
	case errors.As(err, &e):
		return e.Code, e.Message
	case errors.As(err, &ref):
		return CodeUnauthorized, ref.Reason
	default:
		return CodeUnauthorized, "refresh refused"
	}
}

// later reports whether expiry a is later than b; zero is never, the
// latest of all.
func later(a, b time.Time) bool {
	return !b.IsZero() && (a.IsZero() || a.After(b))
}

// msUntil is the whole milliseconds until t, at least 1; 0 for zero t.
func msUntil(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(time.Until(t).Milliseconds(), 1)
}
