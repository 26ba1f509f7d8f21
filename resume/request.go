package resume

import (
	"net/url"
	"strconv"
)

// Reasons a resume is refused (the "reason" of a $welcome with
// "resumed":false).
const (
	ReasonUnknown = "unknown" // no such session, or the token does not match
	ReasonExpired = "expired" // the session ended: window passed, kicked or closed
	ReasonGap     = "gap"     // a frame after last_seq is no longer held
	ReasonInvalid = "invalid" // last_seq is malformed or above the session's highest seq
)

// Request is a client's resume request: /ws?resume=<token>&last_seq=<n>.
type Request struct {
	Token   string
	LastSeq uint64
	// Invalid is set when last_seq is missing or not a decimal uint64;
	// such a request is refused with ReasonInvalid.
	Invalid bool
}

// ParseRequest reads the resume parameters of an upgrade URL's query. It
// returns false when the client did not ask to resume.
func ParseRequest(q url.Values) (Request, bool) {
	token := q.Get("resume")
	if token == "" {
		return Request{}, false
	}
	r := Request{Token: token}
	n, err := strconv.ParseUint(q.Get("last_seq"), 10, 64)
	if err != nil {
		r.Invalid = true
	}
	r.LastSeq = n
	return r, true
}
