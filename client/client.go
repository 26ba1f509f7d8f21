package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"

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
	handlers   map[string][]func(Message)
	onState    []func(StateChange)
	onGap      []func(Gap)
	onError    []func(error)
	queue      []*outFrame // waiting to be sent, in order
	inflight   []*outFrame // sent with an id, unanswered, in order
	nextID     uint64
	closing    bool
	finalErr   error
	everOnline bool
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
		rooms:    make(map[string]*Room),
		handlers: make(map[string][]func(Message)),
	}
	if o.Codec == Binary {
		c.codec = frame.Binary
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.dispatcher()
	l, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		<-c.done
		return nil, err
	}
	c.wg.Add(1)
	go c.run(l)
	return c, nil
}

// Close ends the client: a close handshake (1000) on the live connection,
// if any, then every goroutine but the dispatcher's stops before Close
// returns. Frames still waiting for an answer fail with ErrClosed. Close is
// idempotent and always returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	already := c.closing
	c.closing = true
	if c.finalErr == nil {
		c.finalErr = ErrClosed
	}
	l := c.link
	c.mu.Unlock()
	if !already && l != nil {
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
// direct. Handlers run on the dispatch goroutine, in seq order.
func (c *Client) On(event string, fn func(Message)) {
	c.mu.Lock()
	c.handlers[event] = append(c.handlers[event], fn)
	c.mu.Unlock()
}

// OnState registers fn for state changes.
func (c *Client) OnState(fn func(StateChange)) {
	c.mu.Lock()
	c.onState = append(c.onState, fn)
	c.mu.Unlock()
}

// OnGap registers fn for gaps: the server could not resume the session.
func (c *Client) OnGap(fn func(Gap)) {
	c.mu.Lock()
	c.onGap = append(c.onGap, fn)
	c.mu.Unlock()
}

// OnError registers fn for errors that answer nothing the application
// waits for: a *ProtocolError from a misbehaving server, an $error
// without an id (dropped frames, a refused send), a room that could not
// be rejoined after a gap.
func (c *Client) OnError(fn func(error)) {
	c.mu.Lock()
	c.onError = append(c.onError, fn)
	c.mu.Unlock()
}

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
	c.state = sc.State
	c.mu.Unlock()
	c.post(func() {
		for _, fn := range c.stateHandlers() {
			fn(sc)
		}
	})
}

func (c *Client) stateHandlers() []func(StateChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.onState)
}

// report posts err to the OnError handlers.
func (c *Client) report(err error) {
	c.post(func() {
		c.mu.Lock()
		fns := slices.Clone(c.onError)
		c.mu.Unlock()
		for _, fn := range fns {
			fn(err)
		}
	})
}

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

// dispatcher runs handler calls one at a time until the client closes,
// then delivers the final Closed state.
func (c *Client) dispatcher() {
	defer close(c.done)
	for {
		select {
		case fn := <-c.dispatch:
			if c.ctx.Err() != nil {
				continue
			}
			fn()
		case <-c.ctx.Done():
			c.mu.Lock()
			c.state = Closed
			err, online := c.finalErr, c.everOnline
			c.mu.Unlock()
			if online {
				for _, fn := range c.stateHandlers() {
					fn(StateChange{State: Closed, Err: err})
				}
			}
			return
		}
	}
}

// finish ends the client for err: no more reconnects.
func (c *Client) finish(err error) {
	c.mu.Lock()
	c.closing = true
	if c.finalErr == nil {
		c.finalErr = err
	}
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
