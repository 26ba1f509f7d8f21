package api

import "maps"

// HandlerFunc handles a client frame for one event. It runs on the worker
// pool; frames of one client reach it in order. f.From is the sender's
// session id. Returning nil acknowledges the frame ($ack, if it has an id).
// An *Error is answered with its code and message; any other error, or a
// panic, is logged and answered with "internal" and a fixed message: only
// an *Error's text ever reaches a client (see Error). c.Context() ends
// when the session ends.
type HandlerFunc func(c *Conn, f *Frame) error

// Middleware wraps a HandlerFunc. The first middleware given to Use is the
// outermost. Middleware also wraps the default route (frames of events
// without a handler), so it sees every application frame.
type Middleware func(next HandlerFunc) HandlerFunc

// handlerSet is immutable once stored; Handle and Use replace it.
type handlerSet struct {
	byEvent  map[string]HandlerFunc // already wrapped in the middleware
	fallback HandlerFunc            // the default route, wrapped too
	raw      map[string]HandlerFunc
	mws      []Middleware
}

// Handle registers fn for client frames with event, replacing any earlier
// one. Like http.ServeMux, it panics on a programming error: an empty
// event, an event starting with '$' (reserved for the protocol), or a nil
// fn.
func (s *Server) Handle(event string, fn HandlerFunc) {
	switch {
	case event == "":
		panic("roomloop: Handle: empty event")
	case event[0] == '$':
		panic("roomloop: Handle: event " + event + " is reserved: events starting with '$' belong to the protocol")
	case fn == nil:
		panic("roomloop: Handle: nil handler for event " + event)
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	old := s.handlers.Load()
	raw := maps.Clone(old.raw)
	if raw == nil {
		raw = map[string]HandlerFunc{}
	}
	raw[event] = fn
	s.handlers.Store(s.buildHandlers(raw, old.mws))
}

// Use appends middleware around every handler, present and future. It
// panics on a nil middleware.
func (s *Server) Use(mw ...Middleware) {
	for _, m := range mw {
		if m == nil {
			panic("roomloop: Use: nil middleware")
		}
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	old := s.handlers.Load()
	mws := append(append([]Middleware(nil), old.mws...), mw...)
	s.handlers.Store(s.buildHandlers(old.raw, mws))
}

// buildHandlers wraps every handler, and the default route, in mws.
func (s *Server) buildHandlers(raw map[string]HandlerFunc, mws []Middleware) *handlerSet {
	wrap := func(fn HandlerFunc) HandlerFunc {
		for i := len(mws) - 1; i >= 0; i-- {
			fn = mws[i](fn)
		}
		return fn
	}
	hs := &handlerSet{byEvent: make(map[string]HandlerFunc, len(raw)), raw: raw, mws: mws}
	for ev, fn := range raw {
		hs.byEvent[ev] = wrap(fn)
	}
	hs.fallback = wrap(s.route)
	return hs
}
