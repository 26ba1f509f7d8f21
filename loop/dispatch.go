package loop

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// inbox holds a connection's received messages until a worker takes them.
// Guarded by Conn.mu. At most one worker drains a connection at a time
// (running), so its messages are handled in arrival order.
type inbox struct {
	msgs    []message
	info    CloseInfo // how it ended
	head    int32     // msgs[:head] are taken, msgs[head:] wait; at most MaxInflight+1 wait (push)
	running bool
	opened  bool // Handler.Open ran (or is running); Closed is owed
	closed  bool // the transport is gone; Closed is pending
}

// waiting is the number of messages not yet taken by a worker.
func (in *inbox) waiting() int { return len(in.msgs) - int(in.head) }

// push appends m. When msgs is full and at least half of it has been
// taken, the waiting messages move to the front instead of msgs growing,
// so an inbox that never empties stays within twice the most messages
// that wait at once (each move copies at most as many as it frees).
func (in *inbox) push(m message) {
	if n := len(in.msgs); n == cap(in.msgs) && in.head > 0 && int(in.head) >= n/2 {
		w := copy(in.msgs, in.msgs[in.head:])
		clear(in.msgs[w:])
		in.msgs, in.head = in.msgs[:w], 0
	}
	in.msgs = append(in.msgs, m)
}

type message struct {
	binary bool
	data   []byte
}

// drainBatch is how many messages one worker turn handles before the
// connection goes to the back of the backlog, so one busy peer cannot
// hold a worker forever.
const drainBatch = 64

// deliver queues a message read from the socket, and reports whether the
// inbox is now full: reading c is then paused (see backpressure.go).
// Called with readMu held.
func (c *Conn) deliver(binary bool, data []byte) (full bool) {
	c.mu.Lock()
	if c.in.closed {
		c.mu.Unlock()
		return false
	}
	c.in.push(message{binary, data})
	full = c.pauseIfFull()
	start := !c.in.running
	c.in.running = true
	c.mu.Unlock()
	if start {
		c.eng.submit(c)
	}
	return full
}

// drain runs on a worker: it hands queued messages to the handler, then
// Closed once the transport is gone and every message was handled.
func (c *Conn) drain() {
	h := c.eng.h
	for range drainBatch {
		c.mu.Lock()
		if int(c.in.head) < len(c.in.msgs) {
			m := c.in.msgs[c.in.head]
			c.in.msgs[c.in.head] = message{}
			c.in.head++
			if int(c.in.head) == len(c.in.msgs) {
				c.in.msgs, c.in.head = nil, 0
			}
			resume := c.tookWhilePaused()
			c.mu.Unlock()
			if resume {
				c.resumeReading()
			}
			c.shard.framesRead.Add(1)
			c.eng.guard("message", func() { h.Message(c, m.binary, m.data) })
			continue
		}
		if c.in.closed && c.in.opened {
			c.in.opened = false
			info := c.in.info
			c.mu.Unlock()
			c.eng.guard("closed", func() { h.Closed(c, info) })
			continue
		}
		c.in.running = false
		c.mu.Unlock()
		return
	}
	c.eng.pending.Add(1) // more to do: yield to others, keep running
	c.eng.backlog.push(c)
}

// guard runs fn, turning a panic into a log line: a handler bug must not
// take the server down.
func (e *Engine) guard(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("handler panicked", "in", what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// upgradeJob runs Handler.Upgrade on a worker, bounded by AuthTimeout.
type upgradeJob struct {
	c   *Conn
	key string // Sec-WebSocket-Key
	up  *Upgrade
	// deflate is the permessage-deflate response, "" if not negotiated.
	deflate string
}

func (j *upgradeJob) run() {
	c, e := j.c, j.c.eng
	var once sync.Once
	decided := func() (first bool) {
		once.Do(func() { first = true })
		return first
	}
	timer := time.AfterFunc(e.cfg.AuthTimeout, func() {
		if decided() {
			// The request's context ends by its own deadline meanwhile:
			// the hook sees DeadlineExceeded.
			c.reject(&HTTPError{Status: 503, Reason: "authorization timed out"})
			c.forgetEarly()
		}
	})
	var (
		protocol string
		err      error
	)
	e.guard("upgrade", func() {
		err = fmt.Errorf("upgrade hook panicked")
		protocol, err = e.h.Upgrade(c, j.up)
	})
	timer.Stop()
	if decided() {
		switch {
		case err == nil && e.draining.Load():
			err = &HTTPError{Status: 503, Reason: "server shutting down"}
		case err != nil && errors.Is(j.up.Request.Context().Err(), context.DeadlineExceeded):
			// The hook gave up at its context's deadline.
			err = &HTTPError{Status: 503, Reason: "authorization timed out"}
		}
		if err != nil {
			c.releaseRequest()
			c.reject(err)
			c.forgetEarly()
		} else {
			j.accept(protocol)
		}
	} else {
		c.releaseRequest() // refused by the timer while the hook ran
	}
	c.drain()
}

// accept writes the 101 response, opens the connection, parses what the
// client sent early, and runs Handler.Open.
func (j *upgradeJob) accept(protocol string) {
	c := j.c
	c.readMu.Lock()
	c.mu.Lock()
	opened := c.state.CompareAndSwap(stateAuthorizing, stateOpen)
	c.in.opened = opened
	c.mu.Unlock()
	c.handshakeDone()
	if !opened {
		c.readMu.Unlock()
		c.releaseRequest()
		return
	}
	if j.deflate != "" {
		c.flags.store(flagDeflate, true)
		c.parser.EnableDeflate()
	}
	c.write(wsproto.AppendSwitchingExt(nil, j.key, protocol, j.deflate))
	c.deadline.Store(0)
	// Bytes the client sent early are parsed before any that arrive later;
	// their messages wait in the inbox until Open has run (this job holds
	// the connection's worker turn).
	early := c.takeEarly()
	if len(early) > 0 {
		c.feed(early)
	}
	c.readMu.Unlock()

	c.eng.guard("open", func() { c.eng.h.Open(c) })
	c.releaseRequest()
	j.up = nil
}

// backlog holds work the pool had no free worker for. Workers take from
// it after each task; the sweeper nudges the pool if work waits anyway.
type backlog struct {
	mu    sync.Mutex
	tasks []any
	head  int
}

func (b *backlog) push(t any) {
	b.mu.Lock()
	b.tasks = append(b.tasks, t)
	b.mu.Unlock()
}

func (b *backlog) pop() any {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.head == len(b.tasks) {
		return nil
	}
	t := b.tasks[b.head]
	b.tasks[b.head] = nil
	b.head++
	if b.head == len(b.tasks) {
		b.tasks, b.head = b.tasks[:0], 0
	}
	return t
}

func (b *backlog) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.tasks) - b.head
}

// nudge is a task that only makes a worker look at the backlog.
type nudge struct{}

// submit hands a task (*Conn to drain, *upgradeJob, resumeJob, readJob)
// to the pool without ever blocking; with every worker busy it waits in
// the backlog. Every submitted task is counted in pending until it has
// run.
func (e *Engine) submit(task any) {
	e.pending.Add(1)
	if err := e.pool.Invoke(task); err != nil {
		e.backlog.push(task)
		_ = e.pool.Invoke(nudge{})
	}
}

// work is the pool's function: run the task, then whatever waits.
func (e *Engine) work(task any) {
	e.busy.Add(1)
	defer e.busy.Add(-1)
	for ; task != nil; task = e.backlog.pop() {
		switch t := task.(type) {
		case *Conn:
			t.drain()
		case *upgradeJob:
			t.run()
		case resumeJob:
			t.c.resumeReading()
		case readJob:
			t.run()
		case nudge:
			continue
		}
		e.pending.Add(-1)
	}
}
