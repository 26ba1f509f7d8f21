package scenario

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/roomloop/roomloop/client"
)

// TestReconnectFigures checks the helpers the reconnect scenario computes
// its figures with.
func TestReconnectFigures(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	s := ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0, 10 * time.Millisecond}, {0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 100 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := quantile(s, c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %v", got)
	}
	// 4 within [1000, 1999] ms; a window is half-open.
	if got := peakWindow(ms(0, 1000, 1200, 1500, 1999, 2000, 3500), time.Second); got != 4 {
		t.Errorf("peakWindow = %d, want 4", got)
	}
	if got := buckets(ms(0, 99, 100, 350), 100*time.Millisecond); fmt.Sprint(got) != "[2 1 0 1]" {
		t.Errorf("buckets = %v", got)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&client.RefusedError{Status: 503}, failHTTP503},
		{fmt.Errorf("dial: %w", &client.RefusedError{Status: 502}), failHTTP},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), failRefused},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), failTimeout},
		{errors.New("EOF"), failOther},
	} {
		if got := attemptFailure(c.err); got != c.want {
			t.Errorf("attemptFailure(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestReconnectRecorder feeds a recorder the state changes of two
// clients after a restart and checks what it derives.
func TestReconnectRecorder(t *testing.T) {
	r := newReconnectRecorder(2)
	r.state(0, client.StateChange{State: client.Connected}) // before arming: ignored
	t0 := time.Now()
	r.arm(t0)
	drop := client.StateChange{State: client.Disconnected, Err: &client.CloseError{Code: 1001}}
	back := client.StateChange{State: client.Connected, Gap: &client.Gap{Reason: "unknown"}}
	r.state(0, drop)
	r.state(0, client.StateChange{State: client.Resuming})
	r.state(0, client.StateChange{State: client.Disconnected, Err: syscall.ECONNREFUSED})
	r.state(0, client.StateChange{State: client.Resuming})
	r.state(0, back)
	r.state(1, client.StateChange{State: client.Disconnected, Err: errors.New("EOF")})
	r.state(1, client.StateChange{State: client.Resuming})
	r.state(1, back)
	if r.back.Load() != 2 || r.gaveUp.Load() != 0 {
		t.Fatalf("back %d, gave up %d", r.back.Load(), r.gaveUp.Load())
	}
	var res Result
	r.results(&res, 2, t0, Restart{Exited: t0, Listening: t0, Starts: 1}, 0.01)
	got := map[string]float64{}
	for _, m := range res.Metrics {
		got[m.Name] = m.Value
	}
	for name, want := range map[string]float64{
		"clients dropped with close 1001": 1, "clients dropped otherwise": 1,
		MetricFailed: 1, "failed attempts: " + failRefused: 1, "attempts per client": 1.5,
		"clients back with a gap, reason unknown": 2, "clients back resumed (none can be)": 0,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if res.Spread == nil || len(res.Spread.Back) != len(res.Spread.Failed) || res.Spread.Back[0] != 2 || res.Spread.Failed[0] != 1 {
		t.Errorf("spread = %+v", res.Spread)
	}
}
