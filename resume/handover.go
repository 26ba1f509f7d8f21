package resume

import (
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
)

// A session resumed on another server of a cluster moves there with its
// stream: the old server hands over the frames its client has not
// confirmed (Handover), and the new one continues the stream from them
// (Adopt), so that the client's seq runs on without a gap or a repeat.

// CheckResume returns the error Attach would return for a resume after
// lastSeq (nil if it would succeed), changing nothing.
func (s *Stream) CheckResume(lastSeq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkResumeLocked(lastSeq)
}

func (s *Stream) checkResumeLocked(lastSeq uint64) error {
	switch {
	case s.ended:
		return ErrClosed
	case lastSeq == FromOldest:
		return nil
	case lastSeq > s.last:
		return ErrInvalidSeq
	case lastSeq+1 < s.first:
		return ErrGap
	}
	return nil
}

// Handover ends the stream for its move to another server: it returns the
// frames after lastSeq, in order (the first is seq lastSeq+1), and the
// highest seq assigned, or the error Attach would return. The attached
// transport, if any, is returned detached, for the caller to close. Later
// Sends fail with ErrClosed.
func (s *Stream) Handover(lastSeq uint64) (frames []frame.Frame, last uint64, conn *loop.Conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkResumeLocked(lastSeq); err != nil {
		return nil, 0, nil, err
	}
	if lastSeq == FromOldest {
		lastSeq = s.first - 1
	}
	for s.held() > 0 && s.first <= lastSeq {
		s.popFirst()
	}
	frames = make([]frame.Frame, 0, s.held())
	for i := range s.held() {
		out := s.at(i).out
		if out == nil {
			out = s.takeDropNotice()
		}
		frames = append(frames, *out.Frame())
	}
	last, conn = s.last, s.conn
	s.conn = nil
	s.ended = true
	for s.held() > 0 {
		s.popFirst()
	}
	return frames, last, conn, nil
}

// Adopt returns a stream that continues one handed over by another
// server: frames are its seqs last-len(frames)+1 … last, held for the next
// Attach; the next frame sent is last+1.
func (ss *Streams) Adopt(frames []frame.Frame, last uint64) *Stream {
	s := ss.New()
	start := last - uint64(len(frames))
	s.first, s.last, s.sent = start+1, start, start
	for _, f := range frames {
		out := frame.NewOutgoing(f)
		s.push(entry{out: out, size: int32(len(out.Body(s.codec))), control: out.Control()})
	}
	// Until a transport attaches (and sets the window), what the old
	// server held is within bounds here too.
	s.window = s.heldBytes
	return s
}
