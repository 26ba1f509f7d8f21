package wsproto

import "encoding/binary"

// HeaderLen returns the length of an unmasked frame header for a payload
// of n bytes: 2, 4 or 10. A negative n counts as 0. It is safe for
// concurrent use.
func HeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xFFFF:
		return 4
	}
	return 10
}

// AppendHeader appends an unmasked (server) frame header: FIN set, opcode
// op (its low 4 bits), length n in the shortest of the 7, 16 or 64-bit
// forms. A negative n counts as 0. It is safe for concurrent use.
func AppendHeader(dst []byte, op Opcode, n int) []byte {
	return appendHeader(dst, 0x80|byte(op&0x0F), 0, n)
}

// appendHeader appends a header with first byte b0, mask bit b1 (0 or
// 0x80) and length n, without the masking key.
func appendHeader(dst []byte, b0, maskBit byte, n int) []byte {
	if n < 0 {
		n = 0
	}
	switch {
	case n <= 125:
		return append(dst, b0, maskBit|byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, b0, maskBit|126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, b0, maskBit|127), uint64(n))
}

// AppendFrame appends an unmasked, final frame: header and payload (for
// pings, pongs, tests, and messages). It is safe for concurrent use.
func AppendFrame(dst []byte, op Opcode, payload []byte) []byte {
	return append(AppendHeader(dst, op, len(payload)), payload...)
}

// AppendClientFrame appends a masked client frame (for tests and the load
// generator): FIN if fin, opcode op (its low 4 bits), payload masked with
// mask. payload itself is not modified. It is safe for concurrent use.
func AppendClientFrame(dst []byte, fin bool, op Opcode, payload []byte, mask [4]byte) []byte {
	b0 := byte(op & 0x0F)
	if fin {
		b0 |= 0x80
	}
	dst = appendHeader(dst, b0, 0x80, len(payload))
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	maskBytes(dst[start:], mask)
	return dst
}

// AppendCompressedHeader is AppendHeader with RSV1 set: the header of a
// whole data message compressed with permessage-deflate. Only data
// opcodes may carry it. It is safe for concurrent use.
func AppendCompressedHeader(dst []byte, op Opcode, n int) []byte {
	return appendHeader(dst, 0xC0|byte(op&0x0F), 0, n)
}
