package client_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/client"
)

// issuer hands out numbered tokens for one user, each expiring after the
// lifetime its turn gives, and checks them for the server.
type issuer struct {
	mu        sync.Mutex
	lifetimes []time.Duration // by turn; the last repeats
	expiry    map[string]time.Time
	calls     int
	refreshes int // $refresh checks the server made
	refuse    bool
}

// token is the client's Options.Token.
func (is *issuer) token(context.Context) (string, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	life := is.lifetimes[min(is.calls, len(is.lifetimes)-1)]
	is.calls++
	tok := "t" + strconv.Itoa(is.calls)
	if is.expiry == nil {
		is.expiry = map[string]time.Time{}
	}
	is.expiry[tok] = time.Now().Add(life)
	return tok, nil
}

func (is *issuer) check(tok string) (api.Identity, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	exp, ok := is.expiry[tok]
	if !ok || time.Now().After(exp) {
		return api.Identity{}, api.Unauthorized("token expired or unknown")
	}
	return api.Identity{User: "ann", Expires: exp}, nil
}

func (is *issuer) options() *api.Options {
	return &api.Options{
		Authorize: func(r *http.Request) (api.Identity, error) {
			return is.check(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		},
		Refresh: func(_ *api.Conn, tok string) (api.Identity, error) {
			is.mu.Lock()
			is.refreshes++
			refuse := is.refuse
			is.mu.Unlock()
			if refuse {
				return api.Identity{}, api.Unauthorized("refresh refused by the test")
			}
			return is.check(tok)
		},
	}
}

func (is *issuer) counts() (calls, refreshes int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.calls, is.refreshes
}

// TestRefreshBeforeExpiry: the client calls its token function before the
// credential expires and sends it with $refresh; the connection outlives
// the first credential without a drop.
func TestRefreshBeforeExpiry(t *testing.T) {
	is := &issuer{lifetimes: []time.Duration{1500 * time.Millisecond, time.Hour}}
	srv, url := startServer(t, is.options())
	start := time.Now()
	var mu sync.Mutex
	var states []string
	c := dial(t, url, &client.Options{Token: is.token, OnState: func(s client.StateChange) {
		mu.Lock()
		states = append(states, s.State.String())
		mu.Unlock()
	}})
	r := record(c)
	session := c.Session()

	require.Eventually(t, func() bool { _, n := is.counts(); return n == 1 }, wait, 5*time.Millisecond,
		"the client refreshes before the credential expires")
	// The condition is the first credential's expiry passing.
	<-time.After(time.Until(start.Add(2 * time.Second)))
	assert.Equal(t, client.Connected, c.State())
	assert.Equal(t, session, c.Session())
	mu.Lock()
	assert.Equal(t, []string{"connecting", "connected"}, states, "no reconnect")
	mu.Unlock()
	assert.Empty(t, r.errors())
	assert.Zero(t, srv.Stats().Suspended)
	calls, refreshes := is.counts()
	assert.Equal(t, 2, calls)
	assert.Equal(t, 1, refreshes, "one refresh for an hour-long credential")
}

// TestRefreshRefusedThenResume: a refused refresh is reported to OnError;
// when the credential expires the server closes with 4004, and the client
// reconnects with a fresh token and resumes its session exactly.
func TestRefreshRefusedThenResume(t *testing.T) {
	is := &issuer{lifetimes: []time.Duration{1500 * time.Millisecond, time.Hour}, refuse: true}
	srv, url := startServer(t, is.options())
	c := dial(t, url, &client.Options{Token: is.token, MinBackoff: 10 * time.Millisecond})
	r := record(c, "news")
	session := c.Session()
	joinRoom(t, c, "r")

	waitState(t, c, client.Resumed)
	assert.Equal(t, session, c.Session())
	assert.Empty(t, r.gapList())
	var refused *client.Error
	require.NotEmpty(t, r.errors())
	require.ErrorAs(t, r.errors()[0], &refused)
	assert.Equal(t, client.CodeUnauthorized, refused.Code)
	var drop *client.CloseError
	r.mu.Lock()
	for _, s := range r.states {
		if s.State == client.Disconnected {
			require.ErrorAs(t, s.Err, &drop)
		}
	}
	r.mu.Unlock()
	require.NotNil(t, drop)
	assert.Equal(t, 4004, drop.Code)

	_, err := srv.Broadcast("r", api.Frame{Event: "news", Kind: api.JSONPayload, Payload: []byte(`1`)})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(r.messages()) == 1 }, wait, 5*time.Millisecond)
}
