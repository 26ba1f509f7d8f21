package scenario

import "github.com/roomloop/roomloop/bench/serve"

// RunsCentrifuge reports whether scenario name also runs against the
// centrifuge comparator (serve.Centrifuge): idle, broadcast, echo and
// connect. The others need what only roomloop's protocol has (resume
// tokens, slow-consumer notices, the Go client), so centrifuge skips them.
func RunsCentrifuge(name string) bool {
	switch name {
	case "idle", "broadcast", "echo", "connect":
		return true
	}
	return false
}

// RunsFloor reports whether scenario name also runs against the floor
// (serve.Floor), in every run: idle, whose memory per connection is
// reported against it. The floor speaks no more than idle needs.
func RunsFloor(name string) bool { return name == "idle" }

// ImplTarget is a Target that knows which implementation it runs.
type ImplTarget interface {
	Impl() string
}

// speaksCentrifuge reports whether t is the centrifuge comparator, whose
// clients speak centrifuge's protocol (load.Config.Centrifuge).
func speaksCentrifuge(t Target) bool {
	it, ok := t.(ImplTarget)
	return ok && it.Impl() == serve.Centrifuge
}
