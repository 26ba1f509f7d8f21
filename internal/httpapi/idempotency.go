package httpapi

import (
	"container/list"
	"sync"
	"time"
)

// idemCache remembers the answers of idempotent publishes: at most max
// keys (the least recently used is forgotten first), each for window.
// do runs under the cache's lock, so that two requests with one key
// never both apply; a publish only queues frames, so the lock is short.
type idemCache struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	lru    *list.List // of *idemEntry, most recent first
	byKey  map[string]*list.Element
}

type idemEntry struct {
	key    string
	at     time.Time
	status int
	result any
}

func newIdemCache(max int, window time.Duration, now func() time.Time) *idemCache {
	return &idemCache{max: max, window: window, now: now, lru: list.New(), byKey: make(map[string]*list.Element)}
}

// do returns the remembered answer for key (dup true) when there is one
// younger than the window; otherwise it runs apply and remembers its
// answer if it succeeded (a failed publish applied nothing, so a retry
// with the same key may apply).
func (c *idemCache) do(key string, apply func() (int, any, *apiError)) (int, any, *apiError, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if el, ok := c.byKey[key]; ok {
		e := el.Value.(*idemEntry)
		if now.Sub(e.at) < c.window {
			c.lru.MoveToFront(el)
			return e.status, e.result, nil, true
		}
		c.lru.Remove(el)
		delete(c.byKey, key)
	}
	st, res, aerr := apply()
	if aerr != nil {
		return st, res, aerr, false
	}
	c.byKey[key] = c.lru.PushFront(&idemEntry{key: key, at: now, status: st, result: res})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.byKey, old.Value.(*idemEntry).key)
	}
	return st, res, aerr, false
}
