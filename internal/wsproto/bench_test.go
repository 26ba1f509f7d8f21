package wsproto

import (
	"strings"
	"testing"
)

// BenchmarkFeedSmallMessages feeds 64 whole 32-byte text messages per
// operation (each Feed call gets a fresh copy, since Feed unmasks in place).
func BenchmarkFeedSmallMessages(b *testing.B) {
	var tmpl []byte
	for range 64 {
		tmpl = append(tmpl, cf(true, OpText, strings.Repeat("m", 32))...)
	}
	buf := make([]byte, len(tmpl))
	p := NewParser(nil)
	var h nopHandler
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, tmpl)
		if err := p.Feed(buf, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFeedFragmented feeds a 4 KiB binary message in 16 fragments,
// split across two Feed calls.
func BenchmarkFeedFragmented(b *testing.B) {
	var tmpl []byte
	chunk := strings.Repeat("f", 256)
	for i := range 16 {
		op := OpContinuation
		if i == 0 {
			op = OpBinary
		}
		tmpl = append(tmpl, cf(i == 15, op, chunk)...)
	}
	buf := make([]byte, len(tmpl))
	p := NewParser(nil)
	var h nopHandler
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, tmpl)
		if err := p.Feed(buf[:len(buf)/2], h); err != nil {
			b.Fatal(err)
		}
		if err := p.Feed(buf[len(buf)/2:], h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseUpgrade parses the RFC example request.
func BenchmarkParseUpgrade(b *testing.B) {
	h := []byte(validHead)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HeadEnd(h, DefaultHeadLimits()); err != nil {
			b.Fatal(err)
		}
		if _, err := ParseUpgrade(h, "/ws"); err != nil {
			b.Fatal(err)
		}
	}
}
