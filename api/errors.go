package api

import (
	"errors"
	"net/http"

	"github.com/roomloop/roomloop/frame"
)

// Error codes of $error frames (docs/protocol.md, Errors).
const (
	CodeBadRequest    = frame.CodeBadRequest
	CodeForbidden     = frame.CodeForbidden
	CodeNotMember     = frame.CodeNotMember
	CodeNoSuchSession = frame.CodeNoSuchSession
	CodeTooManyRooms  = frame.CodeTooManyRooms
	CodeRateLimited   = frame.CodeRateLimited
	CodeDropped       = frame.CodeDropped
	CodeInternal      = frame.CodeInternal
	CodeUnauthorized  = frame.CodeUnauthorized
)

// Sentinel errors of the server-side API.
var (
	// ErrNoSuchSession: no connected session has that id.
	ErrNoSuchSession = errors.New("roomloop: no such session")
	// ErrNotMember: the session is not in that room.
	ErrNotMember = errors.New("roomloop: not a member of the room")
	// ErrTooManyRooms: the session's or the server's room cap is reached.
	ErrTooManyRooms = errors.New("roomloop: too many rooms")
	// ErrInvalidRoom: the room name is empty or breaks the field rules.
	ErrInvalidRoom = errors.New("roomloop: invalid room name")
	// ErrClosed: the connection is closing or closed.
	ErrClosed = errors.New("roomloop: connection closed")
	// ErrSlowConsumer: the client's queue was full; it is being
	// disconnected with 4002.
	ErrSlowConsumer = errors.New("roomloop: slow consumer disconnected")
	// ErrDropped: the client's queue was full; the frame was dropped and
	// the client notified.
	ErrDropped = errors.New("roomloop: frame dropped for a slow consumer")
	// ErrInvalidFrame: a frame given to Send or Broadcast has no event,
	// or its payload disagrees with its Kind (a payload without a kind,
	// or a JSONPayload that is not JSON). The error wraps the reason.
	ErrInvalidFrame = errors.New("roomloop: invalid frame")
	// ErrServerClosed: the server has been shut down (Serve returns it
	// after Shutdown, Start after Shutdown).
	ErrServerClosed = errors.New("roomloop: server closed")
	// ErrIncomplete: a call that asks every node of a cluster (SendUser,
	// KickUser) did not hear from some of them in time; the count that
	// comes with it is of what the others did.
	ErrIncomplete = errors.New("roomloop: some nodes of the cluster did not answer")
)

// Error is a refusal that a handler or CanJoin returns to answer the
// client with a specific $error code and message.
//
// The rule for what reaches a client: only an *Error's code and message
// (from a handler or CanJoin) and a *Refusal's status and reason (from
// Authorize) are sent. Any other error is logged and the client gets a
// fixed text: "internal" from a handler, "forbidden" from CanJoin, 401
// "unauthorized" from Authorize. So an error that wraps a database error
// never leaks its text.
type Error struct {
	Code    string
	Message string
}

// Error returns "code: message".
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewError returns an *Error with code and message.
func NewError(code, message string) *Error { return &Error{Code: code, Message: message} }

// Refusal is an HTTP refusal from Authorize, written before the upgrade.
type Refusal struct {
	Status int    // 401 or 403 (any 4xx or 5xx is sent as given)
	Reason string // plain-text body
}

// Error returns the reason.
func (r *Refusal) Error() string { return r.Reason }

// Unauthorized returns a 401 refusal.
func Unauthorized(reason string) *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Reason: reason}
}

// Forbidden returns a 403 refusal.
func Forbidden(reason string) *Refusal {
	return &Refusal{Status: http.StatusForbidden, Reason: reason}
}
