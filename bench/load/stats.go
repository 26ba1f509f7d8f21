package load

import (
	"sync"
	"sync/atomic"
)

// Stats counts what the load generator saw across a pool's connections.
// It is safe for concurrent use.
type Stats struct {
	Received  atomic.Int64 // whole server messages parsed
	Malformed atomic.Int64 // messages or frames that were not what the protocol says
	SeqErrors atomic.Int64 // a seq that was not the previous one plus one
	Closed    atomic.Int64 // connections that ended (either side)
	Pings     atomic.Int64 // WebSocket pings received (and answered)
	// WireBytes counts every byte read from the connections' sockets
	// after their upgrade responses: frame headers and payloads as sent,
	// compressed where they came compressed.
	WireBytes atomic.Int64
	Inflated  atomic.Int64 // messages that came compressed and were inflated
	Deflate   atomic.Int64 // connections whose server accepted permessage-deflate
	mu        sync.Mutex
	codes     map[uint16]int // close codes received from the server
}

// closeCode counts a close code received from the server.
func (s *Stats) closeCode(code uint16) {
	s.mu.Lock()
	if s.codes == nil {
		s.codes = make(map[uint16]int)
	}
	s.codes[code]++
	s.mu.Unlock()
}

// CloseCodes returns a copy of the close codes received, by count.
func (s *Stats) CloseCodes() map[uint16]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[uint16]int, len(s.codes))
	for k, v := range s.codes {
		m[k] = v
	}
	return m
}
