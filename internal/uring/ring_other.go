//go:build !linux

package uring

import "errors"

// Ring is unavailable off Linux.
type Ring struct{}

// NotSent is the result of a send that the kernel never took.
const NotSent int32 = -1 << 20

// New reports that io_uring is unavailable.
func New(uint32) (*Ring, error) { return nil, errors.New("uring: io_uring needs Linux") }

// Entries returns 0.
func (*Ring) Entries() int { return 0 }

// Close does nothing.
func (*Ring) Close() error { return nil }

// SendAll never sends.
func (*Ring) SendAll(fds []int, bufs [][]byte, res []int32) error {
	return errors.New("uring: io_uring needs Linux")
}
