package api

import (
	"crypto/rand"
	"encoding/base32"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

const sessionShards = 64 // power of two

// sessions maps session ids to connected clients, sharded by xxhash so that
// connects and lookups on many cores do not contend.
type sessions struct {
	shards [sessionShards]struct {
		mu sync.RWMutex
		m  map[string]*Conn
	}
	n atomic.Int64
}

func (s *sessions) init() {
	for i := range s.shards {
		s.shards[i].m = make(map[string]*Conn)
	}
}

func (s *sessions) shard(id string) int { return int(xxhash.Sum64String(id) & (sessionShards - 1)) }

// add registers c; it reports false if its id is taken.
func (s *sessions) add(c *Conn) bool {
	sh := &s.shards[s.shard(c.id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, taken := sh.m[c.id]; taken {
		return false
	}
	sh.m[c.id] = c
	s.n.Add(1)
	return true
}

// remove unregisters c if it is the one registered under its id.
func (s *sessions) remove(c *Conn) {
	sh := &s.shards[s.shard(c.id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[c.id] == c {
		delete(sh.m, c.id)
		s.n.Add(-1)
	}
}

func (s *sessions) get(id string) (*Conn, bool) {
	sh := &s.shards[s.shard(id)]
	sh.mu.RLock()
	c, ok := sh.m[id]
	sh.mu.RUnlock()
	return c, ok
}

func (s *sessions) len() int { return int(s.n.Load()) }

// all returns every registered session.
func (s *sessions) all() []*Conn {
	var list []*Conn
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for _, c := range sh.m {
			list = append(list, c)
		}
		sh.mu.RUnlock()
	}
	return list
}

// newSessionID returns "s-" and 80 random bits in lower-case base32: unique
// across nodes without coordination.
func newSessionID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "s-" + sessionEncoding.EncodeToString(b[:])
}

var sessionEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
