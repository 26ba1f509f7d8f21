package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lesismal/nbio"
)

// Config configures a Pool.
type Config struct {
	Addr string // server host:port
	// AddrOf, if set, returns the address connection index dials instead
	// of Addr (a proxy of its own, say); the upgrade's Host stays Addr.
	AddrOf func(index int) string
	Path   string // default "/ws"
	// SourceIPs is how many loopback source addresses (127.0.0.2 …) the
	// connections are spread over; default 32.
	SourceIPs int
	// Handler gets every server message after $welcome, on a poller
	// goroutine; it must not block.
	Handler func(c *Conn, m *Msg)
	// OnWelcome, if set, gets each connection's $welcome (on a poller
	// goroutine, before Welcomed counts it); it must not block.
	OnWelcome func(c *Conn, m *Msg)
	// OnClose, if set, runs once when a connection has ended (either side),
	// after the pool has forgotten it; it must not block.
	OnClose func(c *Conn)
	// Timeout bounds one dial plus upgrade; default 10s.
	Timeout time.Duration
	// TLS, if set, makes Open speak wss://: each connection is a
	// crypto/tls client read by a goroutine of its own instead of a
	// socket on the nbio engine (which speaks no TLS). It suits scenarios
	// that measure the server, not the load generator: idle.
	TLS *tls.Config
	// Centrifuge makes the clients speak centrifuge's JSON protocol
	// instead of roomloop's, through an adapter (centrifuge.go): the
	// scenarios' messages are translated both ways.
	Centrifuge bool
	// Deflate offers permessage-deflate (RFC 7692) with no context
	// takeover either way on every connection; where the server accepts,
	// its compressed messages (RSV1) are inflated, each on its own, before
	// they are parsed. Stats.WireBytes counts the bytes as sent.
	Deflate bool
	// InflateCache, with Deflate, inflates each distinct compressed body
	// once for all connections (zcache): a broadcast that reaches every
	// member as the same compressed bytes (after a per-member stored
	// block, as roomloop sends a seq) then costs the load generator one
	// inflation, not one per member, so that the load generator's core
	// is less the limit of what a compressing server is measured at. The
	// stored block is checked per message; every message is still parsed
	// and counted. Off: every message is inflated on its own, as a
	// browser does.
	InflateCache bool
	// NoSeq is for a server that numbers no frames (the baseline in its
	// compressed mode, whose broadcasts are one frame shared by every
	// member): messages without a seq are handled, not counted as seq
	// errors. A lost message then shows only as a scenario's wait for
	// deliveries failing.
	NoSeq bool
}

// Pool holds client connections on one nbio engine. Its methods are safe
// for concurrent use.
type Pool struct {
	cfg      Config
	eng      *nbio.Engine
	next     atomic.Uint64 // source address rotation
	stats    Stats
	mu       sync.Mutex
	conns    map[*Conn]struct{} // open connections
	nWelcome atomic.Int64
	// published is added to after a Conn is built and loaded before the
	// poller uses one, so the Conn's construction happens before its use
	// (nbio's hand-over through epoll is invisible to the race detector).
	published atomic.Int64
	welcome   chan struct{} // signalled on every $welcome
	stopped   atomic.Bool   // Close has run
	zcache    *zcache       // Config.InflateCache; nil when off
}

// New starts a Pool's engine.
func New(cfg Config) (*Pool, error) {
	if cfg.Path == "" {
		cfg.Path = "/ws"
	}
	if cfg.SourceIPs <= 0 {
		cfg.SourceIPs = 32
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	p := &Pool{cfg: cfg, welcome: make(chan struct{}, 1), conns: make(map[*Conn]struct{})}
	if cfg.InflateCache {
		p.zcache = new(zcache)
	}
	p.eng = nbio.NewEngine(nbio.Config{Name: "load"})
	p.eng.OnData(func(nc *nbio.Conn, data []byte) {
		p.published.Load()
		if c, ok := nc.Session().(*Conn); ok {
			c.feed(data)
		}
	})
	p.eng.OnClose(func(nc *nbio.Conn, err error) {
		p.published.Load()
		if c, ok := nc.Session().(*Conn); ok {
			p.ended(c)
		}
	})
	if err := p.eng.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// ended forgets c, which has ended.
func (p *Pool) ended(c *Conn) {
	c.closed.Store(true)
	// Wait for a parse in progress (the bytes that came with the upgrade
	// response, or a read): a connection's end is handled after
	// everything it received.
	c.rmu.Lock()
	c.rmu.Unlock()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.stats.Closed.Add(1)
	if h := p.cfg.OnClose; h != nil {
		h(c)
	}
}

// Stats returns the pool's counters.
func (p *Pool) Stats() *Stats { return &p.stats }

// welcomed notes a $welcome.
func (p *Pool) welcomed(*Conn) {
	p.nWelcome.Add(1)
	select {
	case p.welcome <- struct{}{}:
	default:
	}
}

// Welcomed returns how many connections have received $welcome.
func (p *Pool) Welcomed() int64 { return p.nWelcome.Load() }

// Open dials one connection from the next source address, upgrades it,
// and adds it to the engine. $welcome may still be on its way.
func (p *Pool) Open(index int) (*Conn, error) {
	return p.open(index, p.cfg.Path, 0)
}

// OpenResume is Open with a resume request for the session of token:
// the upgrade asks for /ws?resume=<token>&last_seq=<lastSeq>, and the
// connection's seq check continues after lastSeq. If the server refuses
// the resume ("resumed":false), the check restarts at seq 1.
func (p *Pool) OpenResume(index int, token string, lastSeq uint64) (*Conn, error) {
	path := p.cfg.Path + "?resume=" + url.QueryEscape(token) + "&last_seq=" + strconv.FormatUint(lastSeq, 10)
	return p.open(index, path, lastSeq)
}

// open dials, upgrades at path and adds the connection to the engine.
func (p *Pool) open(index int, path string, lastSeq uint64) (*Conn, error) {
	addr := p.cfg.Addr
	if p.cfg.AddrOf != nil {
		addr = p.cfg.AddrOf(index)
	}
	nc, err := p.dial(addr, 0)
	if err != nil {
		return nil, err
	}
	if p.cfg.TLS != nil {
		return p.openTLS(nc, index, path, lastSeq)
	}
	rest, deflate, err := handshake(nc, p.cfg.Addr, path, p.cfg.subprotocol(), p.cfg.Deflate, p.cfg.Timeout)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	bc, err := nbio.NBConn(nc) // dups the socket and closes nc
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	c := p.newConn(bc, index, lastSeq)
	p.negotiated(c, deflate)
	bc.SetSession(c)
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	// The bytes that came with the upgrade response are parsed once the
	// connection is on the engine (a handler may write), and before
	// anything the poller reads (it waits for rmu).
	c.rmu.Lock()
	p.published.Add(1)
	if _, err := p.eng.AddConn(bc); err != nil {
		c.rmu.Unlock()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
		_ = bc.Close()
		return nil, err
	}
	c.feedLocked(rest)
	c.rmu.Unlock()
	if err := c.started(); err != nil {
		c.drop()
		return nil, err
	}
	return c, nil
}

// openTLS is open over TLS: it runs the TLS handshake and the upgrade on
// nc, then reads the connection on a goroutine of its own.
func (p *Pool) openTLS(nc net.Conn, index int, path string, lastSeq uint64) (*Conn, error) {
	tc := tls.Client(nc, p.cfg.TLS)
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	rest, deflate, err := handshake(tc, p.cfg.Addr, path, p.cfg.subprotocol(), p.cfg.Deflate, p.cfg.Timeout)
	if err != nil {
		_ = tc.Close()
		return nil, err
	}
	c := p.newConn(tc, index, lastSeq)
	p.negotiated(c, deflate)
	p.mu.Lock()
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	c.feed(rest)
	if err := c.started(); err != nil {
		c.drop()
		return nil, err
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tc.Read(buf)
			if n > 0 {
				c.feed(buf[:n])
			}
			if err != nil {
				_ = tc.Close()
				p.ended(c)
				return
			}
		}
	}()
	return c, nil
}

// negotiated notes whether the server accepted c's permessage-deflate
// offer, before c is read.
func (p *Pool) negotiated(c *Conn, deflate bool) {
	c.deflate = deflate
	if deflate {
		p.stats.Deflate.Add(1)
	}
}

// Dial connects to the server from the next source address, without
// upgrading; rcvBuf > 0 sets the socket's receive buffer (SO_RCVBUF)
// before it connects, so that the TCP window stays small.
func (p *Pool) Dial(rcvBuf int) (net.Conn, error) { return p.dial(p.cfg.Addr, rcvBuf) }

// dial is Dial to addr.
func (p *Pool) dial(addr string, rcvBuf int) (net.Conn, error) {
	k := p.next.Add(1)
	src := net.IPv4(127, 0, 0, byte(2+k%uint64(min(p.cfg.SourceIPs, 250))))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: p.cfg.Timeout}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	return d.Dial("tcp", addr)
}

// DialRaw connects from the next source address (with SO_RCVBUF rcvBuf
// when > 0) and upgrades at path (the pool's path when ""), outside the
// pool's engine: the caller owns the blocking socket, which never offers
// permessage-deflate. It returns the bytes received after the upgrade
// response.
func (p *Pool) DialRaw(path string, rcvBuf int) (net.Conn, []byte, error) {
	if path == "" {
		path = p.cfg.Path
	}
	nc, err := p.Dial(rcvBuf)
	if err != nil {
		return nil, nil, err
	}
	rest, _, err := handshake(nc, p.cfg.Addr, path, p.cfg.subprotocol(), false, p.cfg.Timeout)
	if err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	return nc, rest, nil
}

// Len returns how many connections are open.
func (p *Pool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// OpenN opens n connections with conc dialers at a time and waits until
// every one of them (and every earlier one) has its $welcome. The
// connections are returned in Index order 0..n-1.
func (p *Pool) OpenN(ctx context.Context, n, conc int) ([]*Conn, error) {
	return p.OpenEach(ctx, n, conc, p.Open)
}

// OpenEach is OpenN with each connection opened by open(i) (Open or
// OpenResume, say): conc calls at a time, then a wait until every one of
// them has its $welcome.
func (p *Pool) OpenEach(ctx context.Context, n, conc int, open func(i int) (*Conn, error)) ([]*Conn, error) {
	if conc <= 0 {
		conc = 32
	}
	target := p.nWelcome.Load() + int64(n)
	conns := make([]*Conn, n)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil || ctx.Err() != nil {
					return
				}
				c, err := open(i)
				if err != nil {
					err = fmt.Errorf("load: connection %d: %w", i, err)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, *e
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return conns, p.WaitWelcome(ctx, target)
}

// WaitWelcome waits until at least target connections have had $welcome.
func (p *Pool) WaitWelcome(ctx context.Context, target int64) error {
	for p.nWelcome.Load() < target {
		select {
		case <-p.welcome:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("load: %d of %d connections welcomed: %w", p.nWelcome.Load(), target, ctx.Err())
		}
	}
	return nil
}

// Close sends every connection a close frame, waits up to grace for the
// server to end them, then closes what is left and stops the engine.
// Calls after the first do nothing.
func (p *Pool) Close(grace time.Duration) error {
	if p.stopped.Swap(true) {
		return nil
	}
	p.mu.Lock()
	conns := make([]*Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(grace)
	for p.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	left := p.Len()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.nc.Close()
	}
	p.mu.Unlock()
	p.eng.Stop()
	if left > 0 {
		return fmt.Errorf("load: %d of %d connections not closed in time", left, len(conns))
	}
	return nil
}
