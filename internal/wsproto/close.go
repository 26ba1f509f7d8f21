package wsproto

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// maxCloseReason is the most reason bytes a close frame can carry.
const maxCloseReason = maxControlPayload - 2

// checkClose validates a received close payload: empty, or a valid code
// (1000-1003, 1007-1011, 3000-4999) and a UTF-8 reason.
func checkClose(pl []byte) *CloseError {
	switch {
	case len(pl) == 0:
		return nil
	case len(pl) == 1:
		return closeError(CloseProtocolError, "close payload of 1 byte")
	case !validCloseCode(binary.BigEndian.Uint16(pl)):
		return closeError(CloseProtocolError, "invalid close code")
	case !utf8.Valid(pl[2:]):
		return closeError(CloseInvalidPayload, "invalid UTF-8 in close reason")
	}
	return nil
}

// ParseClose returns the code and reason of a validated close payload (as
// delivered to Handler.OnControl): code 1005 ("no status") and "" if it is
// empty. It is safe for concurrent use.
func ParseClose(payload []byte) (code uint16, reason string) {
	if len(payload) < 2 {
		return closeNoStatus, ""
	}
	return binary.BigEndian.Uint16(payload), string(payload[2:])
}

// AppendClose appends a complete (unmasked, server) close frame with code
// and reason. The reason is made valid UTF-8 (invalid bytes become U+FFFD)
// and truncated at a code point boundary to fit 123 bytes. Code 0 or 1005
// (no status, which RFC 6455 forbids on the wire) gives an empty payload,
// reason dropped: the reply to a close frame that carried no code. It is
// safe for concurrent use.
func AppendClose(dst []byte, code uint16, reason string) []byte {
	if code == 0 || code == closeNoStatus {
		return AppendHeader(dst, OpClose, 0)
	}
	if !utf8.ValidString(reason) {
		reason = strings.ToValidUTF8(reason, "\uFFFD")
	}
	if len(reason) > maxCloseReason {
		cut := maxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = AppendHeader(dst, OpClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}
