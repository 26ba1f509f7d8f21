// Package wire lets a roomloop server speak wire protocols besides its
// own: an embedder mounts a Wire on a URL path or a subprotocol
// (api.Options.Endpoints), and clients of that protocol join the same rooms, sessions and
// fan-out as roomloop's own clients.
//
// A Wire decides only what is on the wire: how a connect request names
// the session and its rooms, how a client message reads as a frame
// (joins and leaves included, as the control frames $join and $leave),
// and how a server frame is written (presence, errors and
// acknowledgements included, or left out). Everything else stays the
// server's, the same for every wire: rooms and their one order, sessions
// and resumption, rate limits, queues, size limits, heartbeats, and the
// answers to hostile input.
//
// Concurrency: a Wire is shared by every connection of its endpoint and
// called from many goroutines at once; its methods must be safe for
// concurrent use, and should keep no per-connection state (what a wire
// needs of a session it reads from the Peer it is given).
//
// The wires roomloop bundles live in the packages below this one
// (wire/wsrooms, wire/wspulse).
package wire

import (
	"errors"
	"net/http"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
)

// Wire is one wire protocol.
type Wire interface {
	// Name names the wire in logs and errors ("wspulse").
	Name() string
	// Rules returns the wire's session rules. The server reads them once,
	// when it is created.
	Rules() Rules
	// Connect reads a connect request (before the upgrade): the session
	// id the client asks for and the rooms it joins. A Hello field left
	// empty is the server's to choose (a random id; no rooms), and the
	// identity Authorize returns, when it names a session id or rooms,
	// takes precedence. An error refuses the upgrade: a *Refusal with its
	// status, anything else with 401 and the error's text.
	Connect(r *http.Request) (Hello, error)
	// Decode reads one client message (binary tells its WebSocket type)
	// from peer as a frame. An application frame names its room (a wire
	// without rooms on the wire uses the peer's), or the session it goes
	// to (To); a join or leave is the control frame $join or $leave with
	// the room. Decode must not return any other control event, must
	// not alias msg, and reports input it refuses with an error (the
	// client gets the wire's form of a bad_request $error) or ErrIgnore
	// (nothing happens).
	Decode(msg []byte, binary bool, peer Peer) (frame.Frame, error)
	// Encode appends f, a frame for one client, as zero or more complete
	// WebSocket messages (see AppendMessage): a frame the wire has no
	// form for appends nothing. The result is shared by every client of
	// the wire that gets f, so Encode must depend on f alone. Presence
	// comes as the $presence control frame (a frame.PresencePayload of
	// the session ids that joined and left f.Room), which a wire may
	// expand into one event per member; $joined and $left carry the
	// joining or leaving session's id in f.Ref.
	Encode(dst []byte, f *frame.Frame) []byte
}

// Hello is what a connect request asks for.
type Hello struct {
	// SessionID is the session the client asks for; "" lets the server
	// choose. With Rules.ResumeByID, the id of a suspended session of the
	// same wire resumes it.
	SessionID string
	// Rooms are the rooms the session joins at connect, in order.
	Rooms []string
}

// Rules are a wire's session rules.
type Rules struct {
	// EchoSender: a client's room frame, routed by default (no handler
	// for its event), reaches the sender too. Otherwise it reaches the
	// other members only.
	EchoSender bool
	// ResumeByID: a connect asking for the id of a session of this wire
	// and of the same authenticated user resumes it, replaying every
	// frame the client has not confirmed (at least once: the client sends
	// no seq). That holds for a session still connected too (a link the
	// server has not found dead yet, or a second client with the same
	// id): its connection is closed.
	ResumeByID bool
	// ReplaceConnected, without ResumeByID: a connect asking for the id
	// of a connected session of this wire and user ends that session and
	// starts a new one. Otherwise it is refused with 409. (A suspended
	// session is always replaced.)
	ReplaceConnected bool
	// SuspendOnClose: a connection the client closed cleanly suspends its
	// session too (the client may come back within the resume window),
	// rather than ending it.
	SuspendOnClose bool
	// EndOnClose: a session ends when its connection closes, however it
	// closes (its rooms hear at once that it left): the wire's clients
	// never come back to resume. It overrides SuspendOnClose.
	EndOnClose bool
	// CloseNormally: a connection whose session the server ends (a
	// kick, a duplicate id) is closed with 1000 and an empty reason,
	// whatever the cause. Protocol closes keep their codes (1009 for an
	// oversize message, 1008 for a policy).
	CloseNormally bool
}

// Peer is the session a client message comes from.
type Peer interface {
	// ID returns the session id.
	ID() string
	// Rooms returns the rooms the session is in, in the order it joined.
	Rooms() []string
}

// ErrIgnore, from Decode, drops a client message without an answer.
var ErrIgnore = errors.New("wire: message ignored")

// Refusal refuses a connect request with an HTTP status and a plain-text
// reason.
type Refusal struct {
	Status int
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// AppendMessage appends payload as one unmasked server→client WebSocket
// message: binary or text.
func AppendMessage(dst []byte, binary bool, payload []byte) []byte {
	dst = loop.AppendHeader(dst, binary, len(payload))
	return append(dst, payload...)
}
