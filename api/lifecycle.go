package api

import (
	"time"
)

// A session's life: resume.Registry holds the sessions, the set of those
// suspended and the ids of those ended; this file decides when a session
// ends and what that does to its rooms, connection and hooks.

// endSession ends c once: it leaves its rooms (announced), it can no
// longer be resumed, and OnDisconnect runs. A connection it still has is
// closed with info's code after the frames queued for it; its stream is
// freed when that connection is gone (see Closed), else at once.
func (s *Server) endSession(c *Conn, info CloseInfo) {
	s.endSessionIf(c, info, nil)
}

// endSessionIf is endSession when cond, checked under c.mu, holds (nil:
// always). It reports whether it ended the session.
func (s *Server) endSessionIf(c *Conn, info CloseInfo, cond func(*Conn) bool) bool {
	c.mu.Lock()
	if c.gone || (cond != nil && !cond(c)) {
		c.mu.Unlock()
		return false
	}
	c.gone = true
	c.stopExpiryLocked()
	lc := c.lc
	s.leaveRoomsLocked(c)
	s.sess.End(c)
	c.mu.Unlock()
	s.sess.Remove(c)
	s.users.remove(c)
	c.endContext()
	if lc != nil {
		lc.Close(c.closeFor(info))
	} else {
		c.stream.End()
	}
	if s.opts.OnDisconnect != nil {
		_ = s.hook("OnDisconnect", c, func() error { s.opts.OnDisconnect(c, info); return nil })
	}
	return true
}

// expire ends suspended sessions whose window has passed, or past the
// suspended-bytes budget, every quarter window (at least every second),
// until Shutdown; it also forgets the failed-upgrade buckets that have
// refilled.
func (s *Server) expire() {
	defer close(s.expireDone)
	every := min(max(s.opts.ResumeWindow/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	since := func(c *Conn) time.Time {
		c.mu.Lock()
		defer c.mu.Unlock()
		return suspendedAt(c.suspended)
	}
	held := func(c *Conn) int64 {
		_, b := c.stream.Held()
		return int64(b)
	}
	// A resume may have attached the session since it was listed.
	stillSuspended := func(c *Conn) bool { return c.lc == nil && c.suspended != 0 }
	end := func(c *Conn, reason string) bool {
		return s.endSessionIf(c, CloseInfo{Code: CloseAbnormal, Reason: reason}, stillSuspended)
	}
	for {
		select {
		case <-s.expireStop:
			return
		case now := <-t.C:
			s.sess.Expire(now, s.opts.ResumeWindow, s.opts.SuspendedBytes, since, held, end)
			s.failures.sweep(now)
		}
	}
}

// monoStart is the moment suspension times count from: they are kept as
// nanoseconds since (8 bytes a session rather than a time.Time's 24) and
// read on the monotonic clock, so that a step of the wall clock does not
// end suspended sessions early or late.
var monoStart = time.Now()

// suspendedNow is the suspension time of a session suspended now, never 0.
func suspendedNow() int64 { return max(int64(time.Since(monoStart)), 1) }

// suspendedAt is the time a suspension time stands for; zero for 0.
func suspendedAt(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return monoStart.Add(time.Duration(t))
}

// endAll ends every remaining session (after the engine has stopped).
func (s *Server) endAll(info CloseInfo) {
	for _, c := range s.sess.All() {
		s.endSession(c, info)
	}
}
