// Package deflate holds the raw DEFLATE work of permessage-deflate (RFC
// 7692) with no context takeover in either direction: compressing one
// message body on its own, and inflating one message with a hard bound on
// its size. Writers and readers of compress/flate are pooled; nothing is
// kept per connection.
//
// Every function is safe for concurrent use.
package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// tail is the empty stored block a sync flush ends with; RFC 7692 7.2.1
// removes it from every message and the receiver puts it back.
var tail = []byte{0x00, 0x00, 0xff, 0xff}

// Level is the compression level: compress/flate's BestSpeed. A message
// is compressed once per broadcast, but the sender pays for it on its
// own, and chat JSON gains little from the slower levels.
const Level = flate.BestSpeed

var (
	writers = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, Level) // cannot fail for a valid level
		return w
	}}
	readers = sync.Pool{New: func() any { return flate.NewReader(nil) }}

	compressions atomic.Uint64
)

// Compressions returns how many bodies Compress has compressed since the
// process started (for tests and metrics).
func Compressions() uint64 { return compressions.Load() }

// Compress appends src compressed as the body of one permessage-deflate
// message: a fresh DEFLATE stream (no earlier message referenced), sync
// flushed, without the trailing 0x00 0x00 0xff 0xff. Its blocks are not
// final and it ends on a byte boundary, so other blocks may come before
// it (see AppendStored).
func Compress(dst, src []byte) []byte {
	compressions.Add(1)
	buf := bytes.NewBuffer(dst)
	w := writers.Get().(*flate.Writer)
	w.Reset(buf)
	_, _ = w.Write(src) // a bytes.Buffer never fails
	_ = w.Flush()
	w.Reset(nil)
	writers.Put(w)
	out := buf.Bytes()
	if bytes.HasSuffix(out[len(dst):], tail) {
		out = out[:len(out)-len(tail)]
	}
	return out
}

// StoredLen is the length of the stored block header AppendStored writes.
const StoredLen = 5

// AppendStored appends raw (at most 65535 bytes) as one non-final stored
// DEFLATE block starting on a byte boundary. A per-recipient prefix (a
// seq) goes this way before a body shared by every recipient.
func AppendStored(dst, raw []byte) []byte {
	n := len(raw)
	dst = append(dst, 0x00, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
	return append(dst, raw...)
}

// ErrTooBig is returned by Inflate for a message over its limit.
var ErrTooBig = errors.New("deflate: message too big")

// ErrCorrupt is returned by Inflate for data that is not DEFLATE.
var ErrCorrupt = errors.New("deflate: invalid compressed data")

// Inflate appends the decompression of one message's payload (as sent:
// without the trailing 0x00 0x00 0xff 0xff) to dst. It fails with
// ErrTooBig as soon as the output would pass limit bytes, having grown
// dst to at most limit+1 bytes past its length, geometrically from 512,
// so a bomb costs no more than the limit. Every message starts a fresh
// window: the peer must not use context takeover.
func Inflate(dst, payload []byte, limit int) ([]byte, error) {
	in := multi{parts: [2][]byte{payload, tail}}
	r := readers.Get().(io.ReadCloser)
	defer readers.Put(r)
	if err := r.(flate.Resetter).Reset(&in, nil); err != nil {
		return dst, ErrCorrupt
	}
	start := len(dst)
	for {
		if len(dst)-start > limit {
			return dst, ErrTooBig
		}
		if len(dst) == cap(dst) {
			grow := max(512, cap(dst)-start)
			grow = min(grow, limit+1-(len(dst)-start))
			nb := make([]byte, len(dst), len(dst)+grow)
			copy(nb, dst)
			dst = nb
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		switch {
		case err == io.EOF || (err == io.ErrUnexpectedEOF && in.done()):
			// The sync-flush tail ends the data without a final block:
			// flate reports the input's end once everything is out.
			if len(dst)-start > limit {
				return dst, ErrTooBig
			}
			return dst, nil
		case err != nil:
			return dst, ErrCorrupt
		}
	}
}

// multi reads its parts in turn; it is an io.ByteReader so that flate
// reads no further than it needs.
type multi struct {
	parts [2][]byte
	i     int
}

func (m *multi) done() bool { return m.i == len(m.parts) }

func (m *multi) Read(p []byte) (int, error) {
	for m.i < len(m.parts) && len(m.parts[m.i]) == 0 {
		m.i++
	}
	if m.i == len(m.parts) {
		return 0, io.EOF
	}
	n := copy(p, m.parts[m.i])
	m.parts[m.i] = m.parts[m.i][n:]
	return n, nil
}

func (m *multi) ReadByte() (byte, error) {
	for m.i < len(m.parts) && len(m.parts[m.i]) == 0 {
		m.i++
	}
	if m.i == len(m.parts) {
		return 0, io.EOF
	}
	b := m.parts[m.i][0]
	m.parts[m.i] = m.parts[m.i][1:]
	return b, nil
}

// PatchStored sets the length of the stored block header at the start of
// hdr (as AppendStored wrote it) to n, for a block whose bytes were
// appended after the header.
func PatchStored(hdr []byte, n int) {
	_ = hdr[StoredLen-1]
	hdr[1], hdr[2], hdr[3], hdr[4] = byte(n), byte(n>>8), ^byte(n), ^byte(n>>8)
}
