package client

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/roomloop/roomloop/frame"
)

// outFrame is a frame waiting to be sent, or sent and waiting for its
// answer.
type outFrame struct {
	// msg is the encoded message.
	msg []byte
	// id is the frame's id; "" for a frame nobody waits on.
	id string
	// done receives the answer: nil for $ack, an *Error otherwise. It is
	// buffered, so an answer never blocks on a caller that gave up.
	done chan error
	// after, if set, runs on the reader with the answer; an error it
	// returns is reported to OnError.
	after func(error) error
	// rejoin marks a $join the client sent on its own after a gap.
	rejoin bool
}

// isRejoin reports whether of is a rejoin.
func (of *outFrame) isRejoin() bool { return of.rejoin }

// answer delivers err as the frame's answer, and returns what its after
// hook has to report, if anything.
func (of *outFrame) answer(err error) error {
	if of.done != nil {
		select {
		case of.done <- err:
		default:
		}
	}
	if of.after != nil {
		return of.after(err)
	}
	return nil
}

// encode returns the client message for f: no seq.
func (c *Client) encode(f *frame.Frame) []byte {
	return c.codec.AppendMessage(nil, 0, c.codec.AppendBody(nil, f))
}

// request sends an application frame with an id and waits for its answer.
func (c *Client) request(ctx context.Context, f frame.Frame, payload any) error {
	if err := c.fill(&f, payload); err != nil {
		return err
	}
	return c.call(ctx, f, nil)
}

// fill checks an application frame and sets its payload.
func (c *Client) fill(f *frame.Frame, payload any) error {
	if f.Event == "" || strings.HasPrefix(f.Event, "$") {
		return &Error{Code: CodeBadRequest, Message: "event " + strconv.Quote(f.Event) + " is empty or reserved ($…)"}
	}
	var err error
	f.Kind, f.Payload, err = payloadOf(payload)
	return err
}

// call queues f with a fresh id and waits for its answer, or for ctx. A
// call whose ctx ends before the frame was sent takes it back; one already
// sent stays unanswered (and is sent again after a resume), since the
// server may have applied it.
func (c *Client) call(ctx context.Context, f frame.Frame, after func(error) error) error {
	of := &outFrame{done: make(chan error, 1), after: after}
	if err := c.enqueue(of, &f); err != nil {
		return err
	}
	select {
	case err := <-of.done:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		if i := slices.Index(c.queue, of); i >= 0 {
			c.queue = slices.Delete(c.queue, i, i+1)
		}
		c.mu.Unlock()
		select {
		case err := <-of.done: // answered meanwhile
			return err
		default:
			return ctx.Err()
		}
	}
}

// send queues f, which nobody waits on.
func (c *Client) send(f frame.Frame) error {
	return c.enqueue(&outFrame{}, &f)
}

// enqueue gives of an id (when someone waits on it) and its message, and
// queues it; ErrBufferFull when the queue is full, ErrClosed after Close.
func (c *Client) enqueue(of *outFrame, f *frame.Frame) error {
	c.mu.Lock()
	switch {
	case c.closing:
		c.mu.Unlock()
		return ErrClosed
	case len(c.queue) >= c.opts.SendBuffer:
		c.mu.Unlock()
		return ErrBufferFull
	}
	if of.done != nil || of.after != nil {
		c.nextID++
		of.id = "c" + strconv.FormatUint(c.nextID, 10)
		f.ID = of.id
	}
	of.msg = c.encode(f)
	c.queue = append(c.queue, of)
	c.mu.Unlock()
	c.kick()
	return nil
}

// kick wakes the writer.
func (c *Client) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// nextToSend takes the next frame to write off the queue, unless the
// queue is empty or its head has an id and maxInFlight frames are
// unanswered. c.mu must be held.
//
// While the client is closing, only frames nobody waits on go out: the
// rest fail with ErrClosed unsent. While a resume's frames are held, none.
func (c *Client) nextToSend() *outFrame {
	if c.closing {
		i := slices.IndexFunc(c.queue, func(of *outFrame) bool { return of.id == "" })
		if i < 0 {
			return nil
		}
		of := c.queue[i]
		c.queue = slices.Delete(c.queue, i, i+1)
		return of
	}
	if len(c.queue) == 0 || c.held != nil {
		return nil
	}
	of := c.queue[0]
	if of.id != "" && len(c.inflight) >= maxInFlight {
		return nil
	}
	c.queue[0] = nil
	c.queue = c.queue[1:]
	if of.id != "" {
		c.inflight = append(c.inflight, of)
	}
	return of
}

// unsend puts back a frame whose write failed. The server cannot have
// read a message that was not written whole. A frame with an id is
// already among the unanswered, which a resume sends again; one without
// goes back to the head of the queue.
func (c *Client) unsend(of *outFrame) {
	if of.id != "" {
		return
	}
	c.mu.Lock()
	c.queue = append([]*outFrame{of}, c.queue...)
	c.mu.Unlock()
}

// answered delivers the answer to the unanswered frame with id (in
// flight, or held for a resume), and reports whether there was one and
// what its after hook has to report.
func (c *Client) answered(id string, err error) (bool, error) {
	c.mu.Lock()
	var of *outFrame
	for _, list := range []*[]*outFrame{&c.inflight, &c.held} {
		if i := slices.IndexFunc(*list, func(of *outFrame) bool { return of.id == id }); i >= 0 {
			of = (*list)[i]
			*list = slices.Delete(*list, i, i+1)
			break
		}
	}
	c.mu.Unlock()
	if of == nil {
		return false, nil
	}
	report := of.answer(err)
	c.kick()
	return true, report
}

// failAll fails every queued and unanswered frame with err.
func (c *Client) failAll(err error) {
	c.mu.Lock()
	all := slices.Concat(c.held, c.inflight, c.queue)
	c.held, c.inflight, c.queue = nil, nil, nil
	c.mu.Unlock()
	for _, of := range all {
		of.answer(err)
	}
}
