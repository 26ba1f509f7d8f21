package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/cutproxy"
	"github.com/roomloop/roomloop/resume"
)

// session is a client that keeps its resume token and the highest seq it
// has processed, and records every frame it processed.
type session struct {
	t       *testing.T
	ws      *websocket.Conn
	id      string
	token   string
	lastSeq uint64
	frames  []msg // every frame after $welcome, in order
}

// connect dials addr (a proxy or the server) and reads $welcome.
func connect(t *testing.T, addr string, query url.Values) (*websocket.Conn, frame.WelcomePayload, msg) {
	t.Helper()
	u := url.URL{Scheme: "ws", Host: addr, Path: "/ws", RawQuery: query.Encode()}
	ws, resp, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil && resp != nil {
		body, _ := io.ReadAll(resp.Body)
		err = fmt.Errorf("%w: HTTP %d %s", err, resp.StatusCode, body)
	}
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(wait)))
	var m msg
	require.NoError(t, ws.ReadJSON(&m))
	require.Equal(t, "$welcome", m.Event)
	var w frame.WelcomePayload
	m.payload(t, &w)
	return ws, w, m
}

func newSession(t *testing.T, addr string) *session {
	ws, w, _ := connect(t, addr, nil)
	require.NotEmpty(t, w.Resume)
	require.Positive(t, w.ResumeWindowMS)
	return &session{t: t, ws: ws, id: w.Session, token: w.Resume}
}

// resume reconnects through addr after the highest processed seq and
// returns the $welcome payload.
func (s *session) resume(addr string) frame.WelcomePayload {
	s.t.Helper()
	ws, w, m := connect(s.t, addr, url.Values{"resume": {s.token}, "last_seq": {strconv.FormatUint(s.lastSeq, 10)}})
	_ = s.ws.Close()
	s.ws = ws
	if w.Resumed {
		require.Equal(s.t, s.id, w.Session)
		require.Equal(s.t, s.token, w.Resume, "the token lasts the session's life")
		require.GreaterOrEqual(s.t, w.LastSeq, s.lastSeq)
	} else {
		s.id, s.token, s.lastSeq = w.Session, w.Resume, 0
	}
	_ = m
	return w
}

// read processes the next frame; a transport error is returned, not fatal.
func (s *session) read() (msg, error) {
	_ = s.ws.SetReadDeadline(time.Now().Add(wait))
	var m msg
	_, data, err := s.ws.ReadMessage()
	if err != nil {
		return m, err
	}
	require.NoError(s.t, json.Unmarshal(data, &m))
	require.Equal(s.t, s.lastSeq+1, m.Seq, "seq after %d: %s", s.lastSeq, data)
	s.lastSeq = m.Seq
	s.frames = append(s.frames, m)
	return m, nil
}

func (s *session) expect(event string) msg {
	s.t.Helper()
	m, err := s.read()
	require.NoError(s.t, err)
	require.Equal(s.t, event, m.Event, "payload %s", m.Payload)
	return m
}

func (s *session) send(v any) {
	s.t.Helper()
	require.NoError(s.t, s.ws.WriteJSON(v))
}

func (s *session) join(room string) {
	s.send(map[string]any{"event": "$join", "room": room})
	s.expect("$joined")
}

// TestResumeAfterCutMidStream: a client in two rooms is cut mid-stream,
// traffic goes on during the outage, and after resuming it has processed
// exactly seq 1…N with every published payload, once and in order.
func TestResumeAfterCutMidStream(t *testing.T) {
	ts := startServer(t, &api.Options{DisablePresence: true})
	addr := ts.Addr().String()
	px := newProxy(t, addr)
	sub := newSession(t, px.Addr())
	sub.join("a")
	sub.join("b")

	const total = 300
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range total {
			room := []string{"a", "b"}[i%2]
			ts.Broadcast(room, api.Frame{Event: "tick", Room: room, Kind: 1, Payload: []byte(strconv.Itoa(i))})
			time.Sleep(200 * time.Microsecond) // paces the publisher so the cut falls mid-stream
		}
	}()
	got := map[string][]int{}
	record := func(m msg) {
		if m.Event == "tick" {
			n, err := strconv.Atoi(string(m.Payload))
			require.NoError(t, err)
			got[m.Room] = append(got[m.Room], n)
		}
	}
	for count := 0; count < 60; count++ {
		m, err := sub.read()
		require.NoError(t, err)
		record(m)
	}
	px.Cut()
	time.Sleep(20 * time.Millisecond) // deliberate: the outage, while publishing goes on
	w := sub.resume(addr)
	require.True(t, w.Resumed)
	for len(got["a"])+len(got["b"]) < total {
		m, err := sub.read()
		require.NoError(t, err)
		record(m)
	}
	<-published
	for r, want := 0, 0; r < 2; r++ {
		room := []string{"a", "b"}[r]
		seq := []int{}
		for n := r; n < total; n += 2 {
			seq = append(seq, n)
			want++
		}
		assert.Equal(t, seq, got[room], "room %s: every payload once, in order", room)
	}
}

// TestResumeManyClientsCutRepeatedly: clients in one room (200, or
// ROOMLOOP_RESUME_CLIENTS) are each cut at random moments three times while
// a publisher keeps going; every client must end with every publication
// exactly once, in order, with no seq gap.
func TestResumeManyClientsCutRepeatedly(t *testing.T) {
	clients, cuts, total := 200, 3, 400
	if n, err := strconv.Atoi(os.Getenv("ROOMLOOP_RESUME_CLIENTS")); err == nil && n > 0 {
		clients = n
	}
	// Every client dials from 127.0.0.1: with ROOMLOOP_RESUME_CLIENTS in
	// the thousands, more than MaxPendingPerIP (256) may be resuming at
	// once, and the rest would get 503.
	ts := startServer(t, &api.Options{DisablePresence: true, ReplayFrames: 4096, ReplayBytes: 4 << 20,
		MaxPendingPerIP: -1})
	addr := ts.Addr().String()
	type peer struct {
		px  *cutproxy.Proxy
		s   *session
		got []int
	}
	peers := make([]*peer, clients)
	for i := range peers {
		px := newProxy(t, addr)
		s := newSession(t, px.Addr())
		s.join("room")
		peers[i] = &peer{px: px, s: s}
	}
	go func() { // about a frame a millisecond, so cuts fall mid-stream
		for i := range total {
			ts.Broadcast("room", api.Frame{Event: "n", Room: "room", Kind: 1, Payload: []byte(strconv.Itoa(i))})
			time.Sleep(time.Millisecond)
		}
	}()
	var resumes, refused atomic.Int64
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			cutAt := map[int]bool{}
			for range cuts {
				cutAt[1+rng.IntN(total-1)] = true
			}
			last := -1
			for last < total-1 {
				m, err := p.s.read() // read checks seq: last_seq+1, no gap, no repeat
				if err != nil {
					if !p.s.resume(p.px.Addr()).Resumed {
						refused.Add(1)
						return
					}
					resumes.Add(1)
					continue
				}
				if m.Event != "n" {
					continue
				}
				n, _ := strconv.Atoi(string(m.Payload))
				p.got = append(p.got, n)
				last = max(last, n)
				if cutAt[len(p.got)] {
					delete(cutAt, len(p.got))
					p.px.Cut()
				}
			}
		}()
	}
	wg.Wait()
	var frames, lost, dup, reordered int
	for _, p := range peers {
		seen := make(map[int]bool, total)
		for j, n := range p.got {
			frames++
			if seen[n] {
				dup++
			}
			seen[n] = true
			if j > 0 && n < p.got[j-1] {
				reordered++
			}
		}
		lost += total - len(seen)
	}
	if t.Failed() {
		for _, l := range strings.Split(ts.logs.String(), "\n") {
			if strings.Contains(l, "refused") || strings.Contains(l, "ERROR") {
				t.Log(l)
			}
		}
	}
	t.Logf("%d sessions, %d resumes (%d refused): %d frames checked, %d lost, %d duplicated, %d reordered",
		clients, resumes.Load(), refused.Load(), frames, lost, dup, reordered)
	assert.Zero(t, refused.Load())
	assert.Zero(t, lost)
	assert.Zero(t, dup)
	assert.Zero(t, reordered)
	assert.Positive(t, resumes.Load())
}

func TestResumeRefusals(t *testing.T) {
	ts := startServer(t, &api.Options{ResumeWindow: 200 * time.Millisecond, DisablePresence: true,
		ReplayFrames: 8, QueueFrames: 8})
	addr := ts.Addr().String()
	reason := func(q url.Values) (frame.WelcomePayload, string) {
		_, w, _ := connect(t, addr, q)
		return w, w.Reason
	}

	t.Run("unknown token", func(t *testing.T) {
		w, r := reason(url.Values{"resume": {"s-nobody.AAAAAAAAAAAAAAAAAAAAAA"}, "last_seq": {"0"}})
		assert.False(t, w.Resumed)
		assert.Equal(t, "unknown", r)
		assert.NotEmpty(t, w.Session, "a fresh session")
	})
	t.Run("wrong secret", func(t *testing.T) {
		s := newSession(t, addr)
		w, r := reason(url.Values{"resume": {s.id + ".AAAAAAAAAAAAAAAAAAAAAA"}, "last_seq": {"0"}})
		assert.False(t, w.Resumed)
		assert.Equal(t, "unknown", r)
		assert.NotEqual(t, s.id, w.Session)
	})
	t.Run("invalid last_seq", func(t *testing.T) {
		for _, bad := range []string{"-1", "abc", "18446744073709551616", "99"} {
			s := newSession(t, addr)
			w, r := reason(url.Values{"resume": {s.token}, "last_seq": {bad}})
			assert.False(t, w.Resumed, bad)
			assert.Equal(t, "invalid", r, bad)
		}
	})
	t.Run("expired", func(t *testing.T) {
		s := newSession(t, addr)
		_ = s.ws.Close()
		require.Eventually(t, func() bool {
			_, ok := ts.Conn(s.id)
			return !ok
		}, wait, 10*time.Millisecond, "the window passes and the session ends")
		w, r := reason(url.Values{"resume": {s.token}, "last_seq": {"0"}})
		assert.False(t, w.Resumed)
		assert.Equal(t, "expired", r)
		assert.NotEqual(t, s.id, w.Session, "a new session")
		assert.NotEqual(t, s.token, w.Resume)
	})
	t.Run("gap", func(t *testing.T) {
		s := newSession(t, addr)
		s.join("r")
		_ = s.ws.Close()
		require.Eventually(t, func() bool { return ts.Stats().Suspended >= 1 }, wait, 5*time.Millisecond)
		for i := range 200 { // far more than the bound while suspended
			ts.Broadcast("r", api.Frame{Event: "x", Room: "r", Kind: 1, Payload: []byte(fmt.Sprint(i))})
		}
		w, r := reason(url.Values{"resume": {s.token}, "last_seq": {strconv.FormatUint(s.lastSeq, 10)}})
		assert.False(t, w.Resumed)
		assert.Equal(t, "gap", r)
	})
	t.Run("kicked", func(t *testing.T) {
		s := newSession(t, addr)
		require.NoError(t, ts.Kick(s.id, "bye"))
		w, r := reason(url.Values{"resume": {s.token}, "last_seq": {"0"}})
		assert.False(t, w.Resumed)
		assert.Equal(t, "expired", r)
	})
}

// TestResumesAfterRestartBehindOneAddress: after a restart every client
// resumes with a token the new process does not know. Behind one NAT or
// proxy, all of them must get a fresh session ("unknown"), never 429.
func TestResumesAfterRestartBehindOneAddress(t *testing.T) {
	const clients = 80
	old := startServer(t, &api.Options{RateLimits: api.DefaultRateLimits()})
	tokens := make([]string, clients)
	for i := range tokens {
		s := newSession(t, old.Addr().String())
		tokens[i] = s.token
	}
	fresh := startServer(t, &api.Options{RateLimits: api.DefaultRateLimits()})
	for i, token := range tokens {
		_, w, _ := connect(t, fresh.Addr().String(), url.Values{"resume": {token}, "last_seq": {"3"}})
		require.False(t, w.Resumed, "client %d", i)
	}
	assert.Equal(t, clients, fresh.Stats().Sessions)
}

// TestResumeAfterClientGoingAway: a browser reloading (or leaving) its page
// closes with 1001. That suspends the session, as a drop does, so the
// reloaded page resumes from its stored token; its room hears no leave.
// So does the client's 4000 (resuming). A client's close 1000 still ends
// the session at once.
func TestResumeAfterClientGoingAway(t *testing.T) {
	ts := startServer(t, &api.Options{})
	addr := ts.Addr().String()
	other := newSession(t, addr)
	other.join("r")
	s := newSession(t, addr)
	s.join("r")
	assert.Contains(t, string(other.expect("$presence").Payload), s.id)

	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	require.NoError(t, s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)))
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, 5*time.Millisecond)
	other.send(map[string]any{"event": "chat", "room": "r", "payload": 1})
	w := s.resume(addr)
	require.True(t, w.Resumed, "reason %q", w.Reason)
	assert.Equal(t, "chat", s.expect("chat").Event, "the frame sent meanwhile")

	// A script leaving a connection to resume at once closes with 4000.
	msg = websocket.FormatCloseMessage(resume.CloseResuming, "resuming")
	require.NoError(t, s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)))
	require.Eventually(t, func() bool { return ts.Stats().Suspended == 1 }, wait, 5*time.Millisecond)
	w = s.resume(addr)
	require.True(t, w.Resumed, "after 4000: reason %q", w.Reason)

	msg = websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	require.NoError(t, s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wait)))
	var left frame.PresencePayload
	require.NoError(t, json.Unmarshal(other.expect("$presence").Payload, &left))
	assert.Equal(t, []string{s.id}, left.Left)
	assert.Zero(t, ts.Stats().Suspended)
}
