package load

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// maxInflated bounds one inflated message: the load generator's guard
// against a server that sends a deflate bomb.
const maxInflated = 16 << 20

// inflateTail is what RFC 7692 section 7.2.2 has the receiver append to
// a message's payload (the empty stored block its sender's sync flush
// ended with and removed), followed by an empty final stored block, so
// that the DEFLATE stream ends cleanly and a truncated message shows as
// an error.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// errInflate is returned by inflate for a payload that is not a DEFLATE
// stream, or inflates past its limit.
var errInflate = errors.New("load: permessage-deflate payload does not inflate")

// inflater is one pooled decompressor with its input.
type inflater struct {
	in  bytes.Buffer
	src bytes.Reader
	r   io.ReadCloser // a flate reader; a flate.Resetter
}

// inflaters are shared by every connection: with no context takeover a
// message needs no state from the one before, so no connection keeps a
// decompressor.
var inflaters = sync.Pool{New: func() any { return &inflater{r: flate.NewReader(nil)} }}

// inflate appends the decompression of one permessage-deflate message
// payload (as received: without the trailing 0x00 0x00 0xff 0xff) to
// dst. Each message inflates on its own, with a fresh window (the server
// has no context takeover); the output is bounded by limit bytes.
func inflate(dst, payload []byte, limit int) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.in.Reset()
	f.in.Write(payload)
	f.in.Write(inflateTail)
	f.src.Reset(f.in.Bytes())
	if err := f.r.(flate.Resetter).Reset(&f.src, nil); err != nil {
		return dst, errInflate
	}
	out := bytes.NewBuffer(dst)
	n, err := out.ReadFrom(io.LimitReader(f.r, int64(limit)+1))
	if err != nil || n > int64(limit) {
		return dst, errInflate
	}
	if f.in.Cap() > 64<<10 {
		f.in = bytes.Buffer{}
	}
	return out.Bytes(), nil
}
