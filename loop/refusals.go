package loop

import (
	"log/slog"
	"sync"
	"time"
)

// refusalLog logs refused upgrades at info level, at most refusalBurst at
// once and refusalsPerSecond on average, so that a flood of bad upgrades
// cannot fill the log: each line counts the refusals left out before it.
type refusalLog struct {
	logger *slog.Logger

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

const (
	refusalsPerSecond = 5
	refusalBurst      = 20
)

// log records one refused upgrade.
func (r *refusalLog) log(remote string, status int, reason, detail string) {
	r.mu.Lock()
	now := time.Now()
	if r.last.IsZero() {
		r.tokens = refusalBurst
	} else {
		r.tokens = min(refusalBurst, r.tokens+now.Sub(r.last).Seconds()*refusalsPerSecond)
	}
	r.last = now
	if r.tokens < 1 {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.tokens--
	suppressed := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	attrs := []any{"remote", remote, "status", status, "reason", reason}
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	if suppressed > 0 {
		attrs = append(attrs, "not_logged_before", suppressed)
	}
	r.logger.Info("upgrade refused", attrs...)
}
