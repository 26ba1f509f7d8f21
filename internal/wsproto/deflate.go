package wsproto

import (
	"strings"
	"sync"

	"github.com/roomloop/roomloop/internal/deflate"
)

// DeflateResponse is the Sec-WebSocket-Extensions value of a server that
// accepts permessage-deflate (RFC 7692): no context takeover either way,
// so every message is compressed and inflated on its own and a connection
// keeps no LZ77 window. A server may require client_no_context_takeover
// even when the offer did not include it (RFC 7692 7.1.1.2).
const DeflateResponse = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// deflateResponse15 answers an offer that named server_max_window_bits=15:
// accepting it means echoing the parameter (RFC 7692 7.1.2.1).
const deflateResponse15 = DeflateResponse + "; server_max_window_bits=15"

// maxExtensionOffers bounds the extension offers examined.
const maxExtensionOffers = 32

// NegotiateDeflate examines the Sec-WebSocket-Extensions values of an
// upgrade request and returns the response value that accepts the first
// acceptable permessage-deflate offer, or "" to decline by silence. An
// offer is declined (and the next one tried) if it has an unknown or
// repeated parameter, a parameter value that is not allowed, or
// server_max_window_bits below 15 (compress/flate always uses a 32 KiB
// window). client_max_window_bits, with or without a value, is accepted
// and not echoed: the inflater reads any window. It runs in time linear
// in the values' length and is safe for concurrent use.
func NegotiateDeflate(values []string) string {
	offers := 0
	for elem := range extensionOffers(values) {
		if offers++; offers > maxExtensionOffers {
			return ""
		}
		if resp, ok := deflateOffer(elem); ok {
			return resp
		}
	}
	return ""
}

// extensionOffers yields the comma-separated extension offers of values,
// trimmed, skipping empty ones; commas inside quoted strings do not split.
func extensionOffers(values []string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range values {
			quoted, start := false, 0
			for i := 0; i <= len(v); i++ {
				if i < len(v) {
					switch c := v[i]; {
					case c == '"':
						quoted = !quoted
						continue
					case c == '\\' && quoted:
						i++
						continue
					case c != ',' || quoted:
						continue
					}
				}
				if elem := trimOWS(v[start:min(i, len(v))]); elem != "" && !yield(elem) {
					return
				}
				start = i + 1
			}
		}
	}
}

// deflateOffer checks one offer, "permessage-deflate" and its parameters.
func deflateOffer(offer string) (string, bool) {
	parts := strings.Split(offer, ";")
	if !strings.EqualFold(trimOWS(parts[0]), "permessage-deflate") {
		return "", false
	}
	var seen [4]bool
	resp := DeflateResponse
	for _, p := range parts[1:] {
		name, value, hasValue := strings.Cut(trimOWS(p), "=")
		name, value = trimOWS(name), unquote(trimOWS(value))
		var i int
		switch strings.ToLower(name) {
		case "server_no_context_takeover":
			i = 0
		case "client_no_context_takeover":
			i = 1
		case "server_max_window_bits":
			i = 2
			if !hasValue || value != "15" {
				return "", false // a smaller window cannot be honoured
			}
			resp = deflateResponse15
		case "client_max_window_bits":
			i = 3
			if hasValue && !windowBits(value) {
				return "", false
			}
		default:
			return "", false
		}
		if seen[i] || (i < 2 && hasValue) {
			return "", false
		}
		seen[i] = true
	}
	return resp, true
}

// windowBits reports whether v is a window size of 8 to 15 bits, written
// as RFC 7692 allows (no leading zero).
func windowBits(v string) bool {
	return len(v) == 1 && v[0] >= '8' && v[0] <= '9' || len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5'
}

// unquote strips the quotes of a quoted-string value (its escapes are
// left: no valid value needs one).
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// inflateBufs recycles the buffers compressed messages are inflated into
// (the handler copies what it keeps). Buffers over maxPooled are dropped.
var inflateBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxPooled = 64 << 10

// inflate decompresses the compressed message pl into a pooled buffer
// bounded by the message limit, validates it if it is text, and hands it
// to h.
func (p *Parser) inflate(op Opcode, pl []byte, h Handler) *CloseError {
	bp := inflateBufs.Get().(*[]byte)
	out, err := deflate.Inflate((*bp)[:0], pl, p.maxMessage())
	defer func() {
		if cap(out) <= maxPooled {
			*bp = out[:0]
			inflateBufs.Put(bp)
		}
	}()
	switch {
	case err == deflate.ErrTooBig:
		return closeError(CloseTooBig, "message too big")
	case err != nil:
		return closeError(CloseInvalidPayload, "invalid compressed data")
	}
	if op == OpText {
		if s, ok := validUTF8(0, out); !ok || s != 0 {
			return errInvalidText()
		}
	}
	h.OnMessage(op, out)
	return nil
}
