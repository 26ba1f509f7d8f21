package client

import "slices"

// hooks holds the handlers of one kind, in the order they were added.
// It is guarded by Client.mu.
type hooks[T any] []*func(T)

// add registers fn and returns the function that removes it.
func add[T any](c *Client, h *hooks[T], fn func(T)) (off func()) {
	p := &fn
	c.mu.Lock()
	*h = append(*h, p)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if i := slices.Index(*h, p); i >= 0 {
			*h = slices.Delete(*h, i, i+1)
		}
	}
}

// snapshot returns the handlers to call; c.mu must be held.
func (h hooks[T]) snapshot() []func(T) {
	out := make([]func(T), len(h))
	for i, p := range h {
		out[i] = *p
	}
	return out
}

// call runs each handler in fns with v.
func call[T any](fns []func(T), v T) {
	for _, fn := range fns {
		fn(v)
	}
}

// eventHooks returns the handlers of event in m, made if new; c.mu must
// be held.
func eventHooks(m map[string]*hooks[Message], event string) *hooks[Message] {
	h := m[event]
	if h == nil {
		h = &hooks[Message]{}
		m[event] = h
	}
	return h
}
