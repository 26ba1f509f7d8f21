package load

import (
	"encoding/binary"
	"sync"
)

// zcacheSize bounds an inflate cache: it forgets everything when it is
// full.
const zcacheSize = 256

// zcache remembers the inflated bodies of compressed messages, so that
// a broadcast that reaches many clients as the same compressed bytes is
// inflated once by the load generator instead of once per client
// (Config.InflateCache). A body is what follows an optional leading
// stored block (how roomloop puts a per-client seq before a body shared
// by every client); a message without one (gorilla's PreparedMessage) is
// all body. It is safe for concurrent use.
type zcache struct {
	mu     sync.Mutex
	bodies map[string][]byte // compressed body → inflated
	misses int64             // bodies inflated (tests)
}

// inflate appends the decompression of payload to dst, as the package's
// inflate does, taking the body's from the cache where it has it. A body
// that does not inflate on its own (valid, where it refers back into the
// stored block) is inflated with its prefix, uncached.
func (z *zcache) inflate(dst, payload []byte, limit int) ([]byte, error) {
	prefix, body := splitStored(payload)
	z.mu.Lock()
	out, ok := z.bodies[string(body)]
	z.mu.Unlock()
	if !ok {
		b, err := inflate(nil, body, limit)
		if err != nil {
			return inflate(dst, payload, limit)
		}
		out = b
		z.mu.Lock()
		if z.bodies == nil || len(z.bodies) >= zcacheSize {
			z.bodies = make(map[string][]byte, zcacheSize)
		}
		z.bodies[string(body)] = out
		z.misses++
		z.mu.Unlock()
	}
	if len(prefix)+len(out) > limit {
		return dst, errInflate
	}
	return append(append(dst, prefix...), out...), nil
}

// inflated returns how many bodies the cache has inflated; 0 for a nil
// cache.
func (z *zcache) inflated() int64 {
	if z == nil {
		return 0
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.misses
}

// splitStored splits payload after a leading non-final stored DEFLATE
// block starting on a byte boundary (header byte 0x00, LEN, NLEN),
// returning the block's bytes and the rest; with no such block, no
// prefix and the whole payload.
func splitStored(payload []byte) (prefix, body []byte) {
	if len(payload) < 5 || payload[0] != 0x00 {
		return nil, payload
	}
	n := binary.LittleEndian.Uint16(payload[1:])
	if ^n != binary.LittleEndian.Uint16(payload[3:]) || len(payload) < 5+int(n) {
		return nil, payload
	}
	return payload[5 : 5+int(n)], payload[5+int(n):]
}
