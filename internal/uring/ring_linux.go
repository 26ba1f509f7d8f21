package uring

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel ABI (include/uapi/linux/io_uring.h).
const (
	opSend = 26 // IORING_OP_SEND

	offSQRing = 0          // IORING_OFF_SQ_RING
	offCQRing = 0x8000000  // IORING_OFF_CQ_RING
	offSQEs   = 0x10000000 // IORING_OFF_SQES

	featSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP
	setupSubmitAll = 1 << 7 // IORING_SETUP_SUBMIT_ALL: an SQE's error does not stop the batch
	enterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS
)

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

type sqe struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	msgFlags uint32
	userData uint64
	bufIndex uint16
	person   uint16
	spliceFD int32
	addr3    uint64
	pad      uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// Ring is one io_uring instance with its rings mapped.
type Ring struct {
	fd      int
	entries uint32 // SQ entries: the most sends one enter submits

	ringMem, cqMem, sqeMem []byte // mappings (cqMem nil with a single mmap)

	sqHead, sqTail, sqMask *uint32
	sqArray                []uint32
	sqes                   []sqe
	cqHead, cqTail, cqMask *uint32
	cqes                   []cqe

	order []int  // the fds index of each send of the current chunk, in submission order
	gen   uint32 // the current chunk's number, in each send's user data
}

// New sets up a ring of at least entries submission slots (a power of two
// is used as is). It fails where the kernel has no io_uring or forbids it
// (ENOSYS, EPERM: /proc/sys/kernel/io_uring_disabled).
func New(entries uint32) (*Ring, error) {
	var p params
	p.flags = setupSubmitAll
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("uring: io_uring_setup: %w", errno)
	}
	r := &Ring{fd: int(fd), entries: p.sqEntries}
	if err := r.mmap(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mmap(p *params) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(cqe{})))
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	prot, flags := unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE
	if r.ringMem, err = unix.Mmap(r.fd, offSQRing, sqSize, prot, flags); err != nil {
		return fmt.Errorf("uring: mmap SQ ring: %w", err)
	}
	cq := r.ringMem
	if !single {
		if r.cqMem, err = unix.Mmap(r.fd, offCQRing, cqSize, prot, flags); err != nil {
			return fmt.Errorf("uring: mmap CQ ring: %w", err)
		}
		cq = r.cqMem
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(sqe{}))
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, prot, flags); err != nil {
		return fmt.Errorf("uring: mmap SQEs: %w", err)
	}
	sq := r.ringMem
	r.sqHead = (*uint32)(unsafe.Pointer(&sq[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&sq[p.sqOff.tail]))
	r.sqMask = (*uint32)(unsafe.Pointer(&sq[p.sqOff.ringMask]))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Pointer(&sq[p.sqOff.array])), p.sqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Pointer(&cq[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&cq[p.cqOff.tail]))
	r.cqMask = (*uint32)(unsafe.Pointer(&cq[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	return nil
}

// Entries returns the most sends one SendAll call submits per system call.
func (r *Ring) Entries() int { return int(r.entries) }

// Close unmaps the rings and closes the ring's descriptor.
func (r *Ring) Close() error {
	for _, m := range [][]byte{r.sqeMem, r.cqMem, r.ringMem} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	r.sqeMem, r.cqMem, r.ringMem = nil, nil, nil
	if r.fd < 0 {
		return nil
	}
	err := unix.Close(r.fd)
	r.fd = -1
	return err
}

// NotSent is the result of a send that the kernel never took (the enter
// failed): the caller writes those bytes another way.
const NotSent int32 = -1 << 20

// SendAll sends bufs[i] on socket fds[i] with MSG_DONTWAIT|MSG_NOSIGNAL,
// Entries() sends per io_uring_enter, and stores each send's result in
// res[i]: the bytes the socket took (possibly fewer than len(bufs[i])), a
// negated errno (-EAGAIN: it took none now), or NotSent. Several sends
// to one socket complete in an unspecified order, so a caller passes each
// socket at most once. An empty buffer is not sent (its result is 0). It
// returns an error only when the ring itself failed; the results are
// then still valid, the sends not taken being NotSent.
func (r *Ring) SendAll(fds []int, bufs [][]byte, res []int32) error {
	if len(fds) != len(bufs) || len(res) < len(fds) {
		return errors.New("uring: SendAll: fds, bufs and res differ in length")
	}
	for i := 0; i < len(fds); {
		n, err := r.sendChunk(fds[i:min(len(fds), i+int(r.entries))], bufs[i:], res[i:])
		i += n
		if err != nil {
			for ; i < len(fds); i++ {
				res[i] = NotSent
			}
			return err
		}
	}
	runtime.KeepAlive(bufs)
	return nil
}

// sendChunk submits at most r.entries sends and waits for them; it
// returns how many of fds it handled.
func (r *Ring) sendChunk(fds []int, bufs [][]byte, res []int32) (int, error) {
	tail := atomic.LoadUint32(r.sqTail)
	mask := *r.sqMask
	queued := uint32(0)
	r.order = r.order[:0]
	r.gen++ // a completion of an earlier chunk that failed is ignored
	for i, fd := range fds {
		b := bufs[i]
		res[i] = 0
		if len(b) == 0 {
			continue
		}
		idx := (tail + queued) & mask
		r.sqes[idx] = sqe{
			opcode:   opSend,
			fd:       int32(fd),
			addr:     uint64(uintptr(unsafe.Pointer(&b[0]))),
			len:      uint32(len(b)),
			msgFlags: unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL,
			userData: uint64(r.gen)<<32 | uint64(i),
		}
		r.sqArray[idx] = idx
		res[i] = NotSent
		r.order = append(r.order, i)
		queued++
	}
	if queued == 0 {
		return len(fds), nil
	}
	atomic.StoreUint32(r.sqTail, tail+queued)
	submitted, got := uint32(0), uint32(0)
	var err error
	for got < queued {
		toSubmit := queued - submitted
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(queued-got), enterGetEvents, 0, 0)
		if errno != 0 && errno != unix.EINTR && errno != unix.EAGAIN && errno != unix.EBUSY {
			err = fmt.Errorf("uring: io_uring_enter: %w", errno)
		}
		if errno == 0 {
			submitted += uint32(n)
		}
		got += r.reap(res)
		if err != nil {
			break
		}
	}
	if err != nil {
		// Take back what the kernel did not consume; those stay NotSent.
		// What it consumed completes inline (MSG_DONTWAIT): reap it.
		head := atomic.LoadUint32(r.sqHead)
		atomic.StoreUint32(r.sqTail, head)
		consumed := head - tail
		for got < consumed {
			n := r.reap(res)
			if n == 0 {
				break
			}
			got += n
		}
		for _, i := range r.order[:consumed] {
			if res[i] == NotSent { // taken, not completed: its fate is unknown
				res[i] = -int32(unix.EIO)
			}
		}
	}
	runtime.KeepAlive(bufs)
	return len(fds), err
}

// reap stores the results of the completions waiting in the CQ ring and
// returns how many belong to the current chunk (a late one of an earlier
// chunk is dropped).
func (r *Ring) reap(res []int32) uint32 {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	mask := *r.cqMask
	n := uint32(0)
	for h := head; h != tail; h++ {
		c := &r.cqes[h&mask]
		if i := c.userData & 0xffffffff; c.userData>>32 == uint64(r.gen) && i < uint64(len(res)) {
			res[i] = c.res
			n++
		}
	}
	atomic.StoreUint32(r.cqHead, tail)
	return n
}
