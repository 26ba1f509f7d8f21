package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
	"github.com/roomloop/roomloop/resume"
	"github.com/roomloop/roomloop/wire"
)

// Endpoint mounts another wire protocol (see package wire) on a URL
// path, or a subprotocol, or both: upgrade requests for Path, and those
// elsewhere that offer Subprotocol first among the subprotocols the
// server speaks, speak Wire, in the same rooms and sessions as roomloop's
// own clients. The path is matched on the request, also when the Server
// is mounted with ServeHTTP (where a subprotocol is the way to pick a
// wire on the router's one path).
type Endpoint struct {
	// Path is the URL path, such as "/wspulse"; "" with a Subprotocol.
	Path string
	// Subprotocol, when set, selects the wire on any other path too; the
	// server echoes it. "" for clients that offer none (most legacy ones).
	Subprotocol string
	// Wire is the protocol spoken there.
	Wire wire.Wire
}

// maxEndpoints is how many wires a server speaks besides roomloop's two:
// each has a slot in every frame's cache of encodings.
const maxEndpoints = frame.MaxCodecs - 2

// endpoint is an Endpoint as the server runs it. It is immutable.
type endpoint struct {
	path  string
	wire  wire.Wire
	rules wire.Rules
	codec *wireCodec
}

// endpoints are a server's other wires, by path and by subprotocol.
type endpoints struct {
	byPath, byProtocol map[string]*endpoint
}

// buildEndpoints numbers the endpoints' codecs after roomloop's two.
func buildEndpoints(eps []Endpoint) endpoints {
	m := endpoints{byPath: map[string]*endpoint{}, byProtocol: map[string]*endpoint{}}
	for i, e := range eps {
		ep := &endpoint{path: e.Path, wire: e.Wire, rules: e.Wire.Rules(),
			codec: &wireCodec{w: e.Wire, id: 2 + i}}
		if e.Path != "" {
			m.byPath[e.Path] = ep
		}
		if e.Subprotocol != "" {
			m.byProtocol[e.Subprotocol] = ep
		}
	}
	return m
}

// pick returns the wire of an upgrade request for path offering
// protocols: the path's, else the first offered subprotocol's, with the
// subprotocol to echo. nil means roomloop's own: on Options.Path with
// no wire's subprotocol offered before one of roomloop's.
func (m endpoints) pick(path string, protocols []string) (*endpoint, string) {
	if ep := m.byPath[path]; ep != nil {
		return ep, ""
	}
	for _, p := range protocols {
		if _, ok := frame.ByName(p); ok {
			return nil, ""
		}
		if ep := m.byProtocol[p]; ep != nil {
			return ep, p
		}
	}
	return nil, ""
}

// validateEndpoints reports the first mistake in eps, or nil.
func validateEndpoints(path string, eps []Endpoint) error {
	if path == "" {
		path = loop.DefaultPath
	}
	if len(eps) > maxEndpoints {
		return fmt.Errorf("roomloop: %d Endpoints, at most %d", len(eps), maxEndpoints)
	}
	seen := map[string]bool{path: true}
	protocols := map[string]bool{}
	for _, e := range eps {
		_, ours := frame.ByName(e.Subprotocol)
		switch {
		case e.Path == "" && e.Subprotocol == "":
			return errors.New("roomloop: an Endpoint needs a Path or a Subprotocol")
		case e.Path != "" && !strings.HasPrefix(e.Path, "/"):
			return fmt.Errorf("roomloop: Endpoint path %q must start with /", e.Path)
		case e.Path != "" && seen[e.Path]:
			return fmt.Errorf("roomloop: Endpoint path %q is used twice (Options.Path included)", e.Path)
		case ours || protocols[e.Subprotocol]:
			return fmt.Errorf("roomloop: Endpoint subprotocol %q is taken", e.Subprotocol)
		case e.Wire == nil:
			return fmt.Errorf("roomloop: Endpoint %q has no Wire", e.Path+e.Subprotocol)
		}
		seen[e.Path] = e.Path != ""
		protocols[e.Subprotocol] = e.Subprotocol != ""
	}
	return nil
}

// endpointPaths returns the paths the loop accepts upgrades on besides
// Options.Path.
func endpointPaths(eps []Endpoint) []string {
	var paths []string
	for _, e := range eps {
		if e.Path != "" {
			paths = append(paths, e.Path)
		}
	}
	return paths
}

// wireCodec is a wire as the streams see it: a frame.Framed codec whose
// body of a frame is the wire's messages for it, encoded once per frame.
type wireCodec struct {
	w  wire.Wire
	id int
}

func (c *wireCodec) Name() string { return c.w.Name() }
func (c *wireCodec) Binary() bool { return false } // unused: its bodies are framed
func (c *wireCodec) ID() int      { return c.id }
func (c *wireCodec) Framed()      {}

// Decode is unused: the server calls the wire's own, with its peer.
func (c *wireCodec) Decode([]byte, frame.Limits) (frame.Frame, error) {
	return frame.Frame{}, errors.New("roomloop: a wire decodes with its peer")
}

func (c *wireCodec) AppendBody(dst []byte, f *frame.Frame) []byte { return c.w.Encode(dst, f) }
func (c *wireCodec) MessageLen(_ uint64, body []byte) int         { return len(body) }
func (c *wireCodec) AppendMessage(dst []byte, _ uint64, body []byte) []byte {
	return append(dst, body...)
}

// upgradeWire is Upgrade for an Endpoint: Authorize, then the wire's
// Connect, then what the wire's rules say of a session id in use.
func (s *Server) upgradeWire(lc *loop.Conn, r *http.Request, ep *endpoint) error {
	b := &handshake{binding: binding{codec: ep.codec, ep: ep}}
	if err := s.authorize(lc, r, b); err != nil {
		return err
	}
	hello, err := ep.wire.Connect(r)
	if err != nil {
		var ref *wire.Refusal
		if errors.As(err, &ref) {
			return &loop.HTTPError{Status: ref.Status, Reason: ref.Reason}
		}
		return &loop.HTTPError{Status: http.StatusUnauthorized, Reason: err.Error()}
	}
	id := &b.identity
	if id.SessionID == "" {
		id.SessionID = hello.SessionID
	}
	if len(id.Rooms) == 0 {
		id.Rooms = hello.Rooms
	}
	if err := s.checkSessionID(id.SessionID); err != nil {
		return err
	}
	for _, room := range id.Rooms {
		if err := s.opts.Limits.CheckRoom(room); err != nil {
			return &loop.HTTPError{Status: http.StatusBadRequest, Reason: err.Error()}
		}
	}
	if id.SessionID != "" {
		if err := s.claimSessionID(b); err != nil {
			return err
		}
	}
	lc.SetValue(b)
	return nil
}

// checkSessionID refuses a session id a client asked for that roomloop
// clients could not address (To): too long, not UTF-8, control
// characters.
func (s *Server) checkSessionID(id string) error {
	bad := len(id) > s.opts.Limits.MaxTo || !utf8.ValidString(id) ||
		strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) })
	if bad {
		return &loop.HTTPError{Status: http.StatusBadRequest,
			Reason: fmt.Sprintf("invalid session id: at most %d bytes of UTF-8 without control characters", s.opts.Limits.MaxTo)}
	}
	return nil
}

// claimSessionID applies the wire's rules to a session id in use by a
// session of the same wire and user: it is resumed (ResumeByID), even
// while still connected (a link the server has not found dead yet: its
// connection is closed), or replaced (ReplaceConnected, or suspended), or
// the request refused. A session of another wire or user is never
// touched.
func (s *Server) claimSessionID(b *handshake) error {
	ep := b.ep
	old, ok := s.sess.Get(b.identity.SessionID)
	if !ok {
		return nil
	}
	if old.ep != ep || old.user != b.identity.User {
		return &loop.HTTPError{Status: http.StatusConflict, Reason: "session id in use"}
	}
	switch {
	case ep.rules.ResumeByID && !s.opts.DisableResume:
		b.target, b.lastSeq = old, resume.FromOldest
	case old.Connected() && !ep.rules.ReplaceConnected:
		return &loop.HTTPError{Status: http.StatusConflict, Reason: "session id already connected"}
	default:
		s.endSession(old, CloseInfo{Code: CloseNormal, Reason: "replaced by a new session", ServerClosed: true})
	}
	return nil
}

// decodeWire reads a client message of ep's wire from c and checks it
// as roomloop's own codecs check theirs: the limits and field rules, and
// no control event but $join and $leave.
func (s *Server) decodeWire(ep *endpoint, c *Conn, binary bool, data []byte) (Frame, error) {
	f, err := ep.wire.Decode(data, binary, c)
	if err != nil {
		return Frame{}, err
	}
	if err := s.opts.Limits.Check(&f); err != nil {
		return Frame{}, err
	}
	if f.IsControl() && f.Event != evJoin && f.Event != evLeave {
		return Frame{}, fmt.Errorf("event %q is reserved", f.Event)
	}
	if err := f.Check(); err != nil {
		return Frame{}, err
	}
	return f, nil
}

// closeFor returns the close code and reason that end c's connection
// for info: on a wire with Rules.CloseNormally, 1000 and no reason.
func (c *Conn) closeFor(info CloseInfo) (uint16, string) {
	if c.ep != nil && c.ep.rules.CloseNormally {
		return uint16(CloseNormal), ""
	}
	return wireCode(info.Code), info.Reason
}
