package wsproto

import (
	"net/http"
	"slices"
	"strconv"
)

// AppendSwitching appends the "HTTP/1.1 101 Switching Protocols" response
// with Upgrade, Connection, Sec-WebSocket-Accept (computed from key), and
// Sec-WebSocket-Protocol if protocol != "". protocol should be one of
// [Upgrade.Protocols]; bytes not allowed in a header value are replaced by
// spaces. It is safe for concurrent use.
func AppendSwitching(dst []byte, key, protocol string) []byte {
	return AppendSwitchingExt(dst, key, protocol, "")
}

// AppendSwitchingExt is AppendSwitching with a Sec-WebSocket-Extensions
// header too if extensions != "" (such as [DeflateResponse]), sanitized
// the same way. It is safe for concurrent use.
func AppendSwitchingExt(dst []byte, key, protocol, extensions string) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "...)
	dst = appendAccept(dst, key)
	dst = append(dst, "\r\n"...)
	if protocol != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = appendHeaderValue(dst, protocol)
		dst = append(dst, "\r\n"...)
	}
	if extensions != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = appendHeaderValue(dst, extensions)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// AppendHTTPError appends a complete HTTP/1.1 response for e: the status
// line, "Content-Type: text/plain; charset=utf-8", Content-Length,
// "Connection: close", e.Header (sorted by key), a blank line, and
// e.Reason + "\n" as the body.
//
// Header keys that are not valid tokens, and keys Content-Type,
// Content-Length and Connection (already written), are skipped; control
// bytes in values (CR and LF included) are replaced by spaces, so e.Header
// cannot inject lines. A status outside 100-999 is written as 500. It is
// safe for concurrent use.
func AppendHTTPError(dst []byte, e *HTTPError) []byte {
	status := e.Status
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Error"
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, text...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.Reason)+1), 10)
	dst = append(dst, "\r\nConnection: close\r\n"...)
	if len(e.Header) > 0 {
		keys := make([]string, 0, len(e.Header))
		for k := range e.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			switch http.CanonicalHeaderKey(k) {
			case "Content-Type", "Content-Length", "Connection":
				continue
			}
			if !isToken(k) {
				continue
			}
			for _, v := range e.Header[k] {
				dst = append(dst, k...)
				dst = append(dst, ": "...)
				dst = appendHeaderValue(dst, v)
				dst = append(dst, "\r\n"...)
			}
		}
	}
	dst = append(dst, "\r\n"...)
	dst = append(dst, e.Reason...)
	return append(dst, '\n')
}

// appendHeaderValue appends v with every control byte other than HTAB
// (CR and LF included) and DEL replaced by a space.
func appendHeaderValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
