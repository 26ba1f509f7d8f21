package client

import "time"

// State is where a client stands; docs/clients.md, "States".
type State int

// The states, in the order a client usually passes through them.
const (
	// Connecting: opening a connection for a new session.
	Connecting State = iota
	// Connected: a new session is up; after a reconnect, with a Gap.
	Connected
	// Resuming: reconnecting with the resume token.
	Resuming
	// Resumed: the same session is back, missed frames follow.
	Resumed
	// Disconnected: the connection is gone and a retry is scheduled.
	Disconnected
	// Closed: final.
	Closed
)

// String returns the state's name as docs/clients.md writes it.
func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Connected:
		return "connected"
	case Resuming:
		return "resuming"
	case Resumed:
		return "resumed"
	case Disconnected:
		return "disconnected"
	case Closed:
		return "closed"
	}
	return "unknown"
}

// StateChange reports a new state and why.
type StateChange struct {
	// State is the new state.
	State State
	// Err is why the client is Disconnected or Closed (the drop, the
	// refusal, ErrClosed after Close); nil otherwise.
	Err error
	// RetryIn is how long until the next attempt, when Disconnected.
	RetryIn time.Duration
	// Gap is set when Connected after the server could not resume the
	// session.
	Gap *Gap
}

// Gap reports that the server could not resume the session: frames were
// missed. The client has a new session, is rejoining its rooms, and has
// failed the Lost unanswered frames with ErrSessionLost. An application
// that keeps state built from messages should refetch it.
type Gap struct {
	// Reason is the server's: "unknown", "expired", "gap" or "invalid",
	// or "no_resume" when the server has resumption off.
	Reason string
	// OldSession and Session are the lost session's id and the new one's.
	OldSession, Session string
	// Lost is how many sent frames were failed with ErrSessionLost.
	Lost int
}
