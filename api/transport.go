package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wsproto"
	"github.com/roomloop/roomloop/loop"
)

// transport is the Server as the loop sees it (loop.Handler).
type transport Server

// Upgrade checks the origin, picks the codec, and runs Authorize.
func (t *transport) Upgrade(lc *loop.Conn, up *wsproto.Upgrade) (frame.Codec, bool, error) {
	s := (*Server)(t)
	r := up.Request
	if !s.originAllowed(r) {
		return nil, false, &wsproto.HTTPError{Status: http.StatusForbidden, Reason: "origin not allowed"}
	}
	codec, echo, err := pickCodec(up.Protocols)
	if err != nil {
		return nil, false, err
	}
	id := Identity{}
	if s.opts.Authorize != nil {
		id, err = s.opts.Authorize(r)
		if err != nil {
			var ref *Refusal
			if errors.As(err, &ref) {
				return nil, false, &wsproto.HTTPError{Status: ref.Status, Reason: ref.Reason}
			}
			s.log.Debug("authorize refused", "remote", r.RemoteAddr, "err", err)
			return nil, false, &wsproto.HTTPError{Status: http.StatusUnauthorized, Reason: "unauthorized"}
		}
	}
	if id.SessionID == "" {
		id.SessionID = newSessionID()
	} else if _, taken := s.sess.get(id.SessionID); taken {
		return nil, false, &wsproto.HTTPError{Status: http.StatusConflict, Reason: "session id already connected"}
	}
	lc.SetValue(&Conn{srv: s, lc: lc, id: id.SessionID, claims: id.Claims, initial: id.Rooms})
	return codec, echo, nil
}

// Open greets the client: $welcome, then its initial rooms, then OnConnect.
func (t *transport) Open(lc *loop.Conn) {
	s := (*Server)(t)
	c := lc.Value().(*Conn)
	if err := lc.SendFirst(s.welcome(c)); err != nil {
		return
	}
	if !s.sess.add(c) {
		lc.Close(ClosePolicy, "session id already connected")
		return
	}
	initial := c.initial
	c.initial = nil
	for _, room := range initial {
		if err := s.join(c, room, ""); err != nil {
			s.log.Warn("initial room not joined", "session", c.id, "room", room, "err", err)
		}
	}
	if s.opts.OnConnect != nil {
		s.opts.OnConnect(c)
	}
}

// Message decodes and handles one client message.
func (t *transport) Message(lc *loop.Conn, op wsproto.Opcode, data []byte) {
	s := (*Server)(t)
	c := lc.Value().(*Conn)
	codec := lc.Codec()
	if (op == wsproto.OpBinary) != codec.Binary() {
		lc.Close(wsproto.CloseUnsupportedData, "wrong message type for "+codec.Name())
		return
	}
	f, err := codec.Decode(data, s.opts.Limits)
	if err != nil {
		var de *frame.DecodeError
		if errors.As(err, &de) {
			c.sendError(de.ID, de.Room, CodeBadRequest, de.Error())
		} else {
			c.sendError("", "", CodeBadRequest, err.Error())
		}
		return
	}
	f.From = c.id
	f.Seq = 0
	if f.IsControl() {
		s.control(c, &f)
		return
	}
	s.application(c, &f)
}

// Closed ends the session: it leaves its rooms and OnDisconnect runs.
func (t *transport) Closed(lc *loop.Conn, info loop.CloseInfo) {
	s := (*Server)(t)
	c := lc.Value().(*Conn)
	s.sess.remove(c)
	s.leaveAll(c)
	if s.opts.OnDisconnect != nil {
		s.opts.OnDisconnect(c, info)
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
	return nil, false, &wsproto.HTTPError{Status: http.StatusBadRequest,
		Reason: "no supported subprotocol offered; roomloop speaks roomloop.json and roomloop.bin"}
}

// originAllowed applies CheckOrigin, or the default: no Origin header,
// same origin as the Host, or an exact AllowedOrigins entry.
func (s *Server) originAllowed(r *http.Request) bool {
	if s.opts.CheckOrigin != nil {
		return s.opts.CheckOrigin(r)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, a := range s.opts.AllowedOrigins {
		if strings.EqualFold(a, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}
