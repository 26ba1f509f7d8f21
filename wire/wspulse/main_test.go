package wspulse_test

import (
	"testing"

	"github.com/lesismal/nbio/logging"
	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	logging.SetLevel(logging.LevelError)
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
