package loop

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// listener wraps a listener the engine accepts from. Transient errors
// (out of file descriptors, aborted handshakes) are retried after a pause
// with rate-limited logs, so Accept fails only once the listener is
// stopped. With an accept rate it takes connections no faster than that:
// the rest wait in the kernel's backlog.
type listener struct {
	net.Listener
	log  *slog.Logger
	rate *rate.Limiter // nil: no limit

	stopping chan struct{} // closed by stop
	stopOnce sync.Once

	mu      sync.Mutex
	lastLog time.Time
}

func newListener(inner net.Listener, log *slog.Logger, perSecond float64, burst int) *listener {
	l := &listener{Listener: inner, log: log, stopping: make(chan struct{})}
	if perSecond > 0 {
		l.rate = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
	}
	return l
}

// Accept returns the next connection, or net.ErrClosed once stopped.
func (l *listener) Accept() (net.Conn, error) {
	if l.rate != nil {
		if d := l.rate.Reserve().Delay(); d > 0 {
			select {
			case <-time.After(d):
			case <-l.stopping:
				return nil, net.ErrClosed
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
			return nil, net.ErrClosed
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, net.ErrClosed
		}
		l.logRarely("accept failed; retrying", err)
		select {
		case <-time.After(10 * time.Millisecond):
		case <-l.stopping:
			return nil, net.ErrClosed
		}
	}
}

// stop closes the listener: no new connection arrives, and Accept fails.
func (l *listener) stop() {
	l.stopOnce.Do(func() {
		close(l.stopping)
		_ = l.Listener.Close()
	})
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
