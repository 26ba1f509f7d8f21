package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/roomloop/roomloop/frame"
)

// link is one WebSocket connection of the client. Its goroutines (reader,
// writer, prober) end with ctx; the supervisor waits for them before it
// opens another link, so there is never more than one.
type link struct {
	ws     *websocket.Conn
	ctx    context.Context
	cancel context.CancelCauseFunc
	// lastRecv is when anything (a message or a ping) last arrived, in
	// Unix nanoseconds.
	lastRecv atomic.Int64
	// busy is set while the reader waits for room in the dispatch queue:
	// then silence is the application's doing, not the link's.
	busy       atomic.Bool
	probeAfter time.Duration
	closeOnce  sync.Once
	// flushed is closed by the writer once the client is closing and
	// every frame queued by Send has been written.
	flushed chan struct{}
	// since is when the link was taken up.
	since time.Time
}

func (l *link) touch() { l.lastRecv.Store(time.Now().UnixNano()) }

// closeWait bounds the wait for the server's answer to the client's
// close frame; a server that does not answer in time is hung up on.
const closeWait = time.Second

// closeNormally closes the link with 1000 and a close handshake.
func (l *link) closeNormally() {
	l.closeOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = l.ws.Close(websocket.StatusNormalClosure, "")
		}()
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			// Ending the reader's context closes the connection under the
			// handshake too.
			l.cancel(ErrClosed)
			<-done
		}
	})
}

// connect opens a connection, reads $welcome and takes the session up
// from it: resumed, new, or new after a gap.
func (c *Client) connect(ctx context.Context) (*link, error) {
	c.mu.Lock()
	tok, last := c.resumeTok, c.recvSeq
	c.mu.Unlock()
	if tok != "" {
		c.setState(StateChange{State: Resuming})
	} else {
		c.setState(StateChange{State: Connecting})
	}
	hctx, cancel := context.WithTimeout(ctx, c.opts.HandshakeTimeout)
	defer cancel()
	l, w, err := c.dial(hctx, tok, last)
	if err != nil {
		return nil, err
	}
	c.takeUp(l, w)
	if c.isClosing() { // Close came during the dial: end the session too
		l.closeNormally()
	}
	return l, nil
}

// dial makes one connection attempt and reads $welcome.
func (c *Client) dial(ctx context.Context, tok string, last uint64) (*link, *frame.WelcomePayload, error) {
	u := *c.url
	if tok != "" {
		q := u.Query()
		q.Set("resume", tok)
		q.Set("last_seq", strconv.FormatUint(last, 10))
		u.RawQuery = q.Encode()
	}
	h := c.opts.Header.Clone()
	if c.opts.Token != nil {
		t, err := c.token(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("roomloop: the token function failed: %w", err)
		}
		if h == nil {
			h = http.Header{}
		}
		h.Set("Authorization", "Bearer "+t)
	}
	l := &link{}
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient:   c.opts.HTTPClient,
		HTTPHeader:   h,
		Subprotocols: []string{c.codec.Name()},
		OnPingReceived: func(context.Context, []byte) bool {
			l.touch()
			return true
		},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, nil, refusal(resp)
		}
		return nil, nil, redact(err, tok)
	}
	if ws.Subprotocol() != c.codec.Name() {
		ws.CloseNow()
		return nil, nil, &finalError{fmt.Errorf("roomloop: the server did not accept subprotocol %s", c.codec.Name())}
	}
	ws.SetReadLimit(c.opts.MaxMessage)
	_, msg, err := ws.Read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, nil, fmt.Errorf("roomloop: no $welcome: %w", closeCause(err))
	}
	f, err := frame.DecodeFromServer(c.codec, msg)
	var w frame.WelcomePayload
	if err == nil && f.Event != "$welcome" {
		err = fmt.Errorf("the first frame is %q", f.Event)
	}
	if err == nil {
		err = json.Unmarshal(f.Payload, &w)
	}
	if err == nil && w.Session == "" {
		err = errors.New("$welcome has no session")
	}
	if err != nil {
		ws.CloseNow()
		perr := &ProtocolError{Problem: "bad $welcome", Err: err}
		c.report(perr)
		return nil, nil, perr
	}
	l.ws = ws
	l.ctx, l.cancel = context.WithCancelCause(c.ctx)
	l.flushed = make(chan struct{})
	l.since = time.Now()
	l.touch()
	hb := time.Duration(w.HeartbeatMS) * time.Millisecond
	l.probeAfter = c.opts.ProbeAfter
	if l.probeAfter <= 0 {
		l.probeAfter = hb / 2
	}
	if l.probeAfter <= 0 {
		l.probeAfter = 12500 * time.Millisecond
	}
	return l, &w, nil
}

// token calls Options.Token on a goroutine of its own, so that the
// attempt ends with ctx (Close, the handshake timeout) even if the
// function does not, and the function may itself call Close.
func (c *Client) token(ctx context.Context) (string, error) {
	type result struct {
		tok string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		t, err := c.opts.Token(ctx)
		ch <- result{t, err}
	}()
	select {
	case r := <-ch:
		return r.tok, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// redacted is an error whose text had the secret resume token in it (the
// URL of a failed dial), with the token cut out: errors get logged.
type redacted struct {
	err    error
	secret string
}

func (r *redacted) Error() string {
	s := strings.ReplaceAll(r.err.Error(), r.secret, "REDACTED")
	return strings.ReplaceAll(s, url.QueryEscape(r.secret), "REDACTED")
}

func (r *redacted) Unwrap() error { return r.err }

// redact hides secret, as it is and as a query escapes it, in err's text.
func redact(err error, secret string) error {
	if secret == "" {
		return err
	}
	return &redacted{err: err, secret: secret}
}

// refusal reads an HTTP refusal of the upgrade.
func refusal(resp *http.Response) *RefusedError {
	e := &RefusedError{Status: resp.StatusCode}
	if resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		e.Reason = strings.TrimSpace(string(b))
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// closeCause turns a read error into a *CloseError when the server sent a
// close frame.
func closeCause(err error) error {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	}
	return err
}

// takeUp makes l the live link after $welcome w. A resume holds the
// unanswered frames back until the replay has caught up, then sends them
// again; a new session after an old one rejoins the rooms and fails the
// unanswered frames.
func (c *Client) takeUp(l *link, w *frame.WelcomePayload) {
	c.mu.Lock()
	old := c.session
	// Frames held for an earlier resume that never caught up were sent
	// before any still in flight.
	unanswered := append(c.held, c.inflight...)
	c.held, c.inflight = nil, nil
	var lost []*outFrame
	var gap *Gap
	state := Connected
	if w.Resumed && w.Session == old {
		state = Resumed
		c.held, c.resendAt = unanswered, w.LastSeq
		c.releaseHeld()
	} else {
		c.session, c.recvSeq, c.seenSent = w.Session, w.LastSeq, 0
		lost = unanswered
		if old != "" {
			reason := w.Reason
			if reason == "" {
				reason = "no_resume"
			}
			gap = &Gap{Reason: reason, OldSession: old, Session: w.Session, Lost: len(lost)}
			c.queue = append(c.rejoins(), slices.DeleteFunc(c.queue, (*outFrame).isRejoin)...)
		}
	}
	c.resumeTok = w.Resume
	c.heartbeat = w.HeartbeatMS
	c.expiresIn(w.ExpiresInMS)
	c.link = l
	c.everOnline = true
	c.mu.Unlock()
	for _, of := range lost {
		of.answer(ErrSessionLost)
	}
	c.setState(StateChange{State: state, Gap: gap})
	if gap != nil {
		g := *gap
		c.post(func() {
			c.mu.Lock()
			fns := c.onGap.snapshot()
			c.mu.Unlock()
			call(fns, g)
		})
	}
	c.kick()
}

// releaseHeld sends the held frames again, ahead of everything queued,
// once the replay has reached resendAt. c.mu must be held.
func (c *Client) releaseHeld() {
	if c.held == nil || c.recvSeq < c.resendAt {
		return
	}
	c.queue = append(c.held, c.queue...)
	c.held = nil
}

// run is the supervisor: it serves each link until it ends, then
// reconnects, until the client closes.
func (c *Client) run(l *link) {
	defer c.wg.Done()
	attempt := 0
	for {
		cause := c.serve(l)
		if c.isClosing() {
			c.finish(ErrClosed)
			return
		}
		if isFinal(cause) {
			c.finish(cause)
			return
		}
		if time.Since(l.since) >= stableAfter {
			attempt = 0
		}
		var ok bool
		if l, attempt, ok = c.reconnect(cause, attempt); !ok {
			return
		}
	}
}

// reconnect retries with backoff, counting on from attempt, until a
// connection is up (true, with the attempts it took in all) or the client
// is done (false).
func (c *Client) reconnect(cause error, attempt int) (*link, int, bool) {
	for {
		attempt++
		delay := c.retryDelay(attempt, cause)
		c.setState(StateChange{State: Disconnected, Err: cause, RetryIn: delay})
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			c.finish(ErrClosed)
			return nil, attempt, false
		}
		l, err := c.connect(c.ctx)
		switch {
		case err == nil:
			return l, attempt, true
		case c.isClosing():
			c.finish(ErrClosed)
			return nil, attempt, false
		case isFinal(err):
			c.finish(err)
			return nil, attempt, false
		}
		cause = err
	}
}

// retryDelay is the wait before attempt n after cause: the backoff, two
// doublings more and at least Retry-After after 429 or 503.
func (c *Client) retryDelay(n int, cause error) time.Duration {
	var re *RefusedError
	if errors.As(cause, &re) && (re.Status == http.StatusTooManyRequests || re.Status == http.StatusServiceUnavailable) {
		return max(re.RetryAfter, c.backoff.delay(n+2))
	}
	return c.backoff.delay(n)
}

// serve runs l's reader, writer and prober until l ends, closes it, and
// returns why it ended.
func (c *Client) serve(l *link) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); c.read(l) }()
	go func() { defer wg.Done(); c.write(l) }()
	go func() { defer wg.Done(); c.probe(l) }()
	<-l.ctx.Done()
	c.mu.Lock()
	if c.link == l {
		c.link = nil
	}
	c.mu.Unlock()
	l.ws.CloseNow()
	wg.Wait()
	return context.Cause(l.ctx)
}

// read reads frames until the link ends.
func (c *Client) read(l *link) {
	want := websocket.MessageText
	if c.codec.Binary() {
		want = websocket.MessageBinary
	}
	for {
		typ, msg, err := l.ws.Read(l.ctx)
		if err != nil {
			l.cancel(closeCause(err))
			return
		}
		l.touch()
		if typ != want {
			err = &ProtocolError{Problem: "a " + kindOf(typ) + " message on " + c.codec.Name()}
		} else {
			var f frame.Frame
			if f, err = frame.DecodeFromServer(c.codec, msg); err != nil {
				err = &ProtocolError{Problem: "a message the client cannot decode", Err: err}
			} else {
				err = c.receive(l, f)
			}
		}
		if err != nil {
			c.report(err)
			l.cancel(err)
			return
		}
	}
}

// write sends queued frames, and $seen once a second when there is news,
// until the link ends.
func (c *Client) write(l *link) {
	typ := websocket.MessageText
	if c.codec.Binary() {
		typ = websocket.MessageBinary
	}
	seen := time.NewTicker(time.Second)
	defer seen.Stop()
	for {
		c.mu.Lock()
		of := c.nextToSend()
		flushed := of == nil && c.closing
		c.mu.Unlock()
		if flushed {
			close(l.flushed)
			<-l.ctx.Done()
			return
		}
		if of != nil {
			if err := c.writeMsg(l, typ, of.msg); err != nil {
				c.unsend(of)
				l.cancel(err)
				return
			}
			continue
		}
		select {
		case <-c.wake:
		case <-seen.C:
			if msg := c.seenMessage(); msg != nil {
				if err := c.writeMsg(l, typ, msg); err != nil {
					l.cancel(err)
					return
				}
			}
		case <-l.ctx.Done():
			return
		}
	}
}

func (c *Client) writeMsg(l *link, typ websocket.MessageType, msg []byte) error {
	ctx, cancel := context.WithTimeout(l.ctx, c.opts.WriteTimeout)
	defer cancel()
	return l.ws.Write(ctx, typ, msg)
}

// seenMessage returns a $seen for the highest seq received, if it is
// news to the server.
func (c *Client) seenMessage() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recvSeq <= c.seenSent {
		return nil
	}
	c.seenSent = c.recvSeq
	f := frame.Frame{Event: "$seen", Kind: frame.JSONPayload,
		Payload: []byte(`{"seq":` + strconv.FormatUint(c.recvSeq, 10) + `}`)}
	return c.encode(&f)
}

// probe pings the server after probeAfter of silence and ends the link
// if no answer comes within ProbeTimeout.
func (c *Client) probe(l *link) {
	tick := time.NewTicker(max(l.probeAfter/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-tick.C:
		}
		if l.busy.Load() || time.Since(time.Unix(0, l.lastRecv.Load())) < l.probeAfter {
			continue
		}
		ctx, cancel := context.WithTimeout(l.ctx, c.opts.ProbeTimeout)
		err := l.ws.Ping(ctx)
		cancel()
		if err != nil && l.ctx.Err() == nil && !l.busy.Load() {
			l.cancel(errDeadLink)
			return
		}
	}
}

// kindOf names a WebSocket message type as docs do: "text" or "binary".
func kindOf(t websocket.MessageType) string {
	if t == websocket.MessageBinary {
		return "binary"
	}
	return "text"
}
