package wsproto

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// testMask is the masking key of the test frames.
var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// event is one Handler call, with the payload copied.
type event struct {
	control bool
	op      Opcode
	payload string
}

func (e event) String() string {
	kind := "msg"
	if e.control {
		kind = "ctl"
	}
	p := e.payload
	if len(p) > 40 {
		p = fmt.Sprintf("%.40q...(%d bytes)", p, len(p))
	}
	return fmt.Sprintf("%s %v %q", kind, e.op, p)
}

// recorder is a Handler that records copies of what it receives.
type recorder struct{ events []event }

func (r *recorder) OnMessage(op Opcode, payload []byte) {
	r.events = append(r.events, event{op: op, payload: string(payload)})
}

func (r *recorder) OnControl(op Opcode, payload []byte) {
	r.events = append(r.events, event{control: true, op: op, payload: string(payload)})
}

// outcome is what feeding an input produced.
type outcome struct {
	events []event
	code   uint16 // 0 if no error
	reason string
}

func (o outcome) String() string {
	var b strings.Builder
	for _, e := range o.events {
		b.WriteString(e.String())
		b.WriteString("; ")
	}
	fmt.Fprintf(&b, "err=%d %q", o.code, o.reason)
	return b.String()
}

// feedChunks feeds a copy of in, cut at the given ascending indexes, to a
// new parser with lim, stopping at the first error.
func feedChunks(lim *Limits, in []byte, cuts ...int) outcome {
	return feedChunksDeflate(lim, false, in, cuts...)
}

// feedChunksDeflate is feedChunks with permessage-deflate enabled on the
// parser if deflate.
func feedChunksDeflate(lim *Limits, deflate bool, in []byte, cuts ...int) outcome {
	data := append([]byte(nil), in...)
	p := NewParser(lim)
	if deflate {
		p.EnableDeflate()
	}
	var r recorder
	var o outcome
	prev := 0
	for _, c := range append(cuts, len(data)) {
		if c < prev || c > len(data) {
			continue
		}
		if err := p.Feed(data[prev:c], &r); err != nil {
			ce := err.(*CloseError)
			o.code, o.reason = ce.Code, ce.Reason
			break
		}
		prev = c
	}
	o.events = r.events
	return o
}

// feedBytes feeds a copy of in one byte at a time.
func feedBytes(lim *Limits, in []byte) outcome {
	cuts := make([]int, len(in))
	for i := range cuts {
		cuts[i] = i + 1
	}
	return feedChunks(lim, in, cuts...)
}

// cf returns a masked client frame.
func cf(fin bool, op Opcode, payload string) []byte {
	return AppendClientFrame(nil, fin, op, []byte(payload), testMask)
}

// raw returns a masked frame with first byte b0 and the payload, in the
// shortest length form.
func raw(b0 byte, payload string) []byte {
	f := AppendClientFrame(nil, false, 0, []byte(payload), testMask)
	f[0] = b0
	return f
}

// unmasked returns an unmasked frame with first byte b0.
func unmasked(b0 byte, payload string) []byte {
	f := AppendHeader(nil, 0, len(payload))
	f[0] = b0
	return append(f, payload...)
}

// hdr64 returns a masked frame header with first byte b0 declaring n
// payload bytes in the 64-bit form, without payload.
func hdr64(b0 byte, n uint64) []byte {
	h := []byte{b0, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, n)
	return append(h, testMask[:]...)
}

// hdr16 returns a masked frame header with first byte b0 declaring n
// payload bytes in the 16-bit form, without payload.
func hdr16(b0 byte, n uint16) []byte {
	h := []byte{b0, 0x80 | 126}
	h = binary.BigEndian.AppendUint16(h, n)
	return append(h, testMask[:]...)
}

// maskedPayload returns payload masked with testMask, to follow hdr16 or
// hdr64.
func maskedPayload(payload string) []byte {
	b := []byte(payload)
	maskBytes(b, testMask)
	return b
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// closePayload returns a close payload with code and reason.
func closePayload(code uint16, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, code)) + reason
}
