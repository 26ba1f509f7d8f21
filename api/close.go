package api

import (
	"strconv"

	"github.com/roomloop/roomloop/loop"
)

// CloseCode is a WebSocket close code (RFC 6455 section 7.4): the codes
// roomloop's server sends, and the ones it reports in CloseInfo. The
// meaning of each is in docs/protocol.md, "Closing".
type CloseCode uint16

// Close codes.
const (
	CloseNormal          CloseCode = 1000 // a close handshake; a session ended on request
	CloseGoingAway       CloseCode = 1001 // server shutdown (the session is suspended)
	CloseProtocolError   CloseCode = 1002 // a WebSocket protocol error
	CloseUnsupportedData CloseCode = 1003 // a binary message on a text codec, or the reverse
	CloseNoStatus        CloseCode = 1005 // reported only: a close frame without a code
	CloseAbnormal        CloseCode = 1006 // reported only: the connection dropped without a close frame
	CloseInvalidPayload  CloseCode = 1007 // invalid UTF-8
	ClosePolicy          CloseCode = 1008 // a policy: message deadline, rate limits, waiting messages not handled in time
	CloseTooBig          CloseCode = 1009 // a message over the size or frame-count limit
	CloseKicked          CloseCode = 4001 // Kick; the session cannot be resumed
	CloseSlowConsumer    CloseCode = 4002 // the client's queue was full (the session is suspended)
	CloseReplaced        CloseCode = 4003 // the session resumed on another connection
	CloseTokenExpired    CloseCode = 4004 // Identity.Expires passed (the session is suspended)
)

var closeNames = map[CloseCode]string{
	CloseNormal: "normal", CloseGoingAway: "going away", CloseProtocolError: "protocol error",
	CloseUnsupportedData: "unsupported data", CloseNoStatus: "no status", CloseAbnormal: "abnormal",
	CloseInvalidPayload: "invalid payload", ClosePolicy: "policy", CloseTooBig: "too big",
	CloseKicked: "kicked", CloseSlowConsumer: "slow consumer", CloseReplaced: "replaced",
	CloseTokenExpired: "token expired",
}

// String returns the code and its name, e.g. "4001 (kicked)".
func (c CloseCode) String() string {
	s := strconv.Itoa(int(c))
	if name, ok := closeNames[c]; ok {
		return s + " (" + name + ")"
	}
	return s
}

// CloseInfo says how a session's connection ended (see OnDisconnect and
// OnSuspend).
type CloseInfo struct {
	// Code and Reason are those of the close frame that ended the
	// connection: the client's when PeerClosed, else the server's;
	// CloseAbnormal (1006) when it dropped without a close frame.
	Code   CloseCode
	Reason string
	// PeerClosed is true when the client started the close handshake.
	PeerClosed bool
	// ServerClosed is true when the server sent a close frame first.
	ServerClosed bool
}

// closeInfo converts the transport's CloseInfo.
func closeInfo(i loop.CloseInfo) CloseInfo {
	return CloseInfo{Code: CloseCode(i.Code), Reason: i.Reason, PeerClosed: i.PeerClosed, ServerClosed: i.ServerClosed}
}

// wireCode is a close code that may be sent: 1005 and 1006 only describe
// closes, so a session ended for such a reason is closed with 1000.
func wireCode(code CloseCode) uint16 {
	if code == CloseAbnormal || code == CloseNoStatus || code == 0 {
		return uint16(CloseNormal)
	}
	return uint16(code)
}
