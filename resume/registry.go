package resume

import (
	"crypto/rand"
	"encoding/base32"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

const registryShards = 64 // power of two

// maxEndedIDs bounds the ids remembered as ended (so that their resumes
// hear "expired", not "unknown"): a few MiB when full.
const maxEndedIDs = 1 << 16

// Registry holds one server's sessions: by id (sharded by xxhash, so that
// connects and lookups on many cores do not contend), the set of those
// suspended and waiting for a resume, and the ids of the last 65,536 that
// ended. S is the caller's session type; Registry learns a session's id
// and resume token through the functions given to NewRegistry. It is safe
// for concurrent use; it never calls the caller back with a lock held.
type Registry[S comparable] struct {
	id    func(S) string
	token func(S) string

	shards [registryShards]struct {
		mu sync.RWMutex
		m  map[string]S
	}
	n atomic.Int64

	mu        sync.Mutex // guards the fields below
	suspended map[S]struct{}
	ended     map[string]struct{}
	endedRing []string // oldest first, at endedNext
	endedNext int
}

// NewRegistry returns an empty registry. id returns a session's id, token
// its resume token ("" when it has none).
func NewRegistry[S comparable](id, token func(S) string) *Registry[S] {
	r := &Registry[S]{id: id, token: token, suspended: make(map[S]struct{}), ended: make(map[string]struct{})}
	for i := range r.shards {
		r.shards[i].m = make(map[string]S)
	}
	return r
}

func (r *Registry[S]) shard(id string) int { return int(xxhash.Sum64String(id) & (registryShards - 1)) }

// Add registers s; it reports false if its id is taken.
func (r *Registry[S]) Add(s S) bool {
	id := r.id(s)
	sh := &r.shards[r.shard(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, taken := sh.m[id]; taken {
		return false
	}
	sh.m[id] = s
	r.n.Add(1)
	return true
}

// Get returns the session with id.
func (r *Registry[S]) Get(id string) (S, bool) {
	sh := &r.shards[r.shard(id)]
	sh.mu.RLock()
	s, ok := sh.m[id]
	sh.mu.RUnlock()
	return s, ok
}

// Len returns the number of sessions.
func (r *Registry[S]) Len() int { return int(r.n.Load()) }

// All returns every session.
func (r *Registry[S]) All() []S {
	var list []S
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for _, s := range sh.m {
			list = append(list, s)
		}
		sh.mu.RUnlock()
	}
	return list
}

// Suspend records s as waiting for a resume, and Unsuspend as attached
// again. Call both under the session's own lock, so that the set agrees
// with the session's state.
func (r *Registry[S]) Suspend(s S) {
	r.mu.Lock()
	r.suspended[s] = struct{}{}
	r.mu.Unlock()
}

// Unsuspend: see Suspend.
func (r *Registry[S]) Unsuspend(s S) {
	r.mu.Lock()
	delete(r.suspended, s)
	r.mu.Unlock()
}

// Suspended returns the number of suspended sessions.
func (r *Registry[S]) Suspended() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.suspended)
}

// AppendSuspended appends the suspended sessions to dst.
func (r *Registry[S]) AppendSuspended(dst []S) []S {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.suspended {
		dst = append(dst, s)
	}
	return dst
}

// End records that s has ended: it is no longer suspended, and its id is
// remembered as ended (a later resume hears "expired"). Call it under the
// session's lock, once; Remove it from the registry afterwards.
func (r *Registry[S]) End(s S) {
	id := r.id(s)
	r.mu.Lock()
	delete(r.suspended, s)
	if len(r.endedRing) < maxEndedIDs {
		r.endedRing = append(r.endedRing, id)
	} else {
		delete(r.ended, r.endedRing[r.endedNext])
		r.endedRing[r.endedNext] = id
		r.endedNext = (r.endedNext + 1) % maxEndedIDs
	}
	r.ended[id] = struct{}{}
	r.mu.Unlock()
}

// Remove unregisters s if it is the session registered under its id.
func (r *Registry[S]) Remove(s S) {
	id := r.id(s)
	sh := &r.shards[r.shard(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[id] == s {
		delete(sh.m, id)
		r.n.Add(-1)
	}
}

// Find returns the live session a resume token names, or why there is
// none: ReasonUnknown (no such session, or the token does not match) or
// ReasonExpired (the session ended recently).
func (r *Registry[S]) Find(token string) (s S, reason string) {
	id, ok := SessionOf(token)
	if !ok {
		return s, ReasonUnknown
	}
	if s, ok = r.Get(id); ok {
		if t := r.token(s); t != "" && Match(token, t) {
			return s, ""
		}
		var none S
		return none, ReasonUnknown
	}
	r.mu.Lock()
	_, ended := r.ended[id]
	r.mu.Unlock()
	if ended {
		return s, ReasonExpired
	}
	return s, ReasonUnknown
}

// Expire ends, among the suspended sessions, those suspended for window
// or longer, and then the longest-suspended while all together hold more
// than budget bytes. since returns when a session was suspended (zero if
// it no longer is), held the bytes its stream holds; end ends a session
// with a reason and reports whether it did (it must check again, under
// the session's lock, that the session is still suspended). Call it
// from one goroutine at a time.
func (r *Registry[S]) Expire(now time.Time, window time.Duration, budget int64,
	since func(S) time.Time, held func(S) int64, end func(s S, reason string) bool) {
	type entry struct {
		s     S
		since time.Time
		bytes int64
	}
	var total int64
	var kept []entry
	for _, s := range r.AppendSuspended(nil) {
		at := since(s)
		if !at.IsZero() && now.Sub(at) >= window {
			end(s, "resume window passed")
			continue
		}
		b := held(s)
		total += b
		kept = append(kept, entry{s, at, b})
	}
	if total <= budget {
		return
	}
	slices.SortFunc(kept, func(a, b entry) int { return a.since.Compare(b.since) })
	for _, e := range kept {
		if total <= budget {
			return
		}
		if end(e.s, "suspended-session memory budget") {
			total -= e.bytes
		}
	}
}

// NewSessionID returns "s-" and 80 random bits in lower-case base32:
// unique across nodes without coordination.
func NewSessionID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "s-" + sessionEncoding.EncodeToString(b[:])
}

var sessionEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// ReasonOf returns the refusal reason of an error of Stream.Attach.
func ReasonOf(err error) string {
	switch err {
	case nil:
		return ""
	case ErrGap:
		return ReasonGap
	case ErrInvalidSeq:
		return ReasonInvalid
	default:
		return ReasonExpired
	}
}

// Suspends reports whether a connection that ended with close code code
// leaves its session suspended, waiting for a resume, rather than ended:
// it dropped without a close frame (1006), either side was going away
// (1001: the server's drain, or a browser leaving or reloading its page,
// which may resume from storage), the client closed it to resume at once
// (CloseResuming, 4000), or the server closed it as a slow consumer
// (4002) or because its credential expired (4004). Anything else (another close handshake the client began, a
// kick, a protocol error) ends the session.
func Suspends(code uint16, serverClosed bool) bool {
	switch {
	case code == 1006 || code == 1001:
		return true
	case serverClosed:
		return code == CloseSlowConsumer || code == CloseTokenExpired
	default:
		return code == CloseResuming
	}
}
