package wsproto

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"iter"
	"net/http"
	"strings"
)

// Default request-head bounds; see [HeadLimits].
const (
	defaultHeadMaxBytes   = 8192
	defaultHeadMaxHeaders = 64
	maxProtocols          = 32
)

// HeadLimits bounds the HTTP request head of an upgrade. A zero or negative
// field means its default (MaxBytes 8192, MaxHeaders 64).
type HeadLimits struct {
	MaxBytes   int // the head, through the blank line, in bytes
	MaxHeaders int // header lines, not counting the request line
}

// DefaultHeadLimits returns HeadLimits{MaxBytes: 8192, MaxHeaders: 64}.
func DefaultHeadLimits() HeadLimits {
	return HeadLimits{MaxBytes: defaultHeadMaxBytes, MaxHeaders: defaultHeadMaxHeaders}
}

// HeadEnd reports the length of the request head (through the blank line
// "\r\n\r\n") in buf, or -1 if it is not complete yet.
//
// It returns an *HTTPError 431 if buf holds more than lim.MaxBytes without a
// complete head (a head is complete only if it fits in lim.MaxBytes), or as
// soon as more than lim.MaxHeaders header lines are seen. Lines must end in
// CRLF: a bare LF gives an *HTTPError 400 at once rather than leaving the
// client waiting for a terminator that this function would never accept.
// It runs in time linear in min(len(buf), lim.MaxBytes) and does not
// allocate unless it fails. It is safe for concurrent use.
func HeadEnd(buf []byte, lim HeadLimits) (int, error) {
	maxBytes, maxHeaders := lim.MaxBytes, lim.MaxHeaders
	if maxBytes <= 0 {
		maxBytes = defaultHeadMaxBytes
	}
	if maxHeaders <= 0 {
		maxHeaders = defaultHeadMaxHeaders
	}
	scan := buf
	if len(scan) > maxBytes {
		scan = scan[:maxBytes]
	}
	lines := 0 // complete non-empty lines, the request line included
	for start := 0; ; {
		i := bytes.IndexByte(scan[start:], '\n')
		if i < 0 {
			break
		}
		lf := start + i
		if lf == start || scan[lf-1] != '\r' {
			return -1, httpError(http.StatusBadRequest, "request line or header not terminated by CRLF")
		}
		if lf-1 == start {
			return lf + 1, nil // the blank line
		}
		lines++
		if lines-1 > maxHeaders {
			return -1, httpError(http.StatusRequestHeaderFieldsTooLarge, "too many header fields")
		}
		start = lf + 1
	}
	if len(buf) > maxBytes {
		return -1, httpError(http.StatusRequestHeaderFieldsTooLarge, "request head too large")
	}
	return -1, nil
}

// Upgrade describes a valid upgrade request.
type Upgrade struct {
	// Request is parsed with net/http's http.ReadRequest (Body empty);
	// Host, URL and Header are usable by hooks; RemoteAddr is left for the
	// caller to set.
	Request *http.Request
	// Key is the Sec-WebSocket-Key, validated as base64 of 16 bytes.
	Key string
	// Protocols are the offered subprotocols in order, from all
	// Sec-WebSocket-Protocol headers, comma-split, trimmed, empty elements
	// skipped; each is a valid HTTP token; at most 32.
	Protocols []string
	// Origin is the Origin header, "" if absent (more than one is refused).
	Origin string
	// Deflate is the Sec-WebSocket-Extensions response that accepts the
	// client's permessage-deflate offer (see [NegotiateDeflate]), or ""
	// if it made none that can be accepted. Using it is the server's
	// choice.
	Deflate string
}

// ParseUpgrade parses and validates a complete head (as found by [HeadEnd])
// for path (an exact match of URL.Path). Errors are *HTTPError. The checks
// run in this order, the first failure winning:
//
//   - not parseable by http.ReadRequest, HTTP version other than 1.x with
//     x >= 1, missing Host header → 400;
//   - URL.Path != path → 404;
//   - method other than GET → 405 with "Allow: GET";
//   - a body (Content-Length > 0 or any Transfer-Encoding) → 400;
//   - no "websocket" token in Upgrade, or no "upgrade" token in Connection
//     (both case-insensitive token lists) → 400; this includes a plain GET
//     without upgrade headers (400 is chosen over 426 for it);
//   - more than one Sec-WebSocket-Version header → 400; a single one other
//     than "13", or none → 426 with "Sec-WebSocket-Version: 13";
//   - Sec-WebSocket-Key missing, present more than once, or not the
//     canonical standard base64 of exactly 16 bytes → 400;
//   - more than one Origin header → 400;
//   - a Sec-WebSocket-Protocol element that is not a token, or more than 32
//     elements → 400.
//
// Sec-WebSocket-Extensions never fails the upgrade: an acceptable
// permessage-deflate offer is noted in Upgrade.Deflate, and any other
// offer (malformed deflate parameters included) is declined by silence.
// ParseUpgrade runs in time linear in len(head). It is safe for concurrent
// use.
func ParseUpgrade(head []byte, path string) (*Upgrade, error) {
	req, err := ReadRequest(head)
	if err != nil {
		return nil, err
	}
	return CheckUpgrade(req, path)
}

// ReadRequest parses a complete head (as found by [HeadEnd]) with
// net/http's http.ReadRequest; a head it cannot parse is an *HTTPError
// 400. It is safe for concurrent use.
func ReadRequest(head []byte) (*http.Request, error) {
	size := len(head)
	if size < 16 {
		size = 16
	}
	req, err := http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(head), size))
	if err != nil {
		return nil, httpError(http.StatusBadRequest, "malformed HTTP request")
	}
	return req, nil
}

// CheckUpgrade validates a request already parsed (by ParseUpgrade, or by
// net/http) as ParseUpgrade documents, from the HTTP version on; an empty
// path accepts any path. It is safe for concurrent use.
func CheckUpgrade(req *http.Request, path string) (*Upgrade, error) {
	if req.ProtoMajor != 1 || req.ProtoMinor < 1 {
		return nil, httpError(http.StatusBadRequest, "HTTP/1.1 or later required")
	}
	if req.Host == "" {
		return nil, httpError(http.StatusBadRequest, "missing Host header")
	}
	if path != "" && req.URL.Path != path {
		return nil, httpError(http.StatusNotFound, "not found")
	}
	if req.Method != http.MethodGet {
		e := httpError(http.StatusMethodNotAllowed, "method not allowed")
		e.Header = http.Header{"Allow": {"GET"}}
		return nil, e
	}
	if req.ContentLength > 0 || len(req.TransferEncoding) > 0 {
		return nil, httpError(http.StatusBadRequest, "request body not allowed")
	}
	h := req.Header
	if !IsUpgrade(req) {
		if !hasToken(h["Upgrade"], "websocket") {
			return nil, httpError(http.StatusBadRequest, `missing "Upgrade: websocket"`)
		}
		return nil, httpError(http.StatusBadRequest, `missing "Connection: Upgrade"`)
	}
	switch v := h["Sec-Websocket-Version"]; {
	case len(v) > 1:
		return nil, httpError(http.StatusBadRequest, "duplicate Sec-WebSocket-Version header")
	case len(v) == 0 || strings.TrimSpace(v[0]) != "13":
		e := httpError(http.StatusUpgradeRequired, "unsupported WebSocket version (13 required)")
		e.Header = http.Header{"Sec-Websocket-Version": {"13"}}
		return nil, e
	}
	keys := h["Sec-Websocket-Key"]
	switch {
	case len(keys) == 0:
		return nil, httpError(http.StatusBadRequest, "missing Sec-WebSocket-Key header")
	case len(keys) > 1:
		return nil, httpError(http.StatusBadRequest, "duplicate Sec-WebSocket-Key header")
	case !validKey(keys[0]):
		return nil, httpError(http.StatusBadRequest, "invalid Sec-WebSocket-Key")
	}
	origins := h["Origin"]
	if len(origins) > 1 {
		return nil, httpError(http.StatusBadRequest, "duplicate Origin header")
	}
	u := &Upgrade{Request: req, Key: keys[0]}
	if len(origins) == 1 {
		u.Origin = origins[0]
	}
	var err error
	if u.Protocols, err = parseProtocols(h["Sec-Websocket-Protocol"]); err != nil {
		return nil, err
	}
	u.Deflate = NegotiateDeflate(h["Sec-Websocket-Extensions"])
	return u, nil
}

// IsUpgrade reports whether req asks for a WebSocket: an "Upgrade:
// websocket" and a "Connection: upgrade" token (case-insensitive).
func IsUpgrade(req *http.Request) bool {
	return hasToken(req.Header["Upgrade"], "websocket") && hasToken(req.Header["Connection"], "upgrade")
}

// validKey reports whether key is the canonical standard base64 encoding of
// exactly 16 bytes (24 characters ending in "==").
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var raw [18]byte
	n, err := base64.StdEncoding.Strict().Decode(raw[:], []byte(key))
	return err == nil && n == 16
}

// elements yields the comma-separated elements of values in order, trimmed
// of spaces and tabs, skipping empty ones (RFC 9110 5.6.1), in time linear
// in the values' length.
func elements(values []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range values {
			for v != "" {
				elem := v
				if i := strings.IndexByte(v, ','); i >= 0 {
					elem, v = v[:i], v[i+1:]
				} else {
					v = ""
				}
				if elem = trimOWS(elem); elem != "" && !yield(elem) {
					return
				}
			}
		}
	}
}

// hasToken reports whether any comma-separated element of values equals
// token, ignoring ASCII case and surrounding spaces and tabs.
func hasToken(values []string, token string) bool {
	for elem := range elements(values) {
		if strings.EqualFold(elem, token) {
			return true
		}
	}
	return false
}

// parseProtocols splits the Sec-WebSocket-Protocol values into tokens in
// linear time, refusing invalid tokens and more than maxProtocols elements.
func parseProtocols(values []string) ([]string, error) {
	var out []string
	for elem := range elements(values) {
		if !isToken(elem) {
			return nil, httpError(http.StatusBadRequest, "invalid Sec-WebSocket-Protocol")
		}
		if len(out) == maxProtocols {
			return nil, httpError(http.StatusBadRequest, "too many subprotocols offered")
		}
		out = append(out, elem)
	}
	return out, nil
}

// trimOWS trims HTTP optional whitespace (spaces and tabs) from both ends.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

// isTokenByte reports whether c is a tchar.
func isTokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// websocketGUID is the fixed suffix of RFC 6455 section 1.3.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for key. It is safe for
// concurrent use.
func AcceptKey(key string) string {
	return string(appendAccept(nil, key))
}

// appendAccept appends the Sec-WebSocket-Accept value for key to dst.
func appendAccept(dst []byte, key string) []byte {
	var in [64]byte
	sum := sha1.Sum(append(append(in[:0], key...), websocketGUID...))
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}
