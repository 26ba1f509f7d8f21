package api_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// TestOneLimitFieldSet: setting one field of Limits leaves the others at
// their defaults (it once left MaxRoom at 0, refusing every join).
func TestOneLimitFieldSet(t *testing.T) {
	ts := startServer(t, &api.Options{Limits: api.Limits{MaxEvent: 32}})
	c := dial(t, ts, nil)
	room := strings.Repeat("r", 100) // under the default 128
	c.join(room)
	require.NoError(t, ts.Join(c.id, "server-side"))
	c.expect("$joined")
	c.send(map[string]any{"event": strings.Repeat("e", 33), "id": "1"})
	c.expectError("bad_request") // the field that was set applies
}

// TestFramesSafeToBuild: JSON builds a valid frame; a payload without a
// kind, invalid JSON, an unknown kind or no event are refused with
// ErrInvalidFrame and reach nobody.
func TestFramesSafeToBuild(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts, nil)
	c.join("r")
	f, err := api.JSON("greet", map[string]string{"text": "hi"})
	require.NoError(t, err)
	f.Room = "r"
	n, err := ts.Broadcast("r", f)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.JSONEq(t, `{"text":"hi"}`, string(c.expect("greet").Payload))

	_, err = api.JSON("bad", func() {})
	assert.ErrorIs(t, err, api.ErrInvalidFrame)

	for _, bad := range []api.Frame{
		{Event: "x", Payload: []byte(`{"a":1}`)},                     // no kind
		{Event: "x", Kind: api.JSONPayload, Payload: []byte(`{"a"`)}, // not JSON
		{Event: "x", Kind: api.JSONPayload, Payload: []byte(`1 2`)},  // two values
		{Event: "x", Kind: 9, Payload: []byte(`1`)},                  // no such kind
		{Kind: api.JSONPayload, Payload: []byte(`1`)},                // no event
	} {
		_, err := ts.Broadcast("r", bad)
		assert.ErrorIs(t, err, api.ErrInvalidFrame, "%+v", bad)
		assert.ErrorIs(t, ts.Send(c.id, bad), api.ErrInvalidFrame, "%+v", bad)
	}
	require.NoError(t, ts.Send(c.id, api.Bytes("raw", []byte{0xff, 0})))
	assert.NotEmpty(t, c.expect("raw").Bin, "bytes that are not JSON arrive as bin")
	c.ping() // nothing else arrived in between
}

// TestHandleRefusesMistakes: Handle and Use panic on programming errors,
// as http.ServeMux does.
func TestHandleRefusesMistakes(t *testing.T) {
	srv := api.New(nil)
	ok := func(*api.Conn, *api.Frame) error { return nil }
	assert.PanicsWithValue(t, "roomloop: Handle: empty event", func() { srv.Handle("", ok) })
	assert.Panics(t, func() { srv.Handle("$join", ok) })
	assert.Panics(t, func() { srv.Handle("chat", nil) })
	assert.Panics(t, func() { srv.Use(nil) })
	assert.NotPanics(t, func() { srv.Handle("chat", ok) })
}

// TestOptionsRule: zero is the default, negative means "none" where a
// field says so, and is an error elsewhere; New panics with that error.
func TestOptionsRule(t *testing.T) {
	for _, o := range []api.Options{
		{},
		{MaxConnsPerIP: -1, MaxPendingPerIP: -1, MaxRooms: -1, MaxMembersListed: -1, PresenceMaxMembers: -1, AcceptRate: -1},
		{RateLimits: api.NoRateLimits()},
		{AllowedOrigins: []string{"https://app.example.com", "http://localhost:8000"}},
	} {
		assert.NoError(t, o.Validate(), "%+v", o)
	}
	for _, tc := range []struct {
		o    api.Options
		want string
	}{
		{api.Options{QueueFrames: -1}, "QueueFrames is -1"},
		{api.Options{HeartbeatTimeout: -time.Second}, "HeartbeatTimeout is -1s"},
		{api.Options{Limits: api.Limits{MaxRoom: -5}}, "Limits.MaxRoom is -5"},
		{api.Options{RateLimits: api.RateLimits{Join: api.Rate{PerSecond: 5}}}, "RateLimits.Join has burst 0"},
		{api.Options{AllowedOrigins: []string{"localhost:8000"}}, `"localhost:8000" is not an origin`},
		{api.Options{AllowedOrigins: []string{"https://app.example.com/"}}, "trailing slash"},
		{api.Options{AllowedOrigins: []string{"*"}}, "wildcard"},
		{api.Options{SlowConsumer: 7}, "SlowConsumer"},
	} {
		err := tc.o.Validate()
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
		assert.PanicsWithError(t, err.Error(), func() { api.New(&tc.o) })
	}
}

// TestMembersListedNegativeListsAll: a negative MaxMembersListed lists
// every member, per the rule.
func TestMembersListedNegativeListsAll(t *testing.T) {
	ts := startServer(t, &api.Options{MaxMembersListed: -1})
	var last frame.JoinedPayload
	for range 3 {
		last = dial(t, ts, nil).join("r")
	}
	assert.Len(t, last.Members, 3)
	assert.False(t, last.Truncated)
}

// TestLogs: the event loop's own lines (nbio's) go to Options.Logger, and
// refused upgrades are logged at info level with their reason, at most a
// burst of 20 and then 5 a second, however many come.
func TestLogs(t *testing.T) {
	logs := &logBuffer{}
	opts := &api.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ts := startServer(t, opts)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "nbio: NBIO") }, wait, time.Millisecond,
		"nbio's start line in the server's log")

	const refused = 200
	start := time.Now()
	for range refused {
		dialRefused(t, ts, http.Header{"Origin": {"https://elsewhere.example"}}, http.StatusForbidden)
	}
	elapsed := time.Since(start)
	lines := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "upgrade refused") {
			lines++
			assert.Contains(t, l, "level=INFO")
			assert.Contains(t, l, "status=403")
			assert.Contains(t, l, "https://elsewhere.example", "the detail names the origin")
		}
	}
	assert.GreaterOrEqual(t, lines, 20, "the first refusals are logged")
	assert.LessOrEqual(t, float64(lines), 20+5*(elapsed.Seconds()+1), "%d lines for %d refusals in %v", lines, refused, elapsed)
	// Once the rate lets a line through again, it says how many were left
	// out.
	require.Eventually(t, func() bool {
		dialRefused(t, ts, http.Header{"Origin": {"https://elsewhere.example"}}, http.StatusForbidden)
		return strings.Contains(logs.String(), "not_logged_before=")
	}, 10*time.Second, 50*time.Millisecond)
}
