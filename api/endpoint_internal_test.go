package api

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/wire"
)

// countingWire counts its encodings.
type countingWire struct{ encodes atomic.Int32 }

func (w *countingWire) Name() string      { return "counting" }
func (w *countingWire) Rules() wire.Rules { return wire.Rules{} }
func (w *countingWire) Connect(*http.Request) (wire.Hello, error) {
	return wire.Hello{}, nil
}
func (w *countingWire) Decode([]byte, bool, wire.Peer) (frame.Frame, error) {
	return frame.Frame{}, wire.ErrIgnore
}
func (w *countingWire) Encode(dst []byte, f *frame.Frame) []byte {
	w.encodes.Add(1)
	return wire.AppendMessage(dst, false, []byte(f.Event))
}

// A frame is encoded once per wire, however many recipients share it,
// and each wire has its own slot beside roomloop's codecs.
func TestWireEncodesOncePerFrame(t *testing.T) {
	a, b := &countingWire{}, &countingWire{}
	eps := buildEndpoints([]Endpoint{{Path: "/a", Wire: a}, {Path: "/b", Wire: b}})
	out := frame.NewOutgoing(frame.Frame{Event: "hello"})
	first := out.Body(eps.byPath["/a"].codec)
	for range 100 {
		assert.Equal(t, &first[0], &out.Body(eps.byPath["/a"].codec)[0])
		out.Body(eps.byPath["/b"].codec)
		out.Body(frame.JSON)
	}
	assert.Equal(t, int32(1), a.encodes.Load())
	assert.Equal(t, int32(1), b.encodes.Load())
	assert.Equal(t, "\x81\x05hello", string(first))
}

func TestValidateEndpoints(t *testing.T) {
	w := &countingWire{}
	require.NoError(t, validateEndpoints("", []Endpoint{{Path: "/x", Wire: w}, {Subprotocol: "p", Wire: w},
		{Path: "/z", Subprotocol: "q", Wire: w}}))
	for _, eps := range [][]Endpoint{
		{{Path: "/ws", Wire: w}},
		{{Path: "x", Wire: w}},
		{{Path: "/x", Wire: w}, {Path: "/x", Wire: w}},
		{{Path: "/x"}},
		{{Wire: w}},
		{{Subprotocol: "roomloop.json", Wire: w}},
		{{Subprotocol: "p", Wire: w}, {Path: "/y", Subprotocol: "p", Wire: w}},
		make([]Endpoint, maxEndpoints+1),
	} {
		assert.Error(t, validateEndpoints("", eps), "%v", eps)
	}
}
