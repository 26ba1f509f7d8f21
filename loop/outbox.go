package loop

import (
	"encoding/json"
	"errors"
	"sync"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// Errors returned by Conn.Send.
var (
	// ErrClosed: the connection is closing or closed; nothing was queued.
	ErrClosed = errors.New("loop: connection closed")
	// ErrSlowConsumer: the queue was full and the policy is Disconnect; the
	// connection is being closed with 4002.
	ErrSlowConsumer = errors.New("loop: slow consumer disconnected")
	// ErrDropped: the queue was full and the policy is Drop; the frame was
	// not queued and the client will get a "dropped" notice.
	ErrDropped = errors.New("loop: frame dropped, queue full")
)

// CloseSlowConsumer is the close code for a connection whose queue overflowed.
const CloseSlowConsumer = 4002

// maxDropRooms caps the room names listed in one "dropped" notice.
const maxDropRooms = 16

// entry is one queued server→client frame. out is nil for the "dropped"
// notice, whose payload is built when it is written.
type entry struct {
	out *frame.Outgoing
	seq uint64
}

// outbox is a connection's outbound state. It is guarded by Conn.mu; only
// the connection's flusher takes entries out.
type outbox struct {
	ring      []entry // power-of-two capacity; nil while empty
	head, n   int
	appFrames int // queued application (non-$) frames
	bytes     int // queued body bytes
	seq       uint64

	pong      []byte // payload of the one pending pong
	pongReady bool
	ping      bool

	closeQueued, closeSent, peerClosed bool
	closeCode                          uint16
	closeReason                        string

	dropped    int
	dropRooms  []string
	dropNotice bool // a notice entry is queued
}

// smallRings recycles the smallest ring size, the one almost every
// connection uses, so a burst to an idle connection allocates nothing.
var smallRings = sync.Pool{New: func() any { r := make([]entry, smallRing); return &r }}

const smallRing = 8

func (o *outbox) push(e entry) {
	if o.n == len(o.ring) {
		o.grow()
	}
	o.ring[(o.head+o.n)&(len(o.ring)-1)] = e
	o.n++
}

func (o *outbox) grow() {
	if o.ring == nil {
		o.ring = *smallRings.Get().(*[]entry)
		o.head = 0
		return
	}
	bigger := make([]entry, 2*len(o.ring))
	for i := 0; i < o.n; i++ {
		bigger[i] = o.ring[(o.head+i)&(len(o.ring)-1)]
	}
	o.ring, o.head = bigger, 0
}

func (o *outbox) pop() entry {
	i := o.head
	e := o.ring[i]
	o.ring[i] = entry{}
	o.head = (i + 1) & (len(o.ring) - 1)
	o.n--
	if o.n == 0 {
		o.release()
	}
	return e
}

// release gives an empty ring back.
func (o *outbox) release() {
	if len(o.ring) == smallRing {
		r := o.ring
		smallRings.Put(&r)
	}
	o.ring, o.head = nil, 0
}

// discard empties the queue, for a connection that will not read it.
func (o *outbox) discard(e *Engine) {
	for o.n > 0 {
		o.pop()
	}
	e.queued.Add(-int64(o.bytes))
	o.bytes, o.appFrames = 0, 0
}

// Send queues out for the connection and assigns it the connection's next
// seq (control frames included). It never blocks. When the queue is full
// it applies the engine's policy to application frames (ErrSlowConsumer or
// ErrDropped); control frames are never dropped, but a connection that
// fills even their reserve is closed with 4002.
func (c *Conn) Send(out *frame.Outgoing) error {
	return c.send(out, false)
}

// SendFirst is Send for the connection's first frame ($welcome), which
// carries no seq.
func (c *Conn) SendFirst(out *frame.Outgoing) error {
	return c.send(out, true)
}

func (c *Conn) send(out *frame.Outgoing, noSeq bool) error {
	cfg := &c.eng.cfg
	size := len(out.Body(c.codec))
	control := out.Control()

	c.mu.Lock()
	o := &c.out
	if o.closeQueued || c.state.Load() != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	full := false
	if control {
		full = o.n-o.appFrames >= cfg.ControlFrames
	} else {
		full = o.appFrames >= cfg.QueueFrames || o.bytes+size > cfg.QueueBytes
	}
	if full && !control && cfg.Policy == Drop {
		o.dropped++
		o.noteDropRoom(out.Frame().Room)
		notify := !o.dropNotice
		if notify {
			o.dropNotice = true
			o.seq++
			o.push(entry{seq: o.seq})
		}
		c.mu.Unlock()
		if notify {
			c.markDirty()
		}
		return ErrDropped
	}
	if full {
		c.mu.Unlock()
		c.closeWith(CloseSlowConsumer, "slow consumer", true)
		return ErrSlowConsumer
	}
	var seq uint64
	if !noSeq {
		o.seq++
		seq = o.seq
	}
	o.push(entry{out: out, seq: seq})
	o.bytes += size
	if !control {
		o.appFrames++
	}
	c.mu.Unlock()
	c.eng.queued.Add(int64(size))
	c.markDirty()
	return nil
}

func (o *outbox) noteDropRoom(room string) {
	if room == "" || len(o.dropRooms) >= maxDropRooms {
		return
	}
	for _, r := range o.dropRooms {
		if r == room {
			return
		}
	}
	o.dropRooms = append(o.dropRooms, room)
}

// queuePong keeps only the latest ping's payload: at most one pong is ever
// pending (RFC 6455 §5.5.3 allows answering only the most recent ping).
func (c *Conn) queuePong(payload []byte) {
	c.mu.Lock()
	c.out.pong = append(c.out.pong[:0], payload...)
	c.out.pongReady = true
	c.mu.Unlock()
	c.markDirty()
}

// queuePing asks the flusher to send a ping.
func (c *Conn) queuePing() {
	c.mu.Lock()
	c.out.ping = true
	c.mu.Unlock()
	c.markDirty()
}

// appendPending appends to buf, as WebSocket frames, whatever is pending:
// a pong, a ping, queued frames up to maxWriteChunk bytes, and the close
// frame once the queue is empty. It returns the body bytes it took from
// the queue. Called by the flusher with c.mu held.
func (o *outbox) appendPending(buf []byte, codec frame.Codec) ([]byte, int) {
	if o.pongReady {
		buf = wsproto.AppendFrame(buf, wsproto.OpPong, o.pong)
		o.pongReady = false
		o.pong = nil
	}
	if o.ping {
		buf = wsproto.AppendFrame(buf, wsproto.OpPing, nil)
		o.ping = false
	}
	op := wsproto.OpText
	if codec.Binary() {
		op = wsproto.OpBinary
	}
	taken := 0
	for o.n > 0 {
		e := o.ring[o.head]
		if len(buf) > 0 && len(buf)+o.peekLen(e, codec) > maxWriteChunk {
			break // the next write takes it
		}
		o.pop()
		var body []byte
		if e.out == nil {
			body = o.takeDropNotice().Body(codec)
		} else {
			body = e.out.Body(codec)
			taken += len(body)
			if !e.out.Control() {
				o.appFrames--
			}
		}
		buf = wsproto.AppendHeader(buf, op, codec.MessageLen(e.seq, body))
		buf = codec.AppendMessage(buf, e.seq, body)
	}
	o.bytes -= taken
	if o.closeQueued && !o.closeSent && o.n == 0 {
		buf = o.appendClose(buf)
	}
	return buf, taken
}

// peekLen is about the bytes e takes on the wire (the drop notice counts
// as small).
func (o *outbox) peekLen(e entry, codec frame.Codec) int {
	if e.out == nil {
		return 256
	}
	return len(e.out.Body(codec)) + 24
}

func (o *outbox) appendClose(buf []byte) []byte {
	o.closeSent = true
	return wsproto.AppendClose(buf, o.closeCode, o.closeReason)
}

// takeDropNotice builds the coalesced "dropped" $error and resets the count.
func (o *outbox) takeDropNotice() *frame.Outgoing {
	payload, _ := json.Marshal(struct {
		Code    string   `json:"code"`
		Message string   `json:"message"`
		Count   int      `json:"count"`
		Rooms   []string `json:"rooms"`
	}{"dropped", "frames dropped: the client reads too slowly", o.dropped, o.dropRooms})
	o.dropped, o.dropRooms, o.dropNotice = 0, nil, false
	return frame.NewOutgoing(frame.Frame{Event: "$error", Kind: frame.JSONPayload, Payload: payload})
}
