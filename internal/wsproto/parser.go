package wsproto

import (
	"encoding/binary"
	"math"
)

// Default message bounds; see [Limits].
const (
	defaultMaxMessage = 65536
	defaultMaxFrames  = 4096
	maxControlPayload = 125
)

// Limits bounds the messages a [Parser] accepts. A zero or negative field
// means its default (MaxMessage 65536, MaxFrames 4096). One Limits may be
// shared by many parsers; it must not change while they use it.
type Limits struct {
	MaxMessage int // total payload bytes of one message
	MaxFrames  int // frames of one message, the first included
}

// DefaultLimits returns Limits{MaxMessage: 65536, MaxFrames: 4096}.
func DefaultLimits() Limits {
	return Limits{MaxMessage: defaultMaxMessage, MaxFrames: defaultMaxFrames}
}

// Handler receives parsed messages. payload aliases the caller's input
// buffer, the parser's internal buffer, or (for a compressed message) a
// pooled buffer it was inflated into: it is valid only during the call
// (copy it to keep it). A Handler must not call Feed on the parser that
// calls it.
type Handler interface {
	// OnMessage receives a complete text or binary message (op OpText or
	// OpBinary), possibly empty: a message of length 0 is delivered too
	// (payload may then be nil). Text payloads are valid UTF-8.
	OnMessage(op Opcode, payload []byte)
	// OnControl receives a ping, pong or close frame. A close payload is
	// already validated: empty, or a valid code followed by a UTF-8
	// reason (see ParseClose).
	OnControl(op Opcode, payload []byte)
}

// Parser states.
const (
	stHeader  = iota // between frames or inside a frame header
	stPayload        // inside a frame payload
	stClosed         // a close frame was delivered; input is discarded
	stFailed         // Feed returned an error
)

// Parser is one connection's incremental, strict RFC 6455 parser for
// client-to-server frames. It is not safe for concurrent use. Its zero
// value is ready and uses DefaultLimits; [NewParser] sets shared limits.
// It holds no buffer while no frame or fragmented message is partially
// received, and never more than the limits allow (MaxMessage bytes of
// message plus one control payload of at most 125 bytes).
type Parser struct {
	lim *Limits
	// buf holds the bytes received so far of the open message (in copy
	// mode), followed by ctrl bytes of a partially received control frame.
	buf []byte
	// remain is the extended length being read while in a header, the
	// payload bytes left while in a payload, and the close code after a
	// failure.
	remain uint64
	frames uint32  // frames of the open message, saturating
	mask   [4]byte // masking key, rotated to the next payload byte
	state  uint8
	hn     uint8     // header bytes received of the current frame
	hlen   uint8     // length of the current header, 0 until known
	b0     byte      // the current frame's first byte: FIN and opcode
	msgOp  Opcode    // opcode of the open message, 0 if none
	ctrl   uint8     // bytes of a partial control payload at the end of buf
	utf    utf8State // UTF-8 state of the open text message
	paused bool      // the handler called Pause during FeedSome
	// deflate: permessage-deflate was negotiated (RSV1 allowed on a
	// message's first frame); packed: the open message has RSV1 set.
	deflate, packed bool
}

// NewParser returns a Parser that enforces *lim, which it keeps a pointer
// to so that one Limits can serve all connections. A nil lim means
// DefaultLimits.
func NewParser(lim *Limits) Parser {
	return Parser{lim: lim}
}

// EnableDeflate accepts messages compressed with permessage-deflate (RFC
// 7692, no context takeover) from here on: RSV1 on the first frame of a
// data message marks it compressed, the limits apply to both its
// compressed and its inflated size, and the handler gets it inflated.
// Without it, RSV1 is a protocol error (1002) as every reserved bit is.
func (p *Parser) EnableDeflate() { p.deflate = true }

// maxMessage returns the effective Limits.MaxMessage.
func (p *Parser) maxMessage() int {
	if p.lim == nil || p.lim.MaxMessage <= 0 {
		return defaultMaxMessage
	}
	return p.lim.MaxMessage
}

// maxFrames returns the effective Limits.MaxFrames.
func (p *Parser) maxFrames() int {
	if p.lim == nil || p.lim.MaxFrames <= 0 {
		return defaultMaxFrames
	}
	return p.lim.MaxFrames
}

// Partial reports whether a message or frame is partially received (for
// the server's message-completion deadline).
func (p *Parser) Partial() bool {
	return p.state == stPayload || (p.state == stHeader && (p.hn > 0 || p.msgOp != 0))
}

// Buffered reports how many bytes the parser currently buffers.
func (p *Parser) Buffered() int { return len(p.buf) }

// Feed consumes data and calls h for every complete message and control
// frame, in order. data may be split at any byte boundary across calls;
// Feed may modify it in place (unmasking). A message that arrives whole in
// one call (a single frame whose bytes are all in data) is unmasked in
// place and delivered without copying; bytes of an incomplete frame and the
// fragments of a fragmented message are copied into an internal buffer that
// is released (set to nil) when the message completes.
//
// Feed returns a *CloseError on the first violation; every limit is checked
// from the frame header, before anything is buffered. After an error it
// must not be called again (if it is, it returns another *CloseError with
// the same code and consumes nothing). After a close frame has been
// delivered, the rest of data and all later input are discarded and Feed
// returns nil: the caller should stop feeding. h must not be nil; if it
// panics, the Parser must not be used again. Feed ignores Pause: it
// consumes all of data.
func (p *Parser) Feed(data []byte, h Handler) error {
	for {
		n, err := p.FeedSome(data, h)
		if err != nil || n == len(data) {
			return err
		}
		data = data[n:]
	}
}

// Pause, called by a Handler during FeedSome, makes that FeedSome return
// as soon as the frame just delivered is complete, leaving the rest of its
// input unconsumed: a reader that cannot take more messages stops there.
func (p *Parser) Pause() { p.paused = true }

// FeedSome is Feed, except that it returns early when h calls Pause, and
// reports how many bytes of data it consumed. data[n:] is left untouched
// (still masked); the caller feeds it later, before anything newer. After
// a close frame, the rest of data counts as consumed (discarded).
func (p *Parser) FeedSome(data []byte, h Handler) (int, error) {
	switch p.state {
	case stClosed:
		return len(data), nil
	case stFailed:
		return 0, closeError(uint16(p.remain), "parser used after an error")
	}
	p.paused = false
	used := 0
	for used < len(data) && !p.paused {
		var n int
		var err *CloseError
		if p.state == stHeader {
			n, err = p.header(data[used:])
			if err == nil && p.state == stPayload && p.remain == 0 {
				// An empty frame: complete as soon as its header is.
				var pl []byte
				if !Opcode(p.b0).IsControl() {
					pl = p.buf // the message so far
				}
				err = p.endFrame(pl, h)
			}
		} else {
			n, err = p.payload(data[used:], h)
		}
		if err != nil {
			return used + n, p.fail(err)
		}
		if p.state == stClosed {
			return len(data), nil
		}
		used += n
	}
	p.paused = false
	return used, nil
}

// fail records the failure, releases the buffer and returns err.
func (p *Parser) fail(err *CloseError) error {
	*p = Parser{lim: p.lim, state: stFailed, remain: uint64(err.Code), deflate: p.deflate}
	return err
}

// header consumes header bytes from data and reports how many it used. On
// return the state is stPayload if the header is complete.
func (p *Parser) header(data []byte) (int, *CloseError) {
	if p.hn == 0 && len(data) >= 2 {
		hlen := 6
		switch data[1] & 0x7F {
		case 126:
			hlen = 8
		case 127:
			hlen = 14
		}
		if len(data) >= hlen {
			// The whole header is here: the same checks, in the same
			// order, as headerByte.
			if err := p.first(data[0]); err != nil {
				return 0, err
			}
			if err := p.second(data[1]); err != nil {
				return 0, err
			}
			switch hlen {
			case 8:
				p.remain = uint64(binary.BigEndian.Uint16(data[2:]))
			case 14:
				p.remain = binary.BigEndian.Uint64(data[2:])
			}
			if hlen > 6 {
				if err := p.checkLength(); err != nil {
					return 0, err
				}
			}
			copy(p.mask[:], data[hlen-4:hlen])
			p.hlen = 0
			p.state = stPayload
			return hlen, nil
		}
	}
	for i, c := range data {
		if err := p.headerByte(c); err != nil {
			return i, err
		}
		if p.state == stPayload {
			return i + 1, nil
		}
	}
	return len(data), nil
}

// headerByte consumes one header byte.
func (p *Parser) headerByte(c byte) *CloseError {
	var err *CloseError
	switch {
	case p.hn == 0:
		err = p.first(c)
	case p.hn == 1:
		err = p.second(c)
	case p.hn < p.hlen-4:
		p.remain = p.remain<<8 | uint64(c)
		if p.hn == p.hlen-5 {
			err = p.checkLength()
		}
	default:
		p.mask[p.hn-(p.hlen-4)] = c
	}
	if err != nil {
		return err
	}
	p.hn++
	if p.hn == p.hlen {
		p.hn, p.hlen = 0, 0
		p.state = stPayload
	}
	return nil
}

// first validates a frame's first byte against the message state.
func (p *Parser) first(b0 byte) *CloseError {
	op := Opcode(b0 & 0x0F)
	if rsv := b0 & 0x70; rsv != 0 {
		// RSV1 only on the first frame of a message, with deflate.
		if rsv != 0x40 || !p.deflate || (op != OpText && op != OpBinary) {
			return closeError(CloseProtocolError, "reserved bits set")
		}
	}
	switch op {
	case OpContinuation:
		if p.msgOp == 0 {
			return closeError(CloseProtocolError, "continuation frame without a message")
		}
		if p.frames < math.MaxUint32 {
			p.frames++
		}
		if uint64(p.frames) > uint64(p.maxFrames()) {
			return closeError(CloseTooBig, "too many frames in message")
		}
	case OpText, OpBinary:
		if p.msgOp != 0 {
			return closeError(CloseProtocolError, "data frame inside a fragmented message")
		}
		p.msgOp, p.frames, p.utf = op, 1, 0
		p.packed = b0&0x40 != 0
	case OpClose, OpPing, OpPong:
		if b0&0x80 == 0 {
			return closeError(CloseProtocolError, "fragmented control frame")
		}
	default:
		return closeError(CloseProtocolError, "reserved opcode")
	}
	p.b0 = b0
	return nil
}

// second validates a frame's second byte and sets the header length.
func (p *Parser) second(b1 byte) *CloseError {
	if b1&0x80 == 0 {
		return closeError(CloseProtocolError, "unmasked client frame")
	}
	n := b1 & 0x7F
	if Opcode(p.b0).IsControl() && n > maxControlPayload {
		return closeError(CloseProtocolError, "control frame payload over 125 bytes")
	}
	switch n {
	case 126:
		p.hlen, p.remain = 8, 0
		return nil
	case 127:
		p.hlen, p.remain = 14, 0
		return nil
	}
	p.hlen, p.remain = 6, uint64(n)
	return p.checkLength()
}

// checkLength checks the declared payload length in p.remain against the
// message limit. The comparison is made on the room left, so it cannot
// overflow whatever the declared length (the 64-bit form's top bit
// included, which therefore gives 1009).
func (p *Parser) checkLength() *CloseError {
	if Opcode(p.b0).IsControl() {
		return nil // at most 125, checked by second
	}
	room := p.maxMessage() - len(p.buf)
	if room < 0 {
		room = 0
	}
	if p.remain > uint64(room) {
		return closeError(CloseTooBig, "message too big")
	}
	return nil
}

// payload consumes payload bytes of the current frame from data and
// reports how many it used.
func (p *Parser) payload(data []byte, h Handler) (int, *CloseError) {
	fin := p.b0&0x80 != 0
	control := Opcode(p.b0).IsControl()
	// Zero copy: the whole payload is here and nothing is buffered, so it
	// is a control frame or the whole of a message.
	if p.ctrl == 0 && uint64(len(data)) >= p.remain && (control || (fin && len(p.buf) == 0)) {
		n := int(p.remain)
		pl := data[:n:n]
		maskBytes(pl, p.mask)
		if !control && p.msgOp == OpText && !p.packed {
			if s, ok := validUTF8(p.utf, pl); !ok || s != 0 {
				return n, errInvalidText()
			}
		}
		p.remain = 0
		return n, p.endFrame(pl, h)
	}
	n := len(data)
	if uint64(n) > p.remain {
		n = int(p.remain)
	}
	if control {
		p.reserve(n, len(p.buf)+int(p.remain))
	} else {
		p.reserve(n, p.maxMessage())
	}
	start := len(p.buf)
	p.buf = append(p.buf, data[:n]...)
	chunk := p.buf[start:]
	p.mask = maskBytes(chunk, p.mask)
	p.remain -= uint64(n)
	if control {
		p.ctrl += uint8(n)
		if p.remain > 0 {
			return n, nil
		}
		pl := p.buf[len(p.buf)-int(p.ctrl):]
		pl = pl[:len(pl):len(pl)]
		p.buf = p.buf[:len(p.buf)-int(p.ctrl)]
		p.ctrl = 0
		err := p.endFrame(pl, h)
		if len(p.buf) == 0 {
			p.buf = nil
		}
		return n, err
	}
	if p.msgOp == OpText && !p.packed {
		var ok bool
		if p.utf, ok = validUTF8(p.utf, chunk); !ok {
			return n, errInvalidText()
		}
	}
	if p.remain > 0 {
		return n, nil
	}
	return n, p.endFrame(p.buf, h)
}

// reserve makes room for n more bytes in p.buf, growing it geometrically
// (from 512 bytes) but never beyond max bytes, where max >= len(p.buf)+n is
// the message limit for data and the end of the frame for a control frame.
func (p *Parser) reserve(n, max int) {
	need := len(p.buf) + n
	if need <= cap(p.buf) {
		return
	}
	c := 2 * cap(p.buf)
	if c < 512 {
		c = 512
	}
	if c > max {
		c = max
	}
	if c < need {
		c = need
	}
	nb := make([]byte, len(p.buf), c)
	copy(nb, p.buf)
	p.buf = nb
}

// endFrame finishes the current frame, whose complete payload is pl for a
// control frame and for the last frame of a message (the whole message).
func (p *Parser) endFrame(pl []byte, h Handler) *CloseError {
	p.state = stHeader
	op := Opcode(p.b0 & 0x0F)
	if op.IsControl() {
		if op == OpClose {
			if err := checkClose(pl); err != nil {
				return err
			}
			h.OnControl(op, pl)
			*p = Parser{lim: p.lim, state: stClosed, deflate: p.deflate}
			return nil
		}
		h.OnControl(op, pl)
		return nil
	}
	if p.b0&0x80 == 0 {
		return nil // more fragments to come
	}
	if p.msgOp == OpText && p.utf != 0 {
		return errInvalidText()
	}
	msgOp, packed := p.msgOp, p.packed
	p.msgOp, p.frames, p.utf, p.packed = 0, 0, 0, false
	var err *CloseError
	if packed {
		err = p.inflate(msgOp, pl, h)
	} else {
		h.OnMessage(msgOp, pl)
	}
	p.buf = nil
	return err
}

// errInvalidText is the error for a text message that is not UTF-8.
func errInvalidText() *CloseError {
	return closeError(CloseInvalidPayload, "invalid UTF-8 in text message")
}
