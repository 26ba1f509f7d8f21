package api_test

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// proxy forwards TCP connections to the server and can cut them: sever
// drops both sides without a WebSocket close (the server sees the transport
// vanish), freeze stops forwarding but keeps the sockets open (a half-open
// connection the server cannot tell from a silent client).
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu    sync.Mutex
	pairs []*pipePair
	wg    sync.WaitGroup
}

type pipePair struct {
	client, server net.Conn
	mu             sync.Mutex
	frozen         bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{t: t, ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		pp := &pipePair{client: c, server: s}
		p.mu.Lock()
		p.pairs = append(p.pairs, pp)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.copy(pp, s, c)
		go p.copy(pp, c, s)
	}
}

func (p *proxy) copy(pp *pipePair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			pp.mu.Lock()
			frozen := pp.frozen
			pp.mu.Unlock()
			if !frozen {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				_ = dst.Close()
			}
			_ = dst.Close()
			return
		}
	}
}

// sever cuts every connection through the proxy: both sockets close with
// no WebSocket close frame.
func (p *proxy) sever() {
	p.mu.Lock()
	pairs := p.pairs
	p.pairs = nil
	p.mu.Unlock()
	for _, pp := range pairs {
		_ = pp.client.Close()
		_ = pp.server.Close()
	}
}

// freeze stops forwarding in both directions but keeps the sockets open.
func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pp := range p.pairs {
		pp.mu.Lock()
		pp.frozen = true
		pp.mu.Unlock()
	}
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.sever()
	p.wg.Wait()
}
