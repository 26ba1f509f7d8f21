// Package cutproxy is a TCP proxy for tests that sever or silence the
// connections running through it, the way a network fault would: Cut
// resets every connection at once, Blackhole keeps them open but lets no
// byte through, so only a liveness check can notice.
//
// A Proxy is safe for concurrent use. It listens on 127.0.0.1 port 0 and
// forwards each accepted connection to one target address.
package cutproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards connections to a target and can sever them.
type Proxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	links     map[*link]struct{}
	refusing  bool
	blackhole bool
	deaf      bool
	accepted  int
	wg        sync.WaitGroup
	closed    bool
	swallowed atomic.Int64 // bytes thrown away by Blackhole or Deafen
}

// link is one proxied connection: the client's side and the target's.
type link struct {
	client, server net.Conn
	// silent, when closed, makes both copy loops discard what they read;
	// deaf, when closed, only the loop towards the client.
	silent, deaf chan struct{}
	once         sync.Once
}

// Start listens on 127.0.0.1 port 0 and forwards every connection to
// target ("host:port"). Close stops it.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, links: make(map[*link]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted returns how many connections the proxy has accepted and
// forwarded so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Open returns how many connections are running through the proxy now.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Cut resets every open connection on both sides (TCP RST, no close
// handshake) and returns how many it cut. New connections are still
// accepted unless Refuse is on.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	// Closing a socket waits for the goroutines using it to let go, so
	// the resets run side by side: the cut is one moment for every link.
	var wg sync.WaitGroup
	for _, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.reset()
		}()
	}
	wg.Wait()
	return len(links)
}

// Refuse makes the proxy reset new connections as soon as it accepts them
// (on), or forward them again (off). Open connections are not touched.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refusing = on
	p.mu.Unlock()
}

// Blackhole silences every open connection and every later one: they stay
// open, but bytes in either direction are read and thrown away, as on a
// link that died without a word. Cut ends them.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.blackhole = true
	for l := range p.links {
		l.silence()
	}
	p.mu.Unlock()
}

// Deafen silences the direction from the target to the client, on every
// open connection and every later one: what the client sends still
// arrives, but no answer comes back, as when replies are lost.
func (p *Proxy) Deafen() {
	p.mu.Lock()
	p.deaf = true
	for l := range p.links {
		closeOnce(l.deaf)
	}
	p.mu.Unlock()
}

// Swallowed returns how many bytes Blackhole and Deafen have thrown away
// so far, in both directions: a test can wait for a frame it sent to
// have reached a silenced link.
func (p *Proxy) Swallowed() int64 { return p.swallowed.Load() }

// Heal undoes Blackhole and Deafen for later connections; open ones stay
// silenced until cut.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.blackhole, p.deaf = false, false
	p.mu.Unlock()
}

// Close stops accepting, cuts every connection and waits for the proxy's
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refusing || p.closed
		p.mu.Unlock()
		if refuse {
			resetConn(c)
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// forward connects c to the target and copies both ways; each accepted
// connection dials on its own, so a slow target never holds up the rest.
func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		resetConn(c)
		return
	}
	l := &link{client: c, server: s, silent: make(chan struct{}), deaf: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		l.reset()
		return
	}
	p.links[l] = struct{}{}
	p.accepted++
	if p.blackhole {
		l.silence()
	}
	if p.deaf {
		closeOnce(l.deaf)
	}
	p.mu.Unlock()
	var done sync.WaitGroup
	done.Add(2)
	p.wg.Add(2)
	go p.pipe(l.server, l.client, l.silent, nil, l, &done)
	go p.pipe(l.client, l.server, l.silent, l.deaf, l, &done)
	done.Wait()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// pipe copies from src to dst until either side fails; then it resets
// both, so that a close on one side is a close on the other.
// Bytes are thrown away once silent or deaf (nil: never) is closed.
func (p *Proxy) pipe(dst, src net.Conn, silent, deaf chan struct{}, l *link, done *sync.WaitGroup) {
	defer p.wg.Done()
	defer done.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && (isClosed(silent) || isClosed(deaf)) {
			p.swallowed.Add(int64(n))
		} else if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// An orderly close: pass it on as one.
				if tc, ok := dst.(*net.TCPConn); ok && !isClosed(silent) {
					_ = tc.CloseWrite()
					return
				}
			}
			l.reset()
			return
		}
	}
}

// isClosed reports whether ch is closed; a nil ch never is.
func isClosed(ch chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// closeOnce closes ch unless it is closed. Callers hold Proxy.mu.
func closeOnce(ch chan struct{}) {
	if !isClosed(ch) {
		close(ch)
	}
}

func (l *link) silence() { closeOnce(l.silent) }

// reset closes both sides with an RST.
func (l *link) reset() {
	l.once.Do(func() {
		resetConn(l.client)
		resetConn(l.server)
	})
}

func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
