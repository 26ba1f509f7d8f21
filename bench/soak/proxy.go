package soak

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
)

// proxy is a TCP proxy between the chaos run's clients and the server
// that can sever connections. Both sides of every proxied connection live
// on one nbio engine (no goroutine per connection); one goroutine
// accepts and dials.
type proxy struct {
	ln     net.Listener
	target string
	eng    *nbio.Engine
	next   atomic.Uint64 // source address rotation
	// published orders a pair's construction before the poller's use of
	// it (nbio hands connections over through epoll, which the race
	// detector does not see).
	published atomic.Int64

	mu    sync.Mutex
	pairs []*pair // open pairs, in no order; pair.at is the index
	done  chan struct{}
	once  sync.Once
}

// pair is one proxied connection: the client's side and the server's.
type pair struct {
	client, server *nbio.Conn
	at             int // index in proxy.pairs; -1 once removed
}

// end is one side of a pair, as its nbio session.
type end struct {
	p    *pair
	peer func() *nbio.Conn
}

// newProxy listens on 127.0.0.1:0 and forwards to target.
func newProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	px := &proxy{ln: ln, target: target, done: make(chan struct{})}
	px.eng = nbio.NewEngine(nbio.Config{Name: "soak-proxy"})
	px.eng.OnData(func(c *nbio.Conn, data []byte) {
		px.published.Load()
		if e, ok := c.Session().(*end); ok {
			if peer := e.peer(); peer != nil {
				_, _ = peer.Write(data)
			}
		}
	})
	px.eng.OnClose(func(c *nbio.Conn, _ error) {
		px.published.Load()
		if e, ok := c.Session().(*end); ok {
			px.remove(e.p)
			if peer := e.peer(); peer != nil {
				_ = peer.Close()
			}
		}
	})
	if err := px.eng.Start(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	go px.accept()
	return px, nil
}

// Addr returns the address clients dial.
func (px *proxy) Addr() string { return px.ln.Addr().String() }

// accept pairs each accepted connection with a new one to the target.
func (px *proxy) accept() {
	defer close(px.done)
	for {
		cc, err := px.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		k := px.next.Add(1)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+k%32))}, Timeout: 5 * time.Second}
		sc, err := d.Dial("tcp", px.target)
		if err != nil {
			_ = cc.Close()
			continue
		}
		a, err1 := nbio.NBConn(cc) // dups the socket and closes cc
		b, err2 := nbio.NBConn(sc)
		if err1 != nil || err2 != nil {
			_ = cc.Close()
			_ = sc.Close()
			continue
		}
		p := &pair{client: a, server: b}
		a.SetSession(&end{p: p, peer: func() *nbio.Conn { return p.server }})
		b.SetSession(&end{p: p, peer: func() *nbio.Conn { return p.client }})
		px.mu.Lock()
		p.at = len(px.pairs)
		px.pairs = append(px.pairs, p)
		px.mu.Unlock()
		px.published.Add(1)
		if _, err := px.eng.AddConn(b); err != nil {
			_ = a.Close()
			_ = b.Close()
			px.remove(p)
			continue
		}
		if _, err := px.eng.AddConn(a); err != nil {
			_ = a.Close()
			_ = b.Close()
			px.remove(p)
		}
	}
}

// remove forgets p (idempotent).
func (px *proxy) remove(p *pair) {
	px.mu.Lock()
	defer px.mu.Unlock()
	if p.at < 0 {
		return
	}
	last := px.pairs[len(px.pairs)-1]
	px.pairs[p.at] = last
	last.at = p.at
	px.pairs = px.pairs[:len(px.pairs)-1]
	p.at = -1
}

// Len returns the open pairs.
func (px *proxy) Len() int {
	px.mu.Lock()
	defer px.mu.Unlock()
	return len(px.pairs)
}

// Sever cuts n random pairs: both sides are closed, with a TCP reset
// when rst, else with a FIN. Neither peer gets a WebSocket close frame.
// It returns how many it cut.
func (px *proxy) Sever(n int, rst bool) int {
	px.mu.Lock()
	var cut []*pair
	for range n {
		if len(px.pairs) == 0 {
			break
		}
		p := px.pairs[rand.IntN(len(px.pairs))]
		last := px.pairs[len(px.pairs)-1]
		px.pairs[p.at] = last
		last.at = p.at
		px.pairs = px.pairs[:len(px.pairs)-1]
		p.at = -1
		cut = append(cut, p)
	}
	px.mu.Unlock()
	for _, p := range cut {
		if rst {
			_ = p.client.SetLinger(1, 0)
			_ = p.server.SetLinger(1, 0)
		}
		_ = p.client.Close()
		_ = p.server.Close()
	}
	return len(cut)
}

// Close stops accepting and closes every proxied connection.
func (px *proxy) Close() {
	px.once.Do(func() {
		_ = px.ln.Close()
		<-px.done
		px.eng.Stop()
	})
}
