package api

import (
	"slices"
	"sync"
	"time"
)

// lifecycle tracks suspended sessions until they resume or their window
// passes, and remembers recently ended ids so a late resume hears
// "expired" rather than "unknown".
type lifecycle struct {
	mu        sync.Mutex
	suspended map[*Conn]struct{}
	ended     map[string]struct{}
	endedRing []string // oldest first, at endedNext
	endedNext int
	stop      chan struct{}
	done      chan struct{}
}

// maxEndedIDs bounds the ids remembered as ended (so that their resumes
// hear "expired", not "unknown"): a few MiB when full.
const maxEndedIDs = 1 << 16

func (l *lifecycle) init() {
	l.suspended = make(map[*Conn]struct{})
	l.ended = make(map[string]struct{})
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
}

// suspend and unsuspend keep the set of suspended sessions; both are
// called with c.mu held, so the set agrees with c.lc and c.gone.
func (s *Server) suspend(c *Conn) {
	s.life.mu.Lock()
	s.life.suspended[c] = struct{}{}
	s.life.mu.Unlock()
}

func (s *Server) unsuspend(c *Conn) {
	s.life.mu.Lock()
	delete(s.life.suspended, c)
	s.life.mu.Unlock()
}

func (s *Server) recentlyEnded(id string) bool {
	s.life.mu.Lock()
	defer s.life.mu.Unlock()
	_, ok := s.life.ended[id]
	return ok
}

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
	lc := c.lc
	s.leaveRoomsLocked(c)
	s.life.mu.Lock()
	delete(s.life.suspended, c)
	if len(s.life.endedRing) < maxEndedIDs {
		s.life.endedRing = append(s.life.endedRing, c.id)
	} else {
		delete(s.life.ended, s.life.endedRing[s.life.endedNext])
		s.life.endedRing[s.life.endedNext] = c.id
		s.life.endedNext = (s.life.endedNext + 1) % maxEndedIDs
	}
	s.life.ended[c.id] = struct{}{}
	s.life.mu.Unlock()
	c.mu.Unlock()
	s.sess.remove(c)
	c.endContext()
	if lc != nil {
		lc.Close(wireCode(info.Code), info.Reason)
	} else {
		c.stream.End()
	}
	if s.opts.OnDisconnect != nil {
		_ = s.hook("OnDisconnect", c, func() error { s.opts.OnDisconnect(c, info); return nil })
	}
	return true
}

// expire ends suspended sessions whose window has passed, every quarter
// window (at least every second), until Shutdown; it also forgets the
// failed-upgrade buckets that have refilled.
func (s *Server) expire() {
	defer close(s.life.done)
	every := min(max(s.opts.ResumeWindow/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	var due []*Conn
	for {
		select {
		case <-s.life.stop:
			return
		case now := <-t.C:
			due = due[:0]
			s.life.mu.Lock()
			for c := range s.life.suspended {
				due = append(due, c)
			}
			s.life.mu.Unlock()
			s.expireDue(due, now)
			clear(due)
			s.failures.sweep(now)
		}
	}
}

// expireDue ends, among the suspended sessions in due, those whose window
// has passed, and then the longest-suspended ones while all together hold
// more than Options.SuspendedBytes. Each is checked again under its lock:
// a resume may have attached it since.
func (s *Server) expireDue(due []*Conn, now time.Time) {
	stillSuspended := func(c *Conn) bool { return c.lc == nil && !c.suspended.IsZero() }
	type held struct {
		c     *Conn
		since time.Time
		bytes int64
	}
	var total int64
	kept := make([]held, 0, len(due))
	for _, c := range due {
		c.mu.Lock()
		since := c.suspended
		c.mu.Unlock()
		if !since.IsZero() && now.Sub(since) >= s.opts.ResumeWindow {
			s.endSessionIf(c, CloseInfo{Code: CloseAbnormal, Reason: "resume window passed"}, stillSuspended)
			continue
		}
		_, b := c.stream.Held()
		total += int64(b)
		kept = append(kept, held{c, since, int64(b)})
	}
	if total <= s.opts.SuspendedBytes {
		return
	}
	slices.SortFunc(kept, func(a, b held) int { return a.since.Compare(b.since) })
	for _, h := range kept {
		if total <= s.opts.SuspendedBytes {
			return
		}
		if s.endSessionIf(h.c, CloseInfo{Code: CloseAbnormal, Reason: "suspended-session memory budget"}, stillSuspended) {
			total -= h.bytes
		}
	}
}

// endAll ends every remaining session (after the engine has stopped).
func (s *Server) endAll(info CloseInfo) {
	for _, c := range s.sess.all() {
		s.endSession(c, info)
	}
}
