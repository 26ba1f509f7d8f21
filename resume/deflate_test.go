package resume

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/deflate"
)

// chatFrame is a room frame of about 600 bytes of JSON.
func chatFrame() *frame.Outgoing {
	return frame.NewOutgoing(frame.Frame{Event: "say", Room: "lobby", From: "s-abcdefghijklmnop", Kind: frame.JSONPayload,
		Payload: []byte(`{"user":"alice","text":"` + strings.Repeat("see you at the meeting tomorrow, ", 16) + `"}`)})
}

// TestAppendDeflated: every codec's compressed message inflates to the
// plain one, seq prefix included; seq 0 and frames that do not shrink
// go plain.
func TestAppendDeflated(t *testing.T) {
	out := chatFrame()
	for _, codec := range []frame.Codec{frame.JSON, frame.Binary} {
		for _, seq := range []uint64{1, 127, 128, 1 << 40} {
			plain := appendMessage(nil, codec, seq, out.Body(codec))
			msg := appendDeflated([]byte("x"), codec, seq, out)
			require.Equal(t, byte('x'), msg[0])
			msg = msg[1:]
			assert.Equal(t, byte(0xC0)|plain[0]&0x0F, msg[0], "FIN, RSV1, the opcode")
			hl := 2
			if msg[1]&0x7f == 126 {
				hl = 4
			}
			got, err := deflate.Inflate(nil, msg[hl:], 1<<20)
			require.NoError(t, err)
			assert.Equal(t, plain[len(plain)-len(got):], got, "%s seq %d", codec.Name(), seq)
			assert.Less(t, len(msg), len(plain))
		}
		// seq 0 ($welcome) is never compressed.
		assert.Equal(t, appendMessage(nil, codec, 0, out.Body(codec)), appendDeflated(nil, codec, 0, out))
	}
	other := otherWire{frame.JSON}
	assert.Equal(t, appendMessage(nil, other, 9, out.Body(other)), appendDeflated(nil, other, 9, out),
		"another wire's frames go plain")
	random := frame.NewOutgoing(frame.Frame{Event: "x", Kind: frame.BytesPayload, Payload: []byte("\x8f\x01\xfe\x77\x13\xa0\x42\x99")})
	assert.Equal(t, appendMessage(nil, frame.Binary, 5, random.Body(frame.Binary)), appendDeflated(nil, frame.Binary, 5, random),
		"a frame that would not shrink goes plain")
}

// BenchmarkAppendMessage measures the per-recipient cost of writing a
// room frame: plain, and compressed (the body compressed once, shared).
func BenchmarkAppendMessage(b *testing.B) {
	out := chatFrame()
	body := out.Body(frame.JSON)
	out.Deflated(frame.JSON)
	buf := make([]byte, 0, 4096)
	b.Run("plain", func(b *testing.B) {
		for i := range b.N {
			buf = appendMessage(buf[:0], frame.JSON, uint64(i+1), body)
		}
		b.ReportMetric(float64(len(buf)), "wire-bytes")
	})
	b.Run("deflated", func(b *testing.B) {
		for i := range b.N {
			buf = appendDeflated(buf[:0], frame.JSON, uint64(i+1), out)
		}
		b.ReportMetric(float64(len(buf)), "wire-bytes")
	})
	b.Run("compress-once", func(b *testing.B) {
		for range b.N {
			deflate.Compress(buf[:0], body)
		}
	})
}

// otherWire stands for a codec other than roomloop's two.
type otherWire struct{ frame.Codec }
