package resume

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/deflate"
	"github.com/roomloop/roomloop/loop"
)

// Errors of Stream.
var (
	// ErrClosed: the stream has ended; nothing was queued.
	ErrClosed = errors.New("resume: stream ended")
	// ErrSlowConsumer: the queue was full and the policy is Disconnect. The
	// transport is being closed with 4002 and the stream detached (the
	// frame is kept for a resume).
	ErrSlowConsumer = errors.New("resume: slow consumer disconnected")
	// ErrDropped: the queue was full and the policy is Drop; the frame was
	// not queued and the client will get a "dropped" notice.
	ErrDropped = errors.New("resume: frame dropped, queue full")
	// ErrGap: a frame after the requested seq is no longer held.
	ErrGap = errors.New("resume: replay gap")
	// ErrInvalidSeq: the requested seq is above the stream's highest.
	ErrInvalidSeq = errors.New("resume: seq above the highest assigned")
)

// Close codes a Stream closes its connection with.
const (
	CloseSlowConsumer = 4002 // the queue was full (Disconnect policy)
	CloseReplaced     = 4003 // another connection resumed the session
	// CloseTokenExpired: the credential the session was admitted or
	// refreshed with expired (api.Identity.Expires); the session is
	// suspended, so a client with a fresh credential resumes it.
	CloseTokenExpired = 4004
)

// CloseResuming is the close code a client sends when it leaves a
// connection it means to resume at once (a link it found dead, a server
// frame it could not read): the session is suspended, not ended. A
// script cannot close with 1001 or without a close frame, so it needs a
// code of its own for this.
const CloseResuming = 4000

// maxDropRooms caps the room names listed in one "dropped" notice.
const maxDropRooms = 16

// entry is one frame of a stream. out is nil for a "dropped" notice until
// it is first written (then it holds the notice, so a replay repeats it).
type entry struct {
	out     *frame.Outgoing
	size    int32 // body bytes, as accounted
	control bool
}

// Stream is one session's outbound frames. It gives each frame the next
// seq (1, 2, 3, …), queues it for the attached transport, and keeps every
// frame it wrote until the client confirms it (a pong to a ping sent
// after it, or $seen), so that a new transport can resume after any seq
// the client may have processed. What is written and unconfirmed is
// bounded by the window (Config.ReplayFrames frames, and what TCP can
// hold in flight for the connection plus Config.ReplayBytes in bytes):
// at the window, writing waits for a confirmation and asks for one at
// once (a ping), and frames wait in the queue, whose bound then meets the
// slow-consumer policy. A stream outlives transports: a frame sent while
// none is attached waits for the next, within the suspended bound (see
// trim). The queue and the replay buffer are one ring; nothing is
// allocated while it is empty. Its methods are safe for concurrent use.
type Stream struct {
	out *Streams

	mu    sync.Mutex
	conn  *loop.Conn  // attached transport; nil while suspended
	codec frame.Codec // the attached transport's
	ring  []entry     // power-of-two capacity; nil while empty
	first uint64      // seq of the oldest entry held (last+1 when none): ring[head]
	last  uint64      // highest seq assigned
	sent  uint64      // highest seq written to the attached transport, or confirmed

	backlog     uint64 // frames up to this seq were owed at Attach: not counted below
	queuedApp   int    // application frames with seq > max(sent, backlog)
	queuedBytes int    // their bytes
	queuedCtl   int    // control frames with seq > max(sent, backlog)
	heldBytes   int    // bytes of every entry held

	// unconfirmed bytes: of the entries held with seq <= sent (written,
	// not confirmed). window: the byte window of the latest transport.
	unconfBytes, window int
	// Written since the last ping the stream asked for; waiting: the
	// window stopped a write, and a confirmation wakes the transport.
	sinceFrames, sinceBytes int

	drops      *drops // since the last notice; nil until a frame is dropped
	head       int32  // ring index of seq first (rings are far below 2^31)
	waiting    bool
	dropNotice bool // a "dropped" notice is queued and not yet written
	ended      bool
}

// drops are the frames a Drop policy dropped since the last notice: a
// stream allocates them with its first drop and lets go of them with the
// notice, so that a stream that never drops pays one pointer for them.
type drops struct {
	count int
	rooms []string // at most maxDropRooms, each once
}

// New returns an empty stream whose first frame will be seq 1.
func (ss *Streams) New() *Stream {
	return &Stream{out: ss, first: 1, codec: frame.JSON}
}

// Send queues out and gives it the stream's next seq. It never blocks.
// With a transport attached and its queue full (Config.QueueFrames,
// QueueBytes), application frames meet the policy: ErrDropped (not
// queued) or ErrSlowConsumer (queued, transport closed with 4002, stream
// detached). Control frames are never dropped, but filling their reserve
// (Config.ControlFrames) also closes the transport with 4002. Without a
// transport the frame is held for a resume, within the replay bound.
func (s *Stream) Send(out *frame.Outgoing) error {
	cfg := &s.out.cfg
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return ErrClosed
	}
	size := len(out.Body(s.codec))
	control := out.Control()
	conn := s.conn
	var err error
	if conn != nil {
		full := false
		if control {
			// Control frames share the queue and have ControlFrames
			// more: a burst of them (presence in a busy room) fits as
			// long as the client reads.
			full = s.queuedCtl+s.queuedApp >= cfg.QueueFrames+cfg.ControlFrames
		} else {
			full = s.queuedApp >= cfg.QueueFrames || s.queuedBytes+size > cfg.QueueBytes
		}
		if full && !control && cfg.Policy == Drop {
			s.out.dropped.Add(1)
			notify := s.noteDrop(out.Frame().Room)
			s.mu.Unlock()
			if notify {
				conn.Wake()
			}
			return ErrDropped
		}
		if full {
			s.conn = nil // suspended from here on; the frame is kept
			err = ErrSlowConsumer
		}
	}
	s.push(entry{out: out, size: int32(size), control: control})
	s.trim()
	s.mu.Unlock()
	switch {
	case err != nil:
		s.out.slow.Add(1)
		conn.SetSource(nil, nil)
		conn.Abort(CloseSlowConsumer, "slow consumer")
	case conn != nil:
		conn.Wake()
	}
	return err
}

// noteDrop counts a dropped frame and queues a notice unless one waits
// already. It reports whether a notice was queued. Called with s.mu held.
func (s *Stream) noteDrop(room string) bool {
	if s.drops == nil {
		s.drops = new(drops)
	}
	d := s.drops
	d.count++
	if room != "" && len(d.rooms) < maxDropRooms && !slices.Contains(d.rooms, room) {
		d.rooms = append(d.rooms, room)
	}
	if s.dropNotice {
		return false
	}
	s.dropNotice = true
	s.push(entry{control: true})
	return true
}

// held returns how many entries the ring holds: seqs first to last.
func (s *Stream) held() int { return int(s.last + 1 - s.first) }

// at returns the ring's i-th entry from the oldest (seq first+i).
func (s *Stream) at(i int) *entry { return &s.ring[(int(s.head)+i)&(len(s.ring)-1)] }

// push appends e as seq last+1.
func (s *Stream) push(e entry) {
	if s.held() == len(s.ring) {
		s.grow()
	}
	*s.at(s.held()) = e
	s.last++
	s.heldBytes += int(e.size)
	s.out.queued.Add(int64(e.size))
	if e.control {
		s.queuedCtl++
	} else {
		s.queuedApp++
		s.queuedBytes += int(e.size)
	}
}

func (s *Stream) grow() {
	if s.ring == nil {
		s.ring = *smallRings.Get().(*[]entry)
		s.head = 0
		return
	}
	bigger := make([]entry, 2*len(s.ring))
	for i := range s.held() {
		bigger[i] = *s.at(i)
	}
	s.ring, s.head = bigger, 0
}

// shrink moves the entries of a ring at most an eighth full (and larger
// than the small ring) into one a quarter its size, so that a burst does
// not cost a session its largest ring for as long as frames keep coming.
func (s *Stream) shrink() {
	if n := s.held(); len(s.ring) <= smallRing || n > len(s.ring)/8 || n == 0 {
		return
	}
	smaller := make([]entry, len(s.ring)/4)
	for i := range s.held() {
		smaller[i] = *s.at(i)
	}
	s.ring, s.head = smaller, 0
}

// popFirst forgets the oldest entry.
func (s *Stream) popFirst() {
	e := s.at(0)
	s.heldBytes -= int(e.size)
	s.out.queued.Add(-int64(e.size))
	if s.first <= s.sent {
		s.unconfBytes -= int(e.size)
	} else { // it was never written: it leaves the queue too
		if s.first > s.backlog {
			s.unqueue(e)
		}
		s.sent = s.first
	}
	*e = entry{}
	s.head = int32((int(s.head) + 1) & (len(s.ring) - 1))
	s.first++
	if s.held() == 0 {
		s.release()
	}
}

// unqueue takes e out of the live queue counts.
func (s *Stream) unqueue(e *entry) {
	if e.control {
		s.queuedCtl--
	} else {
		s.queuedApp--
		s.queuedBytes -= int(e.size)
	}
}

// trim enforces the bounds that evict frames, oldest first (a resume
// from before them then gets a gap). With resumption off, a written frame
// is not kept. While a transport is attached nothing else is evicted:
// written frames wait for confirmation within the window, and queued ones
// are bounded by the queue. While suspended, the stream holds at most
// ReplayFrames+QueueFrames+ControlFrames frames and window+QueueBytes
// bytes: what was unconfirmed at the drop and a full queue after it.
func (s *Stream) trim() {
	cfg := &s.out.cfg
	for s.held() > 0 {
		if !cfg.keeps() && s.first <= s.sent {
			s.popFirst()
			continue
		}
		if s.conn == nil && (s.held() > cfg.ReplayFrames+cfg.QueueFrames+cfg.ControlFrames ||
			s.heldBytes > max(s.window, cfg.ReplayBytes)+cfg.QueueBytes) {
			s.popFirst()
			continue
		}
		return
	}
}

// unconfirmed returns how many written frames are held.
func (s *Stream) unconfirmed() int {
	if s.sent < s.first {
		return 0
	}
	return int(s.sent - s.first + 1)
}

// windowOf sets s.window to c's byte window: the socket's send buffer as
// the kernel reports it (what our side of TCP can hold in flight; Linux
// grows it to the path's bandwidth-delay product) plus ReplayBytes for
// what the peer's side and the path hold beyond it.
func (s *Stream) windowOf(c *loop.Conn) {
	s.window = s.out.cfg.ReplayBytes + c.SendBuffer()
}

// release gives an empty ring back.
func (s *Stream) release() {
	if len(s.ring) == smallRing {
		r := s.ring
		smallRings.Put(&r)
	}
	s.ring, s.head = nil, 0
}

// smallRings recycles the smallest ring size, the one almost every stream
// uses, so a burst to an idle session allocates nothing.
var smallRings = sync.Pool{New: func() any { r := make([]entry, smallRing); return &r }}

const smallRing = 8

// Last returns the highest seq assigned so far.
func (s *Stream) Last() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// FromOldest, as Attach's lastSeq, resumes from the oldest frame the
// stream holds: every frame not confirmed is written again. It serves
// clients that send no seq (at-least-once: a frame the client received
// but had not confirmed when its connection dropped comes twice).
const FromOldest = ^uint64(0)

// Attach makes c the stream's transport, speaking codec, resuming after
// seq lastSeq: frames up to lastSeq are dropped as confirmed and every
// later one is written to c, in order, after the preamble that welcome
// returns (called with the stream's highest seq, under its lock, so the
// two agree). A transport attached before is closed with 4003. It fails
// with ErrInvalidSeq if lastSeq is above the highest seq, ErrGap if a
// frame after lastSeq is no longer held, ErrClosed if the stream ended.
func (s *Stream) Attach(c *loop.Conn, codec frame.Codec, lastSeq uint64, welcome func(last uint64) *frame.Outgoing) error {
	s.mu.Lock()
	if lastSeq == FromOldest && !s.ended {
		lastSeq = s.first - 1
	}
	switch {
	case s.ended:
		s.mu.Unlock()
		return ErrClosed
	case lastSeq > s.last:
		s.mu.Unlock()
		return ErrInvalidSeq
	case lastSeq+1 < s.first:
		s.mu.Unlock()
		return ErrGap
	}
	for s.held() > 0 && s.first <= lastSeq {
		s.popFirst()
	}
	// Everything held after lastSeq is owed to the new transport. That
	// backlog is bounded already (trim) and does not count against the
	// live queue, or a resume with a backlog would be a slow consumer at
	// once.
	s.sent = lastSeq
	s.backlog = s.last
	s.queuedApp, s.queuedBytes, s.queuedCtl = 0, 0, 0
	s.unconfBytes, s.sinceFrames, s.sinceBytes, s.waiting = 0, 0, 0, false
	old := s.conn
	s.conn = c
	s.codec = codec
	pre := welcome(s.last)
	s.mu.Unlock()

	// The welcome goes first, without seq; the old transport still gets
	// its own if it had not been written.
	c.SetSource(s, appendMessage(nil, codec, 0, pre.Body(codec)))
	if old != nil && old != c {
		old.SetSource(nil, nil)
		old.Abort(CloseReplaced, "replaced by a resumed connection")
	}
	return nil
}

// Detach ends c's attachment, if it is the attached transport: the stream
// holds what follows for a resume.
func (s *Stream) Detach(c *loop.Conn) {
	s.mu.Lock()
	if s.conn == c {
		s.conn = nil
		s.trim()
	}
	s.mu.Unlock()
}

// Confirm frees frames up to seq, which the client has processed ($seen,
// or a pong), and shrinks a ring left mostly empty. Frames not yet
// written are never freed. A transport that waited for the confirmation
// is woken to write on.
func (s *Stream) Confirm(seq uint64) {
	s.mu.Lock()
	for s.held() > 0 && s.first <= min(seq, s.sent) {
		s.popFirst()
	}
	s.shrink()
	var wake *loop.Conn
	if s.waiting && s.conn != nil {
		s.waiting, wake = false, s.conn
	}
	s.mu.Unlock()
	if wake != nil {
		wake.Wake()
	}
}

// End frees everything; later Sends fail with ErrClosed.
func (s *Stream) End() {
	s.mu.Lock()
	s.ended = true
	s.conn = nil
	for s.held() > 0 {
		s.popFirst()
	}
	s.mu.Unlock()
}

// Held returns the frames and body bytes the stream holds.
func (s *Stream) Held() (frames, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held(), s.heldBytes
}

// Position returns the highest seq assigned so far (loop.Source).
func (s *Stream) Position() uint64 { return s.Last() }

// Written returns the highest seq written to c, or 0 if c is not the
// attached transport (loop.Source).
func (s *Stream) Written(c *loop.Conn) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return 0
	}
	return s.sent
}

// Received frees the frames up to seq that the client has received: a
// resume can never need them, since its last_seq counts frames the client
// processed and it processes what it received before it can learn of a
// drop (loop.Source).
func (s *Stream) Received(seq uint64) { s.Confirm(seq) }

// AppendTo appends to buf, as WebSocket frames in c's codec, the frames
// up to seq upTo not yet written to c, stopping before the frame that
// would take buf limit bytes past its start (never before the first), and
// marks them written. It also stops at the window: ReplayFrames written
// and unconfirmed frames, or a frame that would take the unconfirmed
// bytes past the window (never when none is unconfirmed); it then reports
// no more, and Confirm wakes c. It asks c for a ping (Conn.Probe) at the
// window, and once a quarter of ReplayFrames (at most 256) or of
// ReplayBytes was written since the last one, so that confirmations come
// while writing goes on and little stays held. It returns how many
// frames it appended and whether frames remain that may be written now.
// It appends nothing unless c is the attached transport (loop.Source;
// called by c's flusher).
func (s *Stream) AppendTo(c *loop.Conn, buf []byte, upTo uint64, limit int) (_ []byte, frames int, more bool) {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return buf, 0, false
	}
	cfg := &s.out.cfg
	keeps := cfg.keeps()
	deflateMin, deflate := c.Deflate()
	s.windowOf(c)
	codec := s.codec
	start, from := len(buf), s.sent
	end := min(upTo, s.last)
	full := false
	for s.sent < end {
		seq := s.sent + 1
		e := s.at(int(seq - s.first))
		if e.out == nil {
			e.out = s.takeDropNotice()
		}
		if keeps && s.unconfirmed() > 0 &&
			(s.unconfirmed() >= cfg.ReplayFrames || s.unconfBytes+int(e.size) > s.window) {
			full = true
			break
		}
		body := e.out.Body(codec)
		if len(buf) > start && len(buf)+len(body)+24 > start+limit {
			break // the next write takes it
		}
		if deflate && len(body) >= deflateMin {
			buf = appendDeflated(buf, codec, seq, e.out)
		} else {
			buf = appendMessage(buf, codec, seq, body)
		}
		s.sent = seq
		s.unconfBytes += int(e.size)
		s.sinceFrames++
		s.sinceBytes += int(e.size)
		if seq > s.backlog {
			s.unqueue(e)
		}
	}
	s.trim()
	probe := false
	if keeps {
		s.waiting = s.waiting || full
		// At the window a ping is due unless one was asked for after
		// the last write; before it, one per probeFrames or probeBytes.
		probe = (full && s.sinceFrames > 0) ||
			s.sinceFrames >= cfg.probeFrames() || s.sinceBytes >= cfg.probeBytes()
		if probe {
			s.sinceFrames, s.sinceBytes = 0, 0
		}
	}
	frames, more = int(s.sent-from), s.sent < end && !full
	s.mu.Unlock()
	if probe {
		c.Probe()
	}
	return buf, frames, more
}

// appendMessage appends one frame as a WebSocket message in codec; a
// frame.Framed codec's body is its messages already.
func appendMessage(buf []byte, codec frame.Codec, seq uint64, body []byte) []byte {
	if _, ok := codec.(frame.Framed); ok {
		return append(buf, body...)
	}
	buf = loop.AppendHeader(buf, codec.Binary(), codec.MessageLen(seq, body))
	return codec.AppendMessage(buf, seq, body)
}

// appendDeflated appends one frame as a WebSocket message compressed with
// permessage-deflate: its seq prefix in a stored block of its own, then
// the body compressed once for every recipient (Outgoing.Deflated). A
// frame that does not shrink, has no seq, or whose codec has no shared
// compressed body goes uncompressed, and so does every frame of a codec
// other than roomloop's own two (JSON, binary): another wire's body need
// not continue a seq prefix. It allocates nothing but the first
// compression of a frame.
func appendDeflated(buf []byte, codec frame.Codec, seq uint64, out *frame.Outgoing) []byte {
	if codec != frame.JSON && codec != frame.Binary {
		return appendMessage(buf, codec, seq, out.Body(codec))
	}
	body := out.Body(codec)
	packed := out.Deflated(codec)
	plen := codec.MessageLen(seq, body) - len(body)
	n := deflate.StoredLen + plen + len(packed)
	if seq == 0 || len(body) == 0 || packed == nil || plen < 0 || plen > 0xFFFF || n >= len(body)+plen {
		return appendMessage(buf, codec, seq, body)
	}
	buf = loop.AppendDeflatedHeader(buf, codec.Binary(), n)
	start := len(buf)
	// The prefix is the message for seq up to its body: the codec writes
	// it before body's first byte, which is then cut off.
	buf = deflate.AppendStored(buf, nil)
	buf = codec.AppendMessage(buf, seq, body[:1])
	buf = buf[:len(buf)-1]
	if len(buf)-start-deflate.StoredLen != plen {
		// A codec that does not write prefix+body: go uncompressed.
		return appendMessage(buf[:start-loop.HeaderLen(n)], codec, seq, body)
	}
	deflate.PatchStored(buf[start:], plen)
	return append(buf, packed...)
}

// takeDropNotice builds the coalesced "dropped" $error and resets the count.
func (s *Stream) takeDropNotice() *frame.Outgoing {
	var d drops
	if s.drops != nil {
		d = *s.drops
	}
	payload, _ := json.Marshal(frame.DroppedPayload{
		ErrorPayload: frame.ErrorPayload{Code: "dropped", Message: "frames dropped: the client reads too slowly"},
		Count:        d.count, Rooms: d.rooms})
	s.drops, s.dropNotice = nil, false
	return frame.NewOutgoing(frame.Frame{Event: "$error", Kind: frame.JSONPayload, Payload: payload})
}
