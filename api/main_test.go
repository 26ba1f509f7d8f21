package api_test

import (
	"testing"

	"github.com/lesismal/nbio/logging"
	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// server is shut down by its test, and Shutdown must leave nothing running.
// Goroutines that exist before any test (the ants package's default pool)
// are not ours and are ignored.
func TestMain(m *testing.M) {
	logging.SetLevel(logging.LevelError)
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
