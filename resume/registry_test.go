package resume

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testSession struct {
	id, token string
	since     time.Time
	bytes     int64
}

func newTestRegistry() *Registry[*testSession] {
	return NewRegistry(func(s *testSession) string { return s.id }, func(s *testSession) string { return s.token })
}

func TestRegistryFind(t *testing.T) {
	r := newTestRegistry()
	a := &testSession{id: "s-a", token: NewToken("s-a")}
	require.True(t, r.Add(a))
	assert.False(t, r.Add(&testSession{id: "s-a"}), "an id is taken once")

	got, reason := r.Find(a.token)
	assert.Same(t, a, got)
	assert.Empty(t, reason)
	for _, bad := range []string{"", "garbage", NewToken("s-a"), NewToken("s-nobody")} {
		got, reason := r.Find(bad)
		assert.Nil(t, got, bad)
		assert.Equal(t, ReasonUnknown, reason, bad)
	}
	r.End(a)
	r.Remove(a)
	got, reason = r.Find(a.token)
	assert.Nil(t, got)
	assert.Equal(t, ReasonExpired, reason, "an ended session's id is remembered")
	assert.Zero(t, r.Len())
}

func TestRegistryExpire(t *testing.T) {
	r := newTestRegistry()
	now := time.Now()
	old := &testSession{id: "old", since: now.Add(-time.Minute)}
	big := &testSession{id: "big", since: now.Add(-2 * time.Second), bytes: 700}
	small := &testSession{id: "small", since: now.Add(-time.Second), bytes: 400}
	for _, s := range []*testSession{old, big, small} {
		r.Add(s)
		r.Suspend(s)
	}
	assert.Equal(t, 3, r.Suspended())
	var ended []string
	end := func(s *testSession, reason string) bool {
		ended = append(ended, s.id+": "+reason)
		r.End(s)
		return true
	}
	r.Expire(now, 30*time.Second, 1000, func(s *testSession) time.Time { return s.since },
		func(s *testSession) int64 { return s.bytes }, end)
	assert.Equal(t, []string{"old: resume window passed", "big: suspended-session memory budget"}, ended,
		"the window first, then the longest-suspended until the rest fits the budget")
	assert.Equal(t, 1, r.Suspended())
}

func TestReasonOf(t *testing.T) {
	assert.Empty(t, ReasonOf(nil))
	assert.Equal(t, ReasonGap, ReasonOf(ErrGap))
	assert.Equal(t, ReasonInvalid, ReasonOf(ErrInvalidSeq))
	assert.Equal(t, ReasonExpired, ReasonOf(ErrClosed))
}

func TestSuspends(t *testing.T) {
	for _, c := range []struct {
		code         uint16
		serverClosed bool
		want         bool
	}{
		{1006, false, true},
		{1001, true, true},  // drain
		{1001, false, true}, // a browser leaving or reloading its page
		{CloseSlowConsumer, true, true},
		{1000, false, false},
		{1000, true, false},
		{4001, true, false},
		{1002, true, false},
		{CloseSlowConsumer, false, false}, // a client's own 4002 is no slow consumer
		{CloseResuming, false, true},      // a client leaving a link to resume at once
		{CloseResuming, true, false},
		{CloseTokenExpired, true, true},   // the credential expired: a fresh one resumes
		{CloseTokenExpired, false, false}, // a client's own 4004 ends the session
		{4999, false, false},
	} {
		assert.Equal(t, c.want, Suspends(c.code, c.serverClosed), "code %d, server closed %v", c.code, c.serverClosed)
	}
}
