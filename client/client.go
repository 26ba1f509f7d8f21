package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/roomloop/roomloop/frame"
)

// Client is one logical session with a roomloop server, across
// reconnects. See the package doc for its concurrency rules.
type Client struct {
	opts    Options
	url     *url.URL
	codec   frame.Codec
	backoff backoff

	// ctx ends when the client closes; every goroutine watches it.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts the supervisor, which waits for each connection's
	// goroutines before it starts the next connection or returns.
	wg sync.WaitGroup
	// done is closed when the dispatch goroutine has ended.
	done chan struct{}
	// dispatch carries handler calls to the dispatch goroutine, in order.
	dispatch chan func()
	// wake tells the writer there may be something to send.
	wake chan struct{}

	mu         sync.Mutex
	state      State
	session    string
	resumeTok  string
	heartbeat  int64  // ms, from $welcome
	recvSeq    uint64 // highest seq received and queued for handlers
	seenSent   uint64 // highest seq reported with $seen
	link       *link  // the live connection, nil when none
	rooms      map[string]*Room
	handlers   map[string]*hooks[Message]
	onState    hooks[StateChange]
	onGap      hooks[Gap]
	onError    hooks[error]
	queue      []*outFrame // waiting to be sent, in order
	inflight   []*outFrame // sent with an id, unanswered, in order
	nextID     uint64
	closing    bool
	userClosed bool // Close was called: queued handler calls are skipped
	finalErr   error
	everOnline bool
	// held are the unanswered frames of a resumed session, kept back until
	// the replay has reached resendAt (the seq the server had when it
	// resumed), so that answers in the replay settle them first.
	held     []*outFrame
	resendAt uint64
	// expiresAt is when the session's credential expires, refreshAt when
	// the refresher renews it (both zero: never); see refresh.go.
	expiresAt, refreshAt time.Time
	// refreshWake tells the refresher that refreshAt changed.
	refreshWake chan struct{}
}

// Dial connects to the roomloop server at rawURL (ws://, wss://, http://
// or https://, with the server's path) and returns a client with a live
// session. If that first connection fails, Dial returns the error
// (a *RefusedError for an HTTP refusal) and nothing keeps running; after
// it, the client reconnects on its own until Close or a final refusal.
// ctx bounds this first connection only.
func Dial(ctx context.Context, rawURL string, opts *Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("roomloop: bad url: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return nil, fmt.Errorf("roomloop: bad url %q: the scheme must be ws, wss, http or https", rawURL)
	}
	o := opts.withDefaults()
	c := &Client{
		opts:     o,
		url:      u,
		codec:    frame.JSON,
		backoff:  backoff{min: o.MinBackoff, max: o.MaxBackoff, jitter: !o.NoJitter},
		done:     make(chan struct{}),
		dispatch: make(chan func(), dispatchQueue),
		wake:     make(chan struct{}, 1),
		// refreshWake is buffered so that expiresIn never blocks.
		refreshWake: make(chan struct{}, 1),
		rooms:       make(map[string]*Room),
		handlers:    make(map[string]*hooks[Message]),
	}
	if o.OnState != nil {
		c.onState = hooks[StateChange]{&o.OnState}
	}
	if o.Codec == Binary {
		c.codec = frame.Binary
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if o.Setup != nil {
		o.Setup(c)
	}
	go c.dispatcher()
	l, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		<-c.done
		return nil, err
	}
	c.wg.Add(1)
	go c.run(l)
	if o.Token != nil {
		c.wg.Add(1)
		go c.refresher()
	}
	return c, nil
}

// Close ends the client. On a live connection, frames queued by Send go
// out first (within WriteTimeout), then a close handshake with 1000 ends
// the session. Frames that wait for an answer, sent or not, fail with
// ErrClosed (one already sent may have been applied); queued ones are not
// sent. Every goroutine but the dispatcher's stops before Close returns,
// and no handler starts after it but the final Closed state change. Close
// is idempotent and always returns nil; it may be called from a handler.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closing
	c.closing, c.userClosed = true, true
	if c.finalErr == nil {
		c.finalErr = ErrClosed
	}
	c.state = Closed
	l := c.link
	c.mu.Unlock()
	if !already && l != nil {
		c.kick()
		t := time.NewTimer(c.opts.WriteTimeout)
		select {
		case <-l.flushed:
		case <-l.ctx.Done():
		case <-t.C:
		}
		t.Stop()
		l.closeNormally()
	}
	c.cancel()
	c.wg.Wait()
	c.failAll(ErrClosed)
	return nil
}

// Done returns a channel closed once the client has closed and delivered
// its final Closed state to the handlers.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client closed (ErrClosed after Close), or nil while
// it is not closed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		return nil
	}
	return c.finalErr
}

// Session returns the current session id: others see it in from and in
// presence. It changes only after a gap.
func (c *Client) Session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// State returns the client's current state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// On registers fn for application frames of event, from any room or
// direct, and returns the function that removes it. Handlers run on the
// dispatch goroutine, in seq order.
func (c *Client) On(event string, fn func(Message)) (off func()) {
	c.mu.Lock()
	h := eventHooks(c.handlers, event)
	c.mu.Unlock()
	return add(c, h, fn)
}

// OnState registers fn for state changes (Options.OnState sees them from
// the first) and returns the function that removes it.
func (c *Client) OnState(fn func(StateChange)) (off func()) { return add(c, &c.onState, fn) }

// OnGap registers fn for gaps (the server could not resume the session)
// and returns the function that removes it.
func (c *Client) OnGap(fn func(Gap)) (off func()) { return add(c, &c.onGap, fn) }

// OnError registers fn for errors that answer nothing the application
// waits for, and returns the function that removes it: a *ProtocolError
// from a misbehaving server, an $error without an id (dropped frames, a
// refused Send), a room that could not be rejoined after a gap.
func (c *Client) OnError(fn func(error)) (off func()) { return add(c, &c.onError, fn) }

// SendTo sends a direct message to a session and waits for the server's
// answer: nil on $ack, an *Error on $error (no_such_session, …).
func (c *Client) SendTo(ctx context.Context, session, event string, payload any) error {
	return c.request(ctx, frame.Frame{Event: event, To: session}, payload)
}

// Call sends a frame with neither room nor recipient, for a handler the
// server registered for event, and waits for $ack (nil) or $error.
func (c *Client) Call(ctx context.Context, event string, payload any) error {
	return c.request(ctx, frame.Frame{Event: event}, payload)
}

// Room returns the handle of a room the client is in (joined, or granted
// at connect), or nil.
func (c *Client) Room(name string) *Room {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.rooms[name]; r != nil && r.joined {
		return r
	}
	return nil
}

// Rooms returns the names of the rooms the client is in, sorted.
func (c *Client) Rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for name, r := range c.rooms {
		if r.joined {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// setState records a state change and posts it to the handlers.
func (c *Client) setState(sc StateChange) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.state = sc.State
	c.mu.Unlock()
	c.post(c.stateCall(sc))
}

// stateCall returns the handler calls for sc.
func (c *Client) stateCall(sc StateChange) func() {
	return func() {
		c.mu.Lock()
		fns := c.onState.snapshot()
		c.mu.Unlock()
		call(fns, sc)
	}
}

// errorCall returns the handler calls for err.
func (c *Client) errorCall(err error) func() {
	return func() {
		c.mu.Lock()
		fns := c.onError.snapshot()
		c.mu.Unlock()
		call(fns, err)
	}
}

// report posts err to the OnError handlers.
func (c *Client) report(err error) { c.post(c.errorCall(err)) }

// post queues fn for the dispatch goroutine; it gives up when the client
// closes.
func (c *Client) post(fn func()) bool {
	select {
	case c.dispatch <- fn:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// dispatcher runs handler calls one at a time until the client closes.
// After Close it skips what is left; when the server or a refusal ended
// the client, it hands over every frame already received first. Then it
// delivers the final Closed state.
func (c *Client) dispatcher() {
	defer close(c.done)
	for {
		select {
		case fn := <-c.dispatch:
			if !c.skipping() {
				fn()
			}
		case <-c.ctx.Done():
			for !c.skipping() {
				select {
				case fn := <-c.dispatch:
					fn()
					continue
				default:
				}
				break
			}
			c.mu.Lock()
			err, online := c.finalErr, c.everOnline
			c.mu.Unlock()
			if online {
				c.stateCall(StateChange{State: Closed, Err: err})()
			}
			return
		}
	}
}

// skipping reports whether Close was called: handler calls still queued
// are dropped.
func (c *Client) skipping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.userClosed
}

// finish ends the client for err: no more reconnects.
func (c *Client) finish(err error) {
	c.mu.Lock()
	c.closing = true
	if c.finalErr == nil {
		c.finalErr = err
	}
	c.state = Closed
	c.mu.Unlock()
	c.cancel()
	c.failAll(ErrClosed)
}

// isClosing reports whether Close or a final error has ended the client.
func (c *Client) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// isFinal reports whether err ends the client rather than a connection.
func isFinal(err error) bool {
	var ce *CloseError
	var re *RefusedError
	var fe *finalError
	return errors.As(err, &ce) && ce.Final() || errors.As(err, &re) && re.Final() || errors.As(err, &fe)
}

// finalError wraps a connection failure that retrying cannot cure, such
// as a server that does not speak the client's codec.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }
