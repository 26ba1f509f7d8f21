package frame

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of arrays and objects inside one member value
// (the payload, or an ignored member), so that hostile input such as 64 KiB
// of '[' costs linear time and constant stack.
const maxDepth = 128

// scanError is a JSON syntax error, or a value nested deeper than maxDepth.
type scanError struct {
	off     int
	msg     string
	tooDeep bool
}

// decodeError converts e to a DecodeError for the member field ("" for the
// message as a whole). Only nesting errors are attributed to field; a syntax
// error makes the whole message invalid.
func (e *scanError) decodeError(field string) *DecodeError {
	if e.tooDeep {
		name := field
		if name == "" {
			name = "value"
		}
		return newError(field, name+" nests deeper than "+strconv.Itoa(maxDepth)+" levels")
	}
	return newError("", "invalid JSON at offset "+strconv.Itoa(e.off)+": "+e.msg)
}

// scanner walks JSON text. It validates syntax in linear time without
// recursion and never allocates on the success path. A scanner is used by one
// goroutine only.
type scanner struct {
	b []byte
	i int
}

// fail returns a syntax error at the current offset.
func (s *scanner) fail(msg string) *scanError {
	if s.i >= len(s.b) {
		return &scanError{off: s.i, msg: "unexpected end of message"}
	}
	return &scanError{off: s.i, msg: msg}
}

// peek returns the byte at the current offset, or 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// skipSpace skips JSON whitespace.
func (s *scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str scans the string whose opening quote is at the current offset. It
// returns the span of its contents (between the quotes) and whether they
// hold escapes. Bytes of 0x80 and above are not checked here.
func (s *scanner) str() (start, end int, esc bool, err *scanError) {
	s.i++ // opening quote
	start = s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, esc, nil
		case c == '\\':
			esc = true
			s.i++
			switch s.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for range 4 {
					if !isHex(s.peek()) {
						return 0, 0, false, s.fail("invalid \\u escape")
					}
					s.i++
				}
			default:
				return 0, 0, false, s.fail("invalid escape")
			}
		case c < 0x20:
			return 0, 0, false, s.fail("control character in string")
		default:
			s.i++
		}
	}
	return 0, 0, false, s.fail("")
}

// number scans a number starting at the current offset.
func (s *scanner) number() *scanError {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return s.fail("invalid number")
	}
	if s.peek() == '.' {
		s.i++
		if !isDigit(s.peek()) {
			return s.fail("invalid number")
		}
		s.digits()
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !isDigit(s.peek()) {
			return s.fail("invalid number")
		}
		s.digits()
	}
	return nil
}

// digits skips decimal digits.
func (s *scanner) digits() {
	for isDigit(s.peek()) {
		s.i++
	}
}

// literal scans the literal lit (true, false or null).
func (s *scanner) literal(lit string) *scanError {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// memberName scans an object member's name and the colon after it.
func (s *scanner) memberName() *scanError {
	s.skipSpace()
	if s.peek() != '"' {
		return s.fail("expected a member name")
	}
	if _, _, _, err := s.str(); err != nil {
		return err
	}
	s.skipSpace()
	if s.peek() != ':' {
		return s.fail("expected ':'")
	}
	s.i++
	return nil
}

// value scans one JSON value starting at the current offset (after optional
// whitespace) and stops right after it. Arrays and objects nest at most
// maxDepth levels; the walk is iterative, so hostile nesting neither grows
// the stack nor costs more than linear time.
func (s *scanner) value() *scanError {
	var inObject [maxDepth]bool
	depth := 0
	for {
		// A value is expected here.
		s.skipSpace()
		switch c := s.peek(); c {
		case '{', '[':
			if depth == maxDepth {
				return &scanError{off: s.i, msg: "nested too deeply", tooDeep: true}
			}
			inObject[depth] = c == '{'
			depth++
			s.i++
			s.skipSpace()
			if c == '{' {
				if s.peek() == '}' {
					s.i++
					depth--
					break
				}
				if err := s.memberName(); err != nil {
					return err
				}
				continue
			}
			if s.peek() == ']' {
				s.i++
				depth--
				break
			}
			continue
		case '"':
			if _, _, _, err := s.str(); err != nil {
				return err
			}
		case 't':
			if err := s.literal("true"); err != nil {
				return err
			}
		case 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
		case 'n':
			if err := s.literal("null"); err != nil {
				return err
			}
		default:
			if c != '-' && !isDigit(c) {
				return s.fail("expected a value")
			}
			if err := s.number(); err != nil {
				return err
			}
		}
		// A value just ended: close containers until one takes another
		// element.
		for {
			if depth == 0 {
				return nil
			}
			s.skipSpace()
			c := s.peek()
			obj := inObject[depth-1]
			if c == ',' {
				s.i++
				if obj {
					if err := s.memberName(); err != nil {
						return err
					}
				}
				break
			}
			if (obj && c == '}') || (!obj && c == ']') {
				s.i++
				depth--
				continue
			}
			if obj {
				return s.fail("expected ',' or '}'")
			}
			return s.fail("expected ',' or ']'")
		}
	}
}

// typeName names the JSON type of the value starting with c, for messages.
func typeName(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// appendUnescaped appends the contents of a JSON string, already checked by
// scanner.str, with its escapes resolved. A surrogate pair escape becomes its
// rune; a lone surrogate escape becomes its 3-byte generalized UTF-8 form,
// which keeps it distinct from every other string and fails UTF-8 validation.
// The result is never longer than raw.
func appendUnescaped(dst, raw []byte) []byte {
	for len(raw) > 0 {
		k := bytes.IndexByte(raw, '\\')
		if k < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:k]...)
		c := raw[k+1]
		raw = raw[k+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw)
			raw = raw[4:]
			if !utf16.IsSurrogate(r) {
				dst = utf8.AppendRune(dst, r)
				break
			}
			if r < 0xdc00 && len(raw) >= 6 && raw[0] == '\\' && raw[1] == 'u' {
				if r2 := hex4(raw[2:]); 0xdc00 <= r2 && r2 < 0xe000 {
					dst = utf8.AppendRune(dst, utf16.DecodeRune(r, r2))
					raw = raw[6:]
					break
				}
			}
			dst = append(dst, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
	return dst
}

// hex4 decodes the four hex digits at the start of b, already checked by
// scanner.str.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c <= '9':
			r |= rune(c - '0')
		case c >= 'a':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// isDigit reports whether c is a decimal digit.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
