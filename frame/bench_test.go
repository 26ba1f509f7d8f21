package frame

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkDecodeJSON(b *testing.B) {
	msg := []byte(`{"event":"chat","room":"lobby","id":"c-17","payload":{"text":"hello, world","n":[1,2,3],"ok":true}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := JSON.Decode(msg, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBinary(b *testing.B) {
	msg := binMsg(0, "chat", "lobby", "", "", "c-17", []byte(`{"text":"hello, world","n":[1,2,3],"ok":true}`))
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Binary.Decode(msg, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	f := Frame{Event: "chat", Room: "lobby", From: "s-9f3a", Kind: JSONPayload, Payload: []byte(`{"text":"hello, world"}`)}
	for _, c := range []Codec{JSON, Binary} {
		b.Run(c.Name(), func(b *testing.B) {
			body := NewOutgoing(f).Body(c)
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			seq := uint64(0)
			for b.Loop() {
				seq++
				buf = c.AppendMessage(buf[:0], seq, body)
			}
		})
	}
}

func BenchmarkAppendBody(b *testing.B) {
	f := Frame{Event: "chat", Room: "lobby", From: "s-9f3a", Kind: JSONPayload, Payload: []byte(`{"text":"hello, world"}`)}
	for _, c := range []Codec{JSON, Binary} {
		b.Run(c.Name(), func(b *testing.B) {
			buf := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				buf = c.AppendBody(buf[:0], &f)
			}
		})
	}
}

func BenchmarkDecodeJSONHostile(b *testing.B) {
	const size = 64 << 10
	fill := func(prefix, unit, suffix string) []byte {
		n := (size - len(prefix) - len(suffix)) / len(unit)
		return []byte(prefix + strings.Repeat(unit, n) + suffix)
	}
	var keys strings.Builder
	keys.WriteString(`{"event":"a"`)
	for i := 0; keys.Len() < size-16; i++ {
		fmt.Fprintf(&keys, `,"k%d":0`, i)
	}
	keys.WriteString("}")
	inputs := []struct {
		name string
		msg  []byte
	}{
		{"brackets", fill("", "[", "")},
		{"payload brackets", fill(`{"event":"a","payload":`, "[", "")},
		{"payload array", fill(`{"event":"a","payload":[`, "1,", "1]}")},
		{"payload nested", fill(`{"event":"a","payload":`, `[{"a":`, "")},
		{"escapes in room", fill(`{"event":"a","room":"`, `\u00e9`, `"}`)},
		{"unknown keys", []byte(keys.String())},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.msg)))
			for b.Loop() {
				_, _ = JSON.Decode(in.msg, DefaultLimits())
			}
		})
	}
}
