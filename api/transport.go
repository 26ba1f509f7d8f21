package api

import (
	"errors"
	"net/http"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
	"github.com/roomloop/roomloop/resume"
	"github.com/roomloop/roomloop/wire"
)

// transport is the Server as the loop sees it (loop.Handler).
type transport Server

// binding is what an open transport carries for life (its loop.Conn
// value from Open on): the codec, the wire and the session it serves
// (nil when Open attached none). Open sets it; Message and Closed, which
// the loop serializes after Open, read it.
type binding struct {
	codec frame.Codec
	ep    *endpoint // the wire of a session on an Endpoint; nil: roomloop's
	sess  *Conn
}

// handshake is what a transport carries from Upgrade to Open (its
// loop.Conn value meanwhile): the binding being made, the identity
// Authorize gave and the resume it asked for. Open replaces it with its
// binding, so that an idle connection does not keep it.
type handshake struct {
	binding
	identity Identity
	target   *Conn  // session to resume
	lastSeq  uint64 // its client's last seq
	reason   string // why a requested resume is refused
	// moved is a session another node handed over (cluster), with its
	// id and resume token.
	moved               *handover
	movedID, movedToken string
}

// Upgrade checks the origin, picks the codec, runs Authorize, and decides
// between a resume and a fresh session.
func (t *transport) Upgrade(lc *loop.Conn, up *loop.Upgrade) (string, error) {
	s := (*Server)(t)
	r := up.Request
	if s.failures.throttled(lc.RemoteAddr()) {
		return "", &loop.HTTPError{Status: http.StatusTooManyRequests, Reason: "too many failed attempts from this address"}
	}
	if !s.originAllowed(r) {
		return "", &loop.HTTPError{Status: http.StatusForbidden, Reason: "origin not allowed",
			Detail: "origin " + r.Header.Get("Origin") + " is neither the page's own (same host) nor in AllowedOrigins"}
	}
	if ep, echo := s.endpoints.pick(r.URL.Path, up.Protocols); ep != nil {
		return echo, s.upgradeWire(lc, r, ep)
	}
	codec, echo, err := pickCodec(up.Protocols)
	if err != nil {
		return "", err
	}
	b := &handshake{binding: binding{codec: codec}}
	if err := s.authorize(lc, r, b); err != nil {
		return "", err
	}
	if req, asked := resume.ParseRequest(r.URL.Query()); asked && !s.opts.DisableResume {
		// An unknown token costs nothing: after a restart every client
		// presents one, and a 128-bit secret cannot be guessed anyway.
		s.findResume(b, req)
	}
	if want := b.identity.SessionID; want != "" {
		if old, ok := s.sess.Get(want); ok && old != b.target {
			if old.Connected() {
				return "", &loop.HTTPError{Status: http.StatusConflict, Reason: "session id already connected"}
			}
			// A reconnect without a usable resume replaces the suspended session.
			s.endSession(old, CloseInfo{Code: CloseNormal, Reason: "replaced by a new session", ServerClosed: true})
		}
	}
	lc.SetValue(b)
	if !echo {
		return "", nil
	}
	return codec.Name(), nil
}

// authorize runs Options.Authorize, if set, into b.identity, and turns
// its refusal into the HTTP answer.
func (s *Server) authorize(lc *loop.Conn, r *http.Request, b *handshake) error {
	if s.opts.Authorize == nil {
		return nil
	}
	var err error
	b.identity, err = s.opts.Authorize(r)
	if err == nil {
		return nil
	}
	if r.Context().Err() != nil {
		return err // timed out, or the client left: not the client's failure
	}
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Status < 500 {
		// A 5xx is the server's trouble (a backend down), not the client's.
		s.failures.fail(lc.RemoteAddr())
	}
	if ref != nil {
		return &loop.HTTPError{Status: ref.Status, Reason: ref.Reason}
	}
	s.log.Debug("authorize refused", "remote", r.RemoteAddr, "err", err)
	return &loop.HTTPError{Status: http.StatusUnauthorized, Reason: "unauthorized"}
}

// findResume validates a resume request into b.target, or says in
// b.reason why it cannot be honoured.
func (s *Server) findResume(b *handshake, req resume.Request) {
	sess, reason := s.sess.Find(req.Token)
	if sess == nil && reason == resume.ReasonUnknown && s.cl != nil && !req.Invalid {
		s.cl.takeOver(b, req) // a session of another node
		return
	}
	switch {
	case sess == nil:
		b.reason = reason
	case b.identity.SessionID != "" && b.identity.SessionID != sess.id,
		b.identity.User != sess.user:
		b.reason = resume.ReasonUnknown // this client may not take that session
	case req.Invalid:
		b.reason = resume.ReasonInvalid
	default:
		b.target, b.lastSeq = sess, req.LastSeq
	}
}

// Open attaches the transport: to the session it resumes, or to a new one.
// Whatever the outcome, the transport then carries its binding only.
func (t *transport) Open(lc *loop.Conn) {
	s := (*Server)(t)
	b := lc.Value().(*handshake)
	defer func() {
		kept := b.binding
		lc.SetValue(&kept)
	}()
	if b.moved != nil {
		adopted := s.adopt(lc, b)
		b.moved = nil
		if adopted {
			s.counters.resumed.Add(1)
			return
		}
	}
	if b.target != nil {
		if s.resumeSession(lc, b) {
			s.counters.resumed.Add(1)
			return
		}
	}
	if b.reason != "" {
		s.counters.refuseResume(b.reason)
	}
	id := b.identity.SessionID
	if id == "" {
		id = resume.NewSessionID()
		if s.cl != nil {
			id = s.cl.sessionID(id)
		}
	}
	c := &Conn{srv: s, id: id, user: b.identity.User, lc: lc, ep: b.ep, stream: s.out.New()}
	c.setIdentityLocked(b.identity) // c is not shared yet
	// A wire's sessions resume by id, never by token.
	if !s.opts.DisableResume && b.ep == nil {
		c.token = resume.NewToken(id)
	}
	s.users.add(c) // before the registry holds it: see userIndex
	if !s.sess.Add(c) {
		s.users.remove(c)
		lc.Close(uint16(ClosePolicy), "session id already connected")
		return
	}
	b.sess = c
	reason := b.reason
	if err := c.stream.Attach(lc, b.codec, 0, func(last uint64) *frame.Outgoing {
		return s.welcome(c, false, last, reason, b.identity.Expires)
	}); err != nil {
		return
	}
	for _, room := range b.identity.Rooms {
		if err := s.join(c, room, ""); err != nil {
			s.log.Warn("initial room not joined", "session", c.id, "room", room, "err", err)
		}
	}
	if s.opts.OnConnect != nil {
		s.opts.OnConnect(c)
	}
}

// resumeSession attaches lc to b.target after b.lastSeq. On a gap, an
// invalid seq or an ended session it records the reason and reports false.
func (s *Server) resumeSession(lc *loop.Conn, b *handshake) bool {
	c := b.target
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		b.reason = resume.ReasonExpired
		return false
	}
	if c.lc != nil && b.ep != nil && b.ep.rules.CloseNormally {
		c.lc.Abort(uint16(CloseNormal), "") // before Attach's 4003
	}
	err := c.stream.Attach(lc, b.codec, b.lastSeq, func(last uint64) *frame.Outgoing {
		return s.welcome(c, true, last, "", b.identity.Expires)
	})
	if err != nil {
		b.reason = resume.ReasonOf(err)
		suspended := c.lc == nil
		c.mu.Unlock()
		// A suspended session that cannot be resumed after a gap never
		// will be: end it, so its rooms hear it left. A live one goes on
		// (the request was stale). A fresh session that must reuse the
		// id replaces it.
		switch {
		case b.identity.SessionID == c.id:
			s.endSession(c, CloseInfo{Code: CloseReplaced, Reason: "replaced by a new session", ServerClosed: true})
		case err == resume.ErrGap && suspended:
			s.endSessionIf(c, CloseInfo{Code: CloseAbnormal, Reason: "resume gap"}, func(c *Conn) bool { return c.lc == nil })
		}
		return false
	}
	c.lc = lc
	c.suspended = 0
	c.setIdentityLocked(b.identity) // the credential this resume came with
	s.sess.Unsuspend(c)
	c.mu.Unlock()
	b.sess = c
	if s.opts.OnResume != nil {
		s.opts.OnResume(c)
	}
	return true
}

// Message decodes and handles one client message.
func (t *transport) Message(lc *loop.Conn, binary bool, data []byte) {
	s := (*Server)(t)
	b := lc.Value().(*binding)
	c := b.sess
	if c == nil {
		return
	}
	var f Frame
	var err error
	if b.ep != nil {
		f, err = s.decodeWire(b.ep, c, binary, data)
	} else {
		f, err = s.decode(lc, b.codec, binary, data)
	}
	if err != nil {
		var de *frame.DecodeError
		switch {
		case err == errClosedConn || err == wire.ErrIgnore:
		case errors.As(err, &de):
			c.sendError(de.ID, de.Room, CodeBadRequest, de.Error())
		default:
			c.sendError("", "", CodeBadRequest, err.Error())
		}
		return
	}
	f.From = c.id
	f.Seq = 0
	// One frame of a session at a time, across its transports, and only
	// from the current one: frames a replaced transport had not handled
	// yet are dropped (their sender resends what was not acknowledged),
	// so a resent frame never overtakes or doubles its original.
	c.handling.Lock()
	defer c.handling.Unlock()
	if c.transport() != lc {
		return
	}
	if f.IsControl() {
		s.control(c, &f)
		return
	}
	s.application(c, &f)
}

// suspends reports whether c is suspended, rather than ended, when its
// connection closes with info: by roomloop's rule (resume.Suspends) or
// its wire's.
func (s *Server) suspends(c *Conn, info CloseInfo) bool {
	switch {
	case s.opts.DisableResume:
		return false
	case c.ep == nil:
		return resume.Suspends(uint16(info.Code), info.ServerClosed)
	case c.ep.rules.EndOnClose:
		return false
	}
	return resume.Suspends(uint16(info.Code), info.ServerClosed) || c.ep.rules.SuspendOnClose && info.PeerClosed
}

// errClosedConn: decode closed the connection; nothing to answer.
var errClosedConn = errors.New("connection closed")

// decode reads a message of roomloop's own protocol in codec; a message
// of the wrong type closes the connection with 1003.
func (s *Server) decode(lc *loop.Conn, codec frame.Codec, binary bool, data []byte) (Frame, error) {
	if binary != codec.Binary() {
		lc.Close(uint16(CloseUnsupportedData), "wrong message type for "+codec.Name())
		return Frame{}, errClosedConn
	}
	return codec.Decode(data, s.opts.Limits)
}

// Closed suspends the session if its connection dropped (no close
// handshake, 1001 drain, 4002 slow consumer) and resumption is on, and
// ends it otherwise. A connection replaced by a resume changes nothing.
func (t *transport) Closed(lc *loop.Conn, li loop.CloseInfo) {
	s := (*Server)(t)
	info := closeInfo(li)
	c := lc.Value().(*binding).sess
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.lc != lc {
		c.mu.Unlock()
		return
	}
	c.lc = nil
	c.stream.Detach(lc)
	if c.gone { // ended while this connection closed
		moving := c.moving // its stream is being handed over
		c.mu.Unlock()
		if !moving {
			c.stream.End()
		}
		return
	}
	if !s.suspends(c, info) {
		c.mu.Unlock()
		s.endSession(c, info)
		return
	}
	c.suspended = suspendedNow()
	s.sess.Suspend(c)
	c.mu.Unlock()
	if s.opts.OnSuspend != nil {
		s.opts.OnSuspend(c, info)
	}
}

// pickCodec chooses the first offered subprotocol roomloop speaks; no
// offer means JSON without echo.
func pickCodec(offered []string) (frame.Codec, bool, error) {
	if len(offered) == 0 {
		return frame.JSON, false, nil
	}
	for _, p := range offered {
		if c, ok := frame.ByName(p); ok {
			return c, true, nil
		}
	}
	return nil, false, &loop.HTTPError{Status: http.StatusBadRequest,
		Reason: "no supported subprotocol offered; roomloop speaks roomloop.json and roomloop.bin"}
}
