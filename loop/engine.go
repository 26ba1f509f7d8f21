package loop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/panjf2000/ants/v2"

	"github.com/roomloop/roomloop/internal/netaddr"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// Engine accepts and serves WebSocket connections: from listeners (Start,
// Serve) and from an HTTP server (ServeHTTP). After Shutdown it cannot be
// restarted. Its methods are safe for concurrent use.
type Engine struct {
	cfg Config
	h   Handler
	log *slog.Logger

	nb        *nbio.Engine
	nbName    string
	shards    []*shard
	pool      *ants.PoolWithFunc
	backlog   backlog
	perIP     perIP // open connections per address
	pendingIP perIP // connections per address still upgrading

	// ctx is the parent of every upgrade request's context; it ends at
	// Shutdown.
	ctx       context.Context
	cancelCtx context.CancelFunc

	conns       atomic.Int64 // open TCP connections
	nextID      atomic.Uint64
	refusals    refusalLog
	counters    engineCounters
	frameLimits *wsproto.Limits // shared by every connection's parser
	http        *httpServer     // serves Config.HTTPHandler; nil without one
	busy        atomic.Int64    // workers running tasks
	pending     atomic.Int64    // tasks submitted and not yet run
	draining    atomic.Bool

	runOnce  sync.Once
	runErr   error
	adopting sync.RWMutex // ServeHTTP holds it read-locked from its check to AddConn
	lnMu     sync.Mutex
	lns      []*listener // guarded by lnMu
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup // flushers, the sweeper and accept loops
}

// Errors of Start, Serve and ServeHTTP.
var (
	// ErrClosed: the engine has been shut down.
	ErrClosed = errors.New("loop: engine shut down")
)

// New returns an engine that will call h. cfg is copied with defaults.
func New(cfg Config, h Handler) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, h: h, log: cfg.Logger, stop: make(chan struct{})}
	e.ctx, e.cancelCtx = context.WithCancel(context.Background())
	e.refusals = newRefusalLog(cfg.Logger)
	e.frameLimits = cfg.frameLimits()
	e.perIP.limit = cfg.MaxConnsPerIP
	e.pendingIP.limit = cfg.MaxPendingPerIP
	e.shards = make([]*shard, cfg.Flushers)
	for i := range e.shards {
		e.shards[i] = newShard(e)
	}
	return e
}

// Config returns the engine's configuration with defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// run starts the event loop, the worker pool, the flushers and the
// sweeper, once; later calls return the first call's error.
func (e *Engine) run() error {
	e.runOnce.Do(func() {
		if e.draining.Load() {
			e.runErr = ErrClosed
			return
		}
		pool, err := ants.NewPoolWithFunc(e.cfg.Workers, e.work, ants.WithNonblocking(true))
		if err != nil {
			e.runErr = fmt.Errorf("loop: worker pool: %w", err)
			return
		}
		e.nbName = nbioName(e.log)
		nb := nbio.NewEngine(nbio.Config{
			Name:    e.nbName,
			NPoller: e.cfg.Pollers,
			// Edge-triggered, and the engine reads sockets itself (onRead),
			// so that it can stop reading one (see backpressure.go).
			EpollMod: nbio.EPOLLET,
			// A backstop only: flushers hand nbio one write (at most a
			// chunk, or one message) only when it holds nothing, and then
			// at most a close frame more.
			MaxWriteBufferSize: e.cfg.MaxWriteBuffer,
		})
		nb.OnOpen(e.onOpen)
		nb.OnRead(e.onRead)
		nb.OnClose(e.onClose)
		nb.OnWrittenSize(e.onWritten)
		if err := nb.Start(); err != nil {
			pool.Release()
			forgetNBIOName(e.nbName)
			e.runErr = fmt.Errorf("loop: event loop: %w", err)
			return
		}
		if err := waitPollers(nb, e.cfg.Pollers); err != nil {
			// A poller that never looped would hold Stop forever: stop
			// on a goroutine of its own.
			go nb.Stop()
			pool.Release()
			forgetNBIOName(e.nbName)
			e.runErr = err
			return
		}
		e.pool, e.nb = pool, nb
		if e.cfg.HTTPHandler != nil {
			e.http = newHTTPServer(e)
		}
		for _, s := range e.shards {
			s.batch = newBatch(s)
			e.wg.Add(1)
			go func() { defer e.wg.Done(); s.run(e.stop) }()
		}
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.sweep() }()
	})
	return e.runErr
}

// Start listens on addr (host:port; port 0 picks one) and serves in the
// background until Shutdown.
func (e *Engine) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("loop: listen %s: %w", addr, err)
	}
	l, err := e.listen(ln)
	if err != nil {
		_ = ln.Close()
		return err
	}
	go func() { defer e.wg.Done(); e.accept(l) }()
	return nil
}

// Serve accepts connections on ln and serves them until Shutdown, then
// returns ErrClosed (or an error that stopped it from starting). ln must
// yield TCP connections; Shutdown closes it.
func (e *Engine) Serve(ln net.Listener) error {
	l, err := e.listen(ln)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer e.wg.Done()
	e.accept(l)
	return ErrClosed
}

// listen starts the engine and registers ln, counting the goroutine that
// will accept from it in e.wg (the caller calls Done when it returns).
func (e *Engine) listen(ln net.Listener) (*listener, error) {
	if err := e.run(); err != nil {
		return nil, err
	}
	l := newListener(ln, e.log, e.cfg.AcceptRate, e.cfg.AcceptBurst)
	e.lnMu.Lock()
	defer e.lnMu.Unlock()
	if e.draining.Load() {
		return nil, ErrClosed
	}
	e.lns = append(e.lns, l)
	e.wg.Add(1) // under lnMu: Shutdown stops the listeners, then waits
	return l, nil
}

// accept hands every connection l accepts to the event loop, until l is
// closed.
func (e *Engine) accept(l *listener) {
	for {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		if _, err := e.nb.AddConn(nc); err != nil {
			_ = nc.Close()
			l.logRarely("cannot serve an accepted connection", err)
		}
	}
}

// Addr returns the address of the first listener (nil before Start or
// Serve).
func (e *Engine) Addr() net.Addr {
	e.lnMu.Lock()
	defer e.lnMu.Unlock()
	if len(e.lns) == 0 {
		return nil
	}
	return e.lns[0].Addr()
}

// Conns returns the number of open TCP connections, in any state.
func (e *Engine) Conns() int { return int(e.conns.Load()) }

// Writes returns how many buffers holding source messages the flushers
// have handed to sockets (one per connection per flush) and how many
// messages they held: messages/writes is the average coalescing.
func (e *Engine) Writes() (writes, frames uint64) {
	for _, s := range e.shards {
		writes += s.writes.Load()
		frames += s.frames.Load()
	}
	return writes, frames
}

// URingFlushers returns how many flushers submit their writes through
// io_uring (Config.URingWrites, where the kernel allows it): 0 before
// Start, or when they write each socket themselves.
func (e *Engine) URingFlushers() int {
	n := 0
	for _, s := range e.shards {
		if s.batch != nil {
			n++
		}
	}
	return n
}

// Each calls fn for every connection, in no particular order. fn must not
// block; connections may come and go meanwhile.
func (e *Engine) Each(fn func(*Conn)) {
	var list []*Conn
	for _, s := range e.shards {
		list = s.snapshot(list[:0])
		for _, c := range list {
			fn(c)
		}
	}
}

func (e *Engine) onOpen(nc *nbio.Conn) {
	if probeOf(nc) != nil {
		return
	}
	// A connection taken over by ServeHTTP comes with its upgrade
	// request parsed; any other starts with reading it.
	c, _ := nc.Session().(*Conn)
	adopted := c != nil
	if !adopted {
		c = new(Conn)
	}
	id := e.nextID.Add(1)
	// Initialize under both locks: nbio hands the connection to its poller
	// goroutine through epoll, which the race detector cannot see; every
	// later reader takes one of these locks first.
	c.readMu.Lock()
	c.mu.Lock()
	c.eng, c.nc = e, nc
	if !adopted {
		c.hs = new(handshakeState)
	}
	if !adopted && e.cfg.TLSConfig != nil {
		c.startTLS(e.cfg.TLSConfig) // its handshake waits for readMu to read
	}
	c.shard = e.shards[id%uint64(len(e.shards))]
	c.parser = wsproto.NewParser(e.frameLimits)
	now := time.Now()
	c.lastRead.Store(now.UnixNano())
	c.deadline.Store(now.Add(e.cfg.HandshakeTimeout).UnixNano())
	c.mu.Unlock()
	c.readMu.Unlock()
	nc.SetSession(c)
	n := e.conns.Add(1)
	switch {
	case adopted:
		e.counters.accepted[WayHTTP].Add(1)
	case c.tls != nil:
		e.counters.accepted[WayTLS].Add(1)
	default:
		e.counters.accepted[WayListener].Add(1)
	}
	c.shard.add(c)
	switch {
	case e.draining.Load():
		c.reject(&HTTPError{Status: 503, Reason: "server shutting down"})
	case n > int64(e.cfg.MaxConns):
		c.reject(&HTTPError{Status: 503, Reason: "server at its connection limit"})
	case !c.countIn(&e.perIP):
		c.reject(&HTTPError{Status: 503, Reason: "too many connections from this address"})
	case !c.countPending(&e.pendingIP):
		c.reject(&HTTPError{Status: 503, Reason: "too many pending handshakes from this address"})
	case adopted:
		c.readMu.Lock()
		up := c.hs.adopted
		c.hs.adopted = nil
		c.beginUpgrade(up.parent, up.up)
		c.readMu.Unlock()
	}
}

func (e *Engine) onClose(nc *nbio.Conn, _ error) {
	c, _ := nc.Session().(*Conn)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.state.Store(stateClosed)
	o := &c.ctl
	if !o.peerClosed {
		if o.closeQueued {
			c.in.info = CloseInfo{Code: o.closeCode, Reason: o.closeReason, ServerClosed: true}
		} else {
			c.in.info = CloseInfo{Code: CloseAbnormal}
		}
	}
	o.pong, o.preface = nil, nil
	c.in.closed = true
	start := c.in.opened && !c.in.running
	if start {
		c.in.running = true
	}
	var cancel context.CancelFunc
	if c.hs != nil {
		cancel, c.hs.cancel = c.hs.cancel, nil
	}
	c.mu.Unlock()
	if cancel != nil {
		cancel() // the client went away during its upgrade
	}
	if p := c.pipe.Load(); p != nil {
		p.closeRead() // a TLS handshake or the HTTP server reading it returns
	}
	c.shard.remove(c)
	e.conns.Add(-1)
	if c.flags.load(flagIPCounted) {
		e.perIP.remove(netaddr.IP(c.RemoteAddr()))
	}
	c.handshakeDone()
	if start {
		e.submit(c)
	}
}

// onWritten runs when nbio writes bytes of c; once all are written, a
// flush that waited for the socket is scheduled.
func (e *Engine) onWritten(nc *nbio.Conn, _ []byte, n int) {
	c, _ := nc.Session().(*Conn)
	if c == nil {
		return
	}
	c.written(n)
}

// reject answers a handshake with an HTTP error and lingers: the write side
// is shut so the peer reads the answer, and the rest it sends is discarded
// until it closes or CloseWait passes (closing at once, with unread input,
// would reset the connection and could destroy the answer). err is an
// *HTTPError, a *wsproto.HTTPError, or anything else (500, logged).
func (c *Conn) reject(err error) {
	he, detail := toWire(err)
	if he == nil {
		c.eng.log.Error("upgrade failed", "remote", c.RemoteAddr().String(), "err", err)
		he = &wsproto.HTTPError{Status: 500, Reason: "internal server error"}
	}
	for {
		st := c.state.Load()
		if st != stateHandshake && st != stateAuthorizing {
			return
		}
		if c.state.CompareAndSwap(st, stateRejecting) {
			break
		}
	}
	c.handshakeDone()
	c.eng.counters.refuse(he.Status)
	c.eng.refusals.log(c.RemoteAddr().String(), he.Status, he.Reason, detail)
	if c.tls != nil && !c.tls.ready.Load() {
		c.drop() // no HTTP answer before the TLS handshake is done
		return
	}
	c.deadline.Store(time.Now().Add(c.eng.cfg.CloseWait).UnixNano())
	c.write(wsproto.AppendHTTPError(nil, he))
	if c.unsent.Load() > 0 {
		return // nbio still holds part of the answer; shut nothing yet
	}
	c.shutWrite()
}

// toWire returns err as the wire form of an HTTP refusal and its detail
// for the log, or nil if it is none.
func toWire(err error) (*wsproto.HTTPError, string) {
	var he *HTTPError
	if errors.As(err, &he) {
		return &wsproto.HTTPError{Status: he.Status, Reason: he.Reason, Header: he.Header}, he.Detail
	}
	var we *wsproto.HTTPError
	if errors.As(err, &we) {
		return we, ""
	}
	return nil, ""
}

// closeAll starts the close handshake (1001) on every open connection and
// refuses those still upgrading.
func (e *Engine) closeAll() { e.Each(drainOne) }

// drainOne starts closing c for a shutdown.
func drainOne(c *Conn) {
	switch c.state.Load() {
	case stateOpen:
		c.Close(wsproto.CloseGoingAway, "server shutting down")
	case stateHandshake:
		c.reject(&HTTPError{Status: 503, Reason: "server shutting down"})
	}
}

// Shutdown drains the server: it stops accepting, sends every open
// connection a close frame with 1001 after its queued frames (spread over
// Config.DrainSpread when set), waits for
// the connections to close (each gets Config.CloseWait to answer), then
// stops the engine and its goroutines. If ctx ends first, the remaining
// connections are dropped and ctx's error is returned.
func (e *Engine) Shutdown(ctx context.Context) error {
	if !e.draining.CompareAndSwap(false, true) {
		return nil
	}
	e.runOnce.Do(func() { e.runErr = ErrClosed }) // never started: nothing runs
	e.cancelCtx()
	e.adopting.Lock() // wait for ServeHTTP calls already past their check
	e.adopting.Unlock()
	e.lnMu.Lock()
	for _, l := range e.lns {
		l.stop()
	}
	e.lnMu.Unlock()
	if e.nb == nil {
		return nil
	}
	if e.http != nil {
		// Its requests first: a TLS connection it serves is one of ours.
		e.http.ln.Close()
		e.http.shutdown(ctx)
	}
	var err error
	poll := time.NewTicker(5 * time.Millisecond)
	spread := newStagger(e, e.cfg.DrainSpread)
	for i := 0; e.conns.Load() > 0 && err == nil; i++ {
		if !spread.step() && i%10 == 0 {
			// Again now and then: a connection may finish its upgrade
			// after the first pass.
			e.closeAll()
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-poll.C:
		}
	}
	poll.Stop()
	e.stopOnce.Do(func() { close(e.stop) })
	e.wg.Wait()
	// Whatever is left is dropped. nbio's Stop closes the connections in
	// its descriptor table and then waits for every connection it ever
	// opened to close: close ours first, so that one it has lost track of
	// cannot hold Shutdown forever.
	left := 0
	e.Each(func(c *Conn) {
		left++
		_ = c.nc.Close()
	})
	if left > 0 {
		e.log.Warn("connections dropped at shutdown without a close handshake", "count", left, "err", err)
	}
	if !e.stopNBIO(ctx) && err == nil {
		err = errors.New("loop: the event loop did not stop")
	}
	forgetNBIOName(e.nbName)
	// Let workers finish what they run, Closed callbacks included.
	for e.pending.Load() > 0 && ctx.Err() == nil {
		if e.busy.Load() == 0 && e.backlog.len() > 0 {
			e.work(e.backlog.pop())
		}
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		err = ctx.Err()
	}
	_ = e.pool.ReleaseTimeout(5 * time.Second)
	return err
}

// stopNBIO stops nbio, which drops whatever is left, and reports whether
// it stopped. nbio's Stop waits for every connection it ever opened to
// close; should one never close, Shutdown returns after ctx ends (or 5 s
// more, if it has ended already) with an error logged, rather than hang.
func (e *Engine) stopNBIO(ctx context.Context) bool {
	stopped := make(chan struct{})
	go func() { defer close(stopped); e.nb.Stop() }()
	limit := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		limit, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
	}
	select {
	case <-stopped:
		return true
	case <-limit.Done():
		e.log.Error("the event loop (nbio) did not stop: a connection it opened never closed")
		return false
	}
}

// stagger closes a shutdown's connections spread evenly over a window, in
// the order they were found, so that their clients do not all reconnect
// elsewhere at once.
type stagger struct {
	start  time.Time
	window time.Duration
	conns  []*Conn
	done   int
}

func newStagger(e *Engine, window time.Duration) *stagger {
	st := &stagger{start: time.Now(), window: window}
	if window > 0 {
		e.Each(func(c *Conn) { st.conns = append(st.conns, c) })
	}
	return st
}

// step closes the connections due by now and reports whether some are
// still to come.
func (st *stagger) step() bool {
	due := len(st.conns)
	if el := time.Since(st.start); el < st.window {
		due = min(due, int(int64(due)*int64(el)/int64(st.window))+1)
	}
	for ; st.done < due; st.done++ {
		drainOne(st.conns[st.done])
		st.conns[st.done] = nil
	}
	return st.done < len(st.conns)
}
