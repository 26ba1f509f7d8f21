package wsproto

import (
	"net/http"
	"strconv"
)

// HTTPError is a refusal before upgrade: status, a plain-text reason (the
// body), and extra headers. Write it with [AppendHTTPError].
type HTTPError struct {
	Status int
	Reason string
	Header http.Header
}

// Error returns "wsproto: HTTP <status> <text>: <reason>".
func (e *HTTPError) Error() string {
	return "wsproto: HTTP " + strconv.Itoa(e.Status) + " " + http.StatusText(e.Status) + ": " + e.Reason
}

// httpError returns an *HTTPError without extra headers.
func httpError(status int, reason string) *HTTPError {
	return &HTTPError{Status: status, Reason: reason}
}

// Close codes of RFC 6455 section 7.4.1 used by this package. They are
// untyped so that they work as uint16 (CloseError.Code) and as int.
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	closeNoStatus        = 1005
	CloseInvalidPayload  = 1007
	ClosePolicy          = 1008
	CloseTooBig          = 1009
	CloseInternal        = 1011
)

// CloseError is a protocol failure the server must answer with a close
// frame of Code (see [AppendClose]) before closing the connection.
type CloseError struct {
	Code   uint16
	Reason string
}

// Error returns "wsproto: close <code>: <reason>".
func (e *CloseError) Error() string {
	return "wsproto: close " + strconv.Itoa(int(e.Code)) + ": " + e.Reason
}

// closeError returns a *CloseError; each call allocates a fresh value so
// that no error is shared between connections.
func closeError(code uint16, reason string) *CloseError {
	return &CloseError{Code: code, Reason: reason}
}

// validCloseCode reports whether a peer may send code in a close frame:
// 1000-1003, 1007-1011 and 3000-4999.
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1011:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
