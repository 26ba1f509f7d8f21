package frame

// Codec encodes and decodes frames for one WebSocket subprotocol.
// Implementations are stateless and safe for concurrent use.
type Codec interface {
	// Name returns the subprotocol name: "roomloop.json" or "roomloop.bin".
	Name() string
	// Binary reports whether messages are WebSocket binary messages (true)
	// or text messages (false).
	Binary() bool
	// ID returns the codec's index into Outgoing's per-codec cache: 0 for
	// JSON, 1 for binary, 2 to MaxCodecs-1 for the other wires a server
	// speaks (it numbers them itself).
	ID() int
	// Decode parses one client→server message. It validates all field
	// limits and rules and returns a *DecodeError for anything invalid.
	// Seq and From sent by the client are ignored (left zero and empty).
	// The returned Frame does not alias msg.
	Decode(msg []byte, lim Limits) (Frame, error)
	// AppendBody appends the encoding of f without seq: the part of a
	// server→client message shared by all recipients.
	AppendBody(dst []byte, f *Frame) []byte
	// MessageLen returns the length of the message AppendMessage writes for
	// seq and body.
	MessageLen(seq uint64, body []byte) int
	// AppendMessage appends the full message: a seq prefix, then body.
	// seq 0 means "no seq" (only $welcome).
	AppendMessage(dst []byte, seq uint64, body []byte) []byte
}

// Subprotocol names and cache indexes of the two codecs.
const (
	jsonName   = "roomloop.json"
	binaryName = "roomloop.bin"
	jsonID     = 0
	binaryID   = 1
)

// MaxCodecs bounds the codecs one server speaks, roomloop's two included:
// an Outgoing caches one body per codec ID below it.
const MaxCodecs = 8

// Framed is a Codec whose bodies are complete WebSocket messages, zero or
// more, headers included: the wire of another protocol, which may turn
// one frame into several messages (a presence diff into one event per
// member) or into none (an acknowledgement the wire does not have). Its
// messages carry no seq; a writer appends the body as it is.
type Framed interface {
	Codec
	// Framed marks the codec; it does nothing.
	Framed()
}

var (
	// JSON is the roomloop.json codec: one JSON object per text message.
	// It is an immutable, stateless value.
	JSON Codec = jsonCodec{}
	// Binary is the roomloop.bin codec: version byte, uvarint seq,
	// length-prefixed fields and a trailing payload, one per binary
	// message. It is an immutable, stateless value.
	Binary Codec = binaryCodec{}
)

// ByName returns the codec for a subprotocol name, "roomloop.json" or
// "roomloop.bin". Any other name, including "", reports false; choosing the
// default when no subprotocol was offered is the caller's business.
func ByName(name string) (Codec, bool) {
	switch name {
	case jsonName:
		return JSON, true
	case binaryName:
		return Binary, true
	}
	return nil, false
}
