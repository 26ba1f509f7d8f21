package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
)

// Config configures a Pool.
type Config struct {
	Addr string // server host:port
	Path string // default "/ws"
	// SourceIPs is how many loopback source addresses (127.0.0.2 …) the
	// connections are spread over; default 32.
	SourceIPs int
	// Handler gets every server message after $welcome, on a poller
	// goroutine; it must not block.
	Handler func(c *Conn, m *Msg)
	// Timeout bounds one dial plus upgrade; default 10s.
	Timeout time.Duration
}

// Pool holds client connections on one nbio engine. Its methods are safe
// for concurrent use.
type Pool struct {
	cfg      Config
	eng      *nbio.Engine
	next     atomic.Uint64 // source address rotation
	stats    Stats
	mu       sync.Mutex
	conns    []*Conn
	nWelcome atomic.Int64
	// published is added to after a Conn is built and loaded before the
	// poller uses one, so the Conn's construction happens before its use
	// (nbio's hand-over through epoll is invisible to the race detector).
	published atomic.Int64
	welcome   chan struct{} // signalled on every $welcome
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
	p := &Pool{cfg: cfg, welcome: make(chan struct{}, 1)}
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
			c.closed.Store(true)
			p.stats.Closed.Add(1)
		}
	})
	if err := p.eng.Start(); err != nil {
		return nil, err
	}
	return p, nil
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
	k := p.next.Add(1)
	src := net.IPv4(127, 0, 0, byte(2+k%uint64(min(p.cfg.SourceIPs, 250))))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: p.cfg.Timeout}
	nc, err := d.Dial("tcp", p.cfg.Addr)
	if err != nil {
		return nil, err
	}
	rest, err := handshake(nc, p.cfg.Addr, p.cfg.Path, p.cfg.Timeout)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	bc, err := nbio.NBConn(nc) // dups the socket and closes nc
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	c := &Conn{pool: p, nc: bc, Index: index}
	bc.SetSession(c)
	c.feed(rest)
	p.published.Add(1)
	if _, err := p.eng.AddConn(bc); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	return c, nil
}

// OpenN opens n connections with conc dialers at a time and waits until
// every one of them (and every earlier one) has its $welcome. The
// connections are returned in Index order 0..n-1.
func (p *Pool) OpenN(ctx context.Context, n, conc int) ([]*Conn, error) {
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
				c, err := p.Open(i)
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
func (p *Pool) Close(grace time.Duration) error {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	deadline := time.Now().Add(grace)
	for p.stats.Closed.Load() < int64(len(conns)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range conns {
		_ = c.nc.Close()
	}
	p.eng.Stop()
	if p.stats.Closed.Load() < int64(len(conns)) {
		return errors.New("load: not every connection closed in time")
	}
	return nil
}
