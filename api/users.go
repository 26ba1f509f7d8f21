package api

import "sync"

// userIndex maps Identity.User to the user's live sessions (connected or
// suspended). Sessions without a user are not indexed. A session enters
// it before the registry holds it and leaves after the registry dropped
// it, so no end can overtake its start.
type userIndex struct {
	mu     sync.Mutex
	byUser map[string]map[*Conn]struct{}
}

func (u *userIndex) add(c *Conn) {
	if c.user == "" {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byUser == nil {
		u.byUser = make(map[string]map[*Conn]struct{})
	}
	set := u.byUser[c.user]
	if set == nil {
		set = make(map[*Conn]struct{})
		u.byUser[c.user] = set
	}
	set[c] = struct{}{}
}

func (u *userIndex) remove(c *Conn) {
	if c.user == "" {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	set := u.byUser[c.user]
	delete(set, c)
	if len(set) == 0 {
		delete(u.byUser, c.user)
	}
}

// User returns the session's Identity.User ("" when Authorize gave none).
func (c *Conn) User() string { return c.user }
