package wsproto

import "strconv"

// Opcode is a WebSocket frame opcode (RFC 6455 section 5.2).
type Opcode byte

// Opcodes defined by RFC 6455; all others are reserved and refused.
const (
	OpContinuation Opcode = 0
	OpText         Opcode = 1
	OpBinary       Opcode = 2
	OpClose        Opcode = 8
	OpPing         Opcode = 9
	OpPong         Opcode = 10
)

// IsControl reports whether op is a control opcode (close, ping, pong or a
// reserved control opcode).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// String returns the opcode's name, or "Opcode(n)" for a reserved one.
func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "Opcode(" + strconv.Itoa(int(op)) + ")"
}
