package wsproto

import "unicode/utf8"

// utf8State is the state of the incremental UTF-8 validator: 0 at a code
// point boundary, otherwise need<<4 | kind, where need is the number of
// continuation bytes still expected and kind restricts the range of the
// next one (the restrictions exclude overlong forms, surrogates and code
// points above U+10FFFF, exactly as unicode/utf8 does).
type utf8State uint8

// Ranges allowed for the next continuation byte.
const (
	kindAny = iota // 0x80-0xBF
	kindE0         // 0xA0-0xBF after 0xE0 (no overlong 3-byte forms)
	kindED         // 0x80-0x9F after 0xED (no surrogates)
	kindF0         // 0x90-0xBF after 0xF0 (no overlong 4-byte forms)
	kindF4         // 0x80-0x8F after 0xF4 (nothing above U+10FFFF)
)

// stepUTF8 advances s by byte c and reports whether the bytes so far are
// still a prefix of valid UTF-8.
func stepUTF8(s utf8State, c byte) (utf8State, bool) {
	if s == 0 {
		switch {
		case c < 0x80:
			return 0, true
		case c >= 0xC2 && c <= 0xDF:
			return 1 << 4, true
		case c == 0xE0:
			return 2<<4 | kindE0, true
		case c == 0xED:
			return 2<<4 | kindED, true
		case c >= 0xE1 && c <= 0xEF:
			return 2 << 4, true
		case c == 0xF0:
			return 3<<4 | kindF0, true
		case c >= 0xF1 && c <= 0xF3:
			return 3 << 4, true
		case c == 0xF4:
			return 3<<4 | kindF4, true
		}
		return s, false
	}
	lo, hi := byte(0x80), byte(0xBF)
	switch s & 0x0F {
	case kindE0:
		lo = 0xA0
	case kindED:
		hi = 0x9F
	case kindF0:
		lo = 0x90
	case kindF4:
		hi = 0x8F
	}
	if c < lo || c > hi {
		return s, false
	}
	return (s>>4 - 1) << 4, true
}

// validUTF8 continues validation from state s over p. It reports the new
// state and whether everything seen so far is a prefix of valid UTF-8; a
// sequence may be split anywhere between calls. The caller checks for
// state 0 at the end of a message.
func validUTF8(s utf8State, p []byte) (utf8State, bool) {
	i := 0
	for ; s != 0 && i < len(p); i++ {
		var ok bool
		if s, ok = stepUTF8(s, p[i]); !ok {
			return s, false
		}
	}
	if s != 0 {
		return s, true // p ended inside the pending sequence
	}
	rest := p[i:]
	if utf8.Valid(rest) {
		return 0, true
	}
	// rest may be valid but for a code point cut off at its end: validate
	// up to the start of the last (at most 4-byte) sequence, then step
	// through that sequence.
	k := len(rest)
	for k > 0 && len(rest)-k < 3 && rest[k-1]&0xC0 == 0x80 {
		k--
	}
	if k > 0 {
		k--
	}
	if !utf8.Valid(rest[:k]) {
		return 0, false
	}
	for _, c := range rest[k:] {
		var ok bool
		if s, ok = stepUTF8(s, c); !ok {
			return s, false
		}
	}
	return s, true
}
