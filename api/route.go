package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/roomloop/roomloop/frame"
)

// control handles the reserved events a client may send.
func (s *Server) control(c *Conn, f *Frame) {
	switch f.Event {
	case evJoin:
		s.clientJoin(c, f)
	case evLeave:
		if f.Room == "" {
			c.sendError(f.ID, "", CodeBadRequest, "$leave needs a room")
			return
		}
		if err := s.leave(c, f.Room, f.ID, "left"); err != nil {
			c.sendError(f.ID, f.Room, codeOf(err), err.Error())
		}
	case evPing:
		_ = c.sendOut(controlFrame(evPong, "", f.ID, nil))
	case evSeen:
		var p struct {
			Seq *uint64 `json:"seq"`
		}
		if f.Kind != frame.JSONPayload || json.Unmarshal(f.Payload, &p) != nil || p.Seq == nil {
			c.sendError(f.ID, "", CodeBadRequest, `$seen needs a payload {"seq":N}`)
			return
		}
		c.stream.Confirm(*p.Seq)
	case evRefresh:
		s.refresh(c, f)
	default:
		c.sendError(f.ID, f.Room, CodeBadRequest, fmt.Sprintf("event %q is reserved", f.Event))
	}
}

func (s *Server) clientJoin(c *Conn, f *Frame) {
	if f.Room == "" {
		c.sendError(f.ID, "", CodeBadRequest, "$join needs a room")
		return
	}
	if !c.allow(bucketJoin, 0) {
		c.refuseRateLimited(f.ID, f.Room)
		return
	}
	if s.opts.CanJoin != nil {
		err := s.hook("CanJoin", c, func() error { return s.opts.CanJoin(c, f.Room) })
		var e *Error
		switch {
		case err == errPanicked:
			c.sendError(f.ID, f.Room, CodeInternal, "the server failed to handle the frame")
			return
		case errors.As(err, &e):
			c.sendError(f.ID, f.Room, e.Code, e.Message)
			return
		case err != nil:
			s.log.Debug("CanJoin refused", "session", c.id, "room", f.Room, "err", err)
			c.sendError(f.ID, f.Room, CodeForbidden, "not allowed to join "+f.Room)
			return
		}
	}
	if err := s.join(c, f.Room, f.ID); err != nil {
		c.sendError(f.ID, f.Room, codeOf(err), err.Error())
	}
}

// application handles a non-reserved client frame: membership first, then
// the event's handler or the default route, inside the middleware.
func (s *Server) application(c *Conn, f *Frame) {
	if f.Room != "" && !c.InRoom(f.Room) {
		c.sendError(f.ID, f.Room, CodeNotMember, "not a member of room "+f.Room)
		return
	}
	if !s.allowFrame(c, f) {
		c.refuseRateLimited(f.ID, f.Room)
		return
	}
	// A frame with an id is applied once per session: a resent duplicate
	// is acknowledged again and not applied; a refused frame frees its id.
	if f.ID != "" {
		c.mu.Lock()
		fresh := c.dedupe.Reserve(f.ID, s.opts.DedupeWindow)
		c.mu.Unlock()
		if !fresh {
			c.ack(f.ID)
			return
		}
	}
	hs := s.handlers.Load()
	h, ok := hs.byEvent[f.Event]
	if !ok {
		h = hs.fallback
	}
	var start time.Time
	if s.hist != nil {
		start = time.Now()
	}
	err := s.call(h, c, f)
	if s.hist != nil {
		s.hist.handlerDone(c, start)
	}
	if err != nil && f.ID != "" {
		c.mu.Lock()
		c.dedupe.Release(f.ID)
		c.mu.Unlock()
	}
	switch {
	case err == nil:
		c.ack(f.ID)
	default:
		var e *Error
		if errors.As(err, &e) {
			c.sendError(f.ID, f.Room, e.Code, e.Message)
			return
		}
		s.log.Error("handler failed", "event", f.Event, "session", c.id, "err", err)
		c.sendError(f.ID, f.Room, CodeInternal, "the server failed to handle the frame")
	}
}

// errPanicked stands for a handler that panicked.
var errPanicked = errors.New("handler panicked")

// hook runs a user hook for c, turning a panic into a log line and
// errPanicked: some hooks run on the server's own goroutines (OnDisconnect
// when a resume window passes), where a panic would end the process.
func (s *Server) hook(name string, c *Conn, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("hook panicked", "hook", name, "session", c.id,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errPanicked
		}
	}()
	return fn()
}

func (s *Server) call(h HandlerFunc, c *Conn, f *Frame) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "event", f.Event, "session", c.id,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = errPanicked
		}
	}()
	return h(c, f)
}

// route is the default for events without a handler (docs/protocol.md,
// "What the client can send"): a room frame goes to the other members, a
// frame with "to" to that session.
func (s *Server) route(c *Conn, f *Frame) error {
	switch {
	case f.Room != "":
		fwd := *f
		fwd.ID = ""
		echo := c.ep != nil && c.ep.rules.EchoSender
		if s.cl != nil {
			key := ""
			if f.ID != "" {
				key = c.id + "." + f.ID // a retry of the id stands once
			}
			return s.cl.publishFrame(f.Room, key, &fwd, echo, nil)
		}
		s.fanOut(f.Room, frame.NewOutgoing(fwd), func(m *Conn) bool { return m == c && !echo })
		return nil
	case f.To != "":
		fwd := *f
		fwd.ID = ""
		dst, ok := s.sess.Get(f.To)
		if !ok && s.cl != nil {
			err := s.cl.request(opSend, f.To, "", &fwd)
			if errors.Is(err, ErrNoSuchSession) {
				return NewError(CodeNoSuchSession, "no session "+f.To)
			}
			return err
		}
		if !ok {
			return NewError(CodeNoSuchSession, "no session "+f.To)
		}
		if err := dst.Send(fwd); err != nil && err != ErrDropped {
			return NewError(CodeNoSuchSession, "session "+f.To+" is disconnecting")
		}
		return nil
	default:
		return NewError(CodeBadRequest, fmt.Sprintf("no handler for event %q and no room or to", f.Event))
	}
}

// codeOf maps the server-side API's errors to $error codes.
func codeOf(err error) string {
	switch {
	case errors.Is(err, ErrNotMember):
		return CodeNotMember
	case errors.Is(err, ErrTooManyRooms):
		return CodeTooManyRooms
	case errors.Is(err, ErrNoSuchSession):
		return CodeNoSuchSession
	case errors.Is(err, ErrInvalidRoom):
		return CodeBadRequest
	default:
		return CodeInternal
	}
}
