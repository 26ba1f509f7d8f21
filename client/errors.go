package client

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/roomloop/roomloop/frame"
)

// Error codes. The server's, in $error frames, and the client's own.
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

	// CodeClosed: the client was closed before an answer came.
	CodeClosed = "closed"
	// CodeBufferFull: the send buffer is full; nothing was queued.
	CodeBufferFull = "buffer_full"
	// CodeSessionLost: the frame was sent, then the server could not
	// resume the session; whether it was applied is unknown.
	CodeSessionLost = "session_lost"
)

// Error is a refused frame ($error from the server) or one of the client's
// own failures, told apart by Code. errors.Is matches an *Error by code, so
// errors.Is(err, client.ErrBufferFull) works for every buffer_full error.
type Error struct {
	// Code is one of the Code constants.
	Code string
	// Message explains the error.
	Message string
	// Room and ID are the refused frame's, when the server echoed them.
	Room, ID string
}

// Error returns "roomloop: CODE: MESSAGE".
func (e *Error) Error() string {
	if e.Message == "" {
		return "roomloop: " + e.Code
	}
	return "roomloop: " + e.Code + ": " + e.Message
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// The client's own errors, for errors.Is.
var (
	ErrClosed      = &Error{Code: CodeClosed, Message: "the client is closed"}
	ErrBufferFull  = &Error{Code: CodeBufferFull, Message: "the send buffer is full"}
	ErrSessionLost = &Error{Code: CodeSessionLost, Message: "the session was not resumed; the frame may or may not have been applied"}
)

// RefusedError is a connection attempt the server answered with an HTTP
// status instead of an upgrade.
type RefusedError struct {
	// Status is the HTTP status code.
	Status int
	// Reason is the start of the response body: the server's plain-text
	// reason.
	Reason string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// Error returns "roomloop: upgrade refused: STATUS REASON".
func (e *RefusedError) Error() string {
	return "roomloop: upgrade refused: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// Final reports whether retrying cannot cure the refusal: every 4xx but
// 408, 409 and 429. A 409 (the session id is still connected) clears
// once the server notices the old connection is gone.
func (e *RefusedError) Final() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return false
	}
	return e.Status >= 400 && e.Status < 500
}

// CloseError is a connection the server closed with a close frame.
type CloseError struct {
	// Code is the WebSocket close code (docs/protocol.md, "Closing").
	Code int
	// Reason is the close frame's reason text.
	Reason string
}

// Error returns "roomloop: closed by the server: CODE REASON".
func (e *CloseError) Error() string {
	return "roomloop: closed by the server: " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Final reports whether the client must not reconnect after this close:
// 1000 (normal), 4001 (kicked) and 4003 (the session was resumed on
// another connection).
func (e *CloseError) Final() bool {
	return e.Code == 1000 || e.Code == 4001 || e.Code == 4003
}

// ProtocolError is something the server sent that breaks the protocol: a
// message the client cannot decode, a seq out of order, an unknown control
// event. The client reports it to OnError and recovers as docs/clients.md
// says ("Misbehaving servers").
type ProtocolError struct {
	// Problem says what was wrong.
	Problem string
	// Seq is the frame's seq, when it had one.
	Seq uint64
	// Err is the decoding error, when there is one.
	Err error
}

// Error returns "roomloop: protocol error: PROBLEM".
func (e *ProtocolError) Error() string {
	s := "roomloop: protocol error: " + e.Problem
	if e.Seq != 0 {
		s += fmt.Sprintf(" (seq %d)", e.Seq)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the decoding error, if any.
func (e *ProtocolError) Unwrap() error { return e.Err }

// errDeadLink is the cause of a drop by the liveness check.
var errDeadLink = errors.New("roomloop: no answer from the server to a probe: the link is dead")
