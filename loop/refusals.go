package loop

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"golang.org/x/time/rate"
)

// refusalLog logs refused upgrades at info level (404s, requests at
// another path that were no upgrade attempt, at debug), at most refusalBurst at
// once and refusalsPerSecond on average, so that a flood of bad upgrades
// cannot fill the log: each line counts the refusals left out before it.
type refusalLog struct {
	logger *slog.Logger
	rate   *rate.Limiter

	mu         sync.Mutex
	suppressed int
}

const (
	refusalsPerSecond = 5
	refusalBurst      = 20
)

func newRefusalLog(logger *slog.Logger) refusalLog {
	return refusalLog{logger: logger, rate: rate.NewLimiter(refusalsPerSecond, refusalBurst)}
}

// log records one refused upgrade.
func (r *refusalLog) log(remote string, status int, reason, detail string) {
	r.mu.Lock()
	if !r.rate.Allow() {
		r.suppressed++
		r.mu.Unlock()
		return
	}
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
	level := slog.LevelInfo
	if status == http.StatusNotFound { // a page or health check at another path, no upgrade attempt
		level = slog.LevelDebug
	}
	r.logger.Log(context.Background(), level, "upgrade refused", attrs...)
}
