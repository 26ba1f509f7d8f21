package frame

// The payloads of the reserved events, as docs/protocol.md specifies them.
// A server marshals them with encoding/json (control payloads are JSON text
// in both codecs); clients and tests unmarshal them. The JSON member names
// are the wire's, and the field order is the order the server writes.

// WelcomePayload is the payload of $welcome, a connection's first frame
// (docs/protocol.md, "Connecting" and "Resuming").
type WelcomePayload struct {
	// Session is the client's public session id: others see it in from
	// and in presence events.
	Session string `json:"session"`
	// Resume is the secret token that resumes this session: the session
	// id, a dot and 128 random bits, the same for the session's life. ""
	// with resumption off.
	Resume string `json:"resume"`
	// ResumeWindowMS is how long, in milliseconds, the session waits for
	// a resume after a drop. 0 with resumption off.
	ResumeWindowMS int64 `json:"resume_window_ms"`
	// HeartbeatMS is the server's ping interval, in milliseconds.
	HeartbeatMS int64 `json:"heartbeat_ms"`
	// HeartbeatTimeoutMS is how long, in milliseconds, the server waits
	// for any frame from the client before dropping it.
	HeartbeatTimeoutMS int64 `json:"heartbeat_timeout_ms"`
	// Resumed reports whether a requested resume took: the same session
	// and token, and the frames after the client's last_seq follow.
	Resumed bool `json:"resumed"`
	// LastSeq is the highest seq assigned in the session so far.
	LastSeq uint64 `json:"last_seq"`
	// Reason says why a requested resume was refused: "unknown",
	// "expired", "gap" or "invalid". Absent when none was refused.
	Reason string `json:"reason,omitempty"`
	// ExpiresInMS is how long, in milliseconds, until the credential the
	// connection was admitted with expires; absent when it never does.
	// Before then the client sends $refresh with a fresh one, or is
	// closed with 4004 (docs/protocol.md, "Credential expiry").
	ExpiresInMS int64 `json:"expires_in_ms,omitempty"`
}

// RefreshPayload is the payload of the client's $refresh: a fresh
// credential for the session (docs/protocol.md, "Credential expiry").
type RefreshPayload struct {
	Token string `json:"token"`
}

// RefreshedPayload is the payload of $refreshed, the answer to an
// accepted $refresh.
type RefreshedPayload struct {
	// ExpiresInMS is how long, in milliseconds, until the session's
	// credential now expires; 0 when it never does.
	ExpiresInMS int64 `json:"expires_in_ms"`
}

// JoinedPayload is the payload of $joined, the answer to $join and the
// announcement of each room granted at connect.
type JoinedPayload struct {
	// Count is how many members the room has, the joiner included.
	Count int `json:"count"`
	// Members lists the members' session ids, up to the server's bound.
	Members []string `json:"members"`
	// Truncated reports whether Members lists fewer than Count.
	Truncated bool `json:"truncated"`
}

// LeftPayload is the payload of $left, the answer to $leave.
type LeftPayload struct {
	// Reason is why the client is no longer a member: "left" after $leave.
	Reason string `json:"reason"`
}

// PresencePayload is the payload of $presence: a room's membership
// changes that its recipient has not seen yet, summed up per session
// (docs/protocol.md, "Presence"). A session is in at most one of the two
// lists, and never the recipient itself. Both lists are always present,
// possibly empty.
type PresencePayload struct {
	// Joined lists the session ids that are now members and were not.
	Joined []string `json:"joined"`
	// Left lists the session ids that were members and are no longer.
	Left []string `json:"left"`
}

// SeenPayload is the payload of the client's $seen: the server may free
// its replay buffer up to Seq. It has no answer.
type SeenPayload struct {
	// Seq is the highest seq the client has processed.
	Seq uint64 `json:"seq"`
}

// The codes of $error frames (docs/protocol.md, "Errors").
const (
	CodeBadRequest    = "bad_request"
	CodeForbidden     = "forbidden"
	CodeNotMember     = "not_member"
	CodeNoSuchSession = "no_such_session"
	CodeTooManyRooms  = "too_many_rooms"
	CodeRateLimited   = "rate_limited"
	CodeDropped       = "dropped"
	CodeInternal      = "internal"
	CodeUnauthorized  = "unauthorized"
)

// ErrorPayload is the payload of $error, the answer to a refused client
// frame (docs/protocol.md, "Errors").
type ErrorPayload struct {
	// Code is one of the Code constants.
	Code string `json:"code"`
	// Message is a human-readable explanation.
	Message string `json:"message"`
}

// DroppedPayload is the payload of the $error a client gets under the drop
// policy when frames were not queued for it (docs/protocol.md, "Slow
// consumers"): Code "dropped", and the count and rooms of the frames
// dropped since the last notice.
type DroppedPayload struct {
	ErrorPayload
	// Count is how many frames were dropped.
	Count int `json:"count"`
	// Rooms lists the rooms of the dropped frames, up to a bound (null
	// when all were direct messages).
	Rooms []string `json:"rooms"`
}
