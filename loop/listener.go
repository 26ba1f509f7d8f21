package loop

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// listener wraps the TCP listener that nbio's acceptor goroutine drives.
// nbio treats any Accept error as fatal yet keeps calling Accept until the
// engine stops, so this wrapper never returns an error before Close:
// transient errors (out of file descriptors, aborted handshakes) are
// retried after a pause with rate-limited logs, and after stopAccepting it
// blocks until the engine closes it. With an accept rate it takes
// connections no faster than that: the rest wait in the kernel's backlog.
type listener struct {
	net.Listener
	log  *slog.Logger
	rate *rate.Limiter // nil: no limit

	stopping  chan struct{} // closed by stopAccepting
	closed    chan struct{} // closed by Close
	entered   chan struct{} // closed when Accept is first called
	stopOnce  sync.Once
	closeOnce sync.Once
	enterOnce sync.Once

	mu      sync.Mutex
	lastLog time.Time
}

func newListener(inner net.Listener, log *slog.Logger, perSecond float64, burst int) *listener {
	l := &listener{Listener: inner, log: log, stopping: make(chan struct{}), closed: make(chan struct{}),
		entered: make(chan struct{})}
	if perSecond > 0 {
		l.rate = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
	}
	return l
}

// Accept returns the next connection; see listener.
func (l *listener) Accept() (net.Conn, error) {
	l.enterOnce.Do(func() { close(l.entered) })
	if l.rate != nil {
		if d := l.rate.Reserve().Delay(); d > 0 {
			select {
			case <-time.After(d):
			case <-l.stopping:
			}
		}
	}
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		select {
		case <-l.stopping:
			<-l.closed
			return nil, net.ErrClosed
		case <-l.closed:
			return nil, net.ErrClosed
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			<-l.closed
			return nil, net.ErrClosed
		}
		l.logRarely("accept failed; retrying", err)
		select {
		case <-time.After(10 * time.Millisecond):
		case <-l.closed:
			return nil, net.ErrClosed
		}
	}
}

// stopAccepting closes the socket so no new connection arrives, without
// making Accept fail yet.
func (l *listener) stopAccepting() {
	l.stopOnce.Do(func() {
		close(l.stopping)
		_ = l.Listener.Close()
	})
}

// Close stops the listener for good.
func (l *listener) Close() error {
	l.stopAccepting()
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// logRarely logs at most one accept error per second.
func (l *listener) logRarely(msg string, err error) {
	l.mu.Lock()
	now := time.Now()
	ok := now.Sub(l.lastLog) >= time.Second
	if ok {
		l.lastLog = now
	}
	l.mu.Unlock()
	if ok {
		l.log.Warn(msg, "err", err)
	}
}
