package api_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// TestSessionsOf: the server lists a user's live sessions, connected or
// suspended, and forgets a session when it ends; sessions without a user
// are not listed.
func TestSessionsOf(t *testing.T) {
	ts := startServer(t, &api.Options{
		Authorize: func(r *http.Request) (api.Identity, error) {
			return api.Identity{User: r.Header.Get("X-User")}, nil
		},
	})
	as := func(user string) http.Header { return http.Header{"X-User": {user}} }
	a1, a2, b := dial(t, ts, as("u")), dial(t, ts, as("u")), dial(t, ts, as("v"))
	anon := dial(t, ts, nil)

	want := []string{a1.id, a2.id}
	slices.Sort(want)
	assert.Equal(t, want, ts.SessionsOf("u"))
	assert.Equal(t, []string{b.id}, ts.SessionsOf("v"))
	assert.Empty(t, ts.SessionsOf(""))
	assert.Empty(t, ts.SessionsOf("nobody"))
	c, ok := ts.Conn(a1.id)
	require.True(t, ok)
	assert.Equal(t, "u", c.User())
	c, ok = ts.Conn(anon.id)
	require.True(t, ok)
	assert.Equal(t, "", c.User())

	require.NoError(t, ts.Kick(a1.id, "bye"))
	assert.Equal(t, []string{a2.id}, ts.SessionsOf("u"))
	assert.Equal(t, 4001, a1.expectClose())

	// A dropped connection suspends its session: still the user's.
	_ = a2.ws.Close()
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, time.Millisecond)
	assert.Equal(t, []string{a2.id}, ts.SessionsOf("u"))
	require.NoError(t, ts.Kick(a2.id, ""))
	assert.Empty(t, ts.SessionsOf("u"))
}
