package metrics_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/httpapi"
	"github.com/roomloop/roomloop/internal/metrics"
)

const key = "k3y"

// env is a roomloop server on 127.0.0.1:0 and an admin-like HTTP server
// with /metrics and the HTTP API.
type env struct {
	srv   *api.Server
	admin string // base URL
}

func newEnv(t *testing.T) *env { return newEnvWith(t, &api.Options{Path: "/ws"}) }

func newEnvWith(t *testing.T, opts *api.Options) *env {
	t.Helper()
	srv := api.New(opts)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	m := metrics.New(srv)
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.Handle("/api/", httpapi.New(srv, httpapi.Options{APIKey: key, Observe: m.ObserveAPI}))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return &env{srv: srv, admin: hs.URL}
}

// scrape is one parsed /metrics answer.
type scrape map[string]*dto.MetricFamily

func (e *env) scrape(t *testing.T) scrape {
	t.Helper()
	resp, err := http.Get(e.admin + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value returns the series name{labels} (pairs), 0 when absent.
func (s scrape) value(name string, labels ...string) float64 {
	f, ok := s[name]
	if !ok {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return 0
}

type frameJSON struct {
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	Payload json.RawMessage `json:"payload"`
}

type welcome struct {
	Session, Resume, Reason string
	Resumed                 bool
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
	w  welcome
}

func (e *env) dial(t *testing.T, query string) *client {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"roomloop.json"}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial("ws://"+e.srv.Addr().String()+"/ws"+query, nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = ws.Close() })
	c := &client{t: t, ws: ws}
	f := c.read()
	require.Equal(t, "$welcome", f.Event)
	require.NoError(t, json.Unmarshal(f.Payload, &c.w))
	return c
}

// read returns the next frame, presence included.
func (c *client) read() frameJSON {
	c.t.Helper()
	require.NoError(c.t, c.ws.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, msg, err := c.ws.ReadMessage()
	require.NoError(c.t, err)
	var f frameJSON
	require.NoError(c.t, json.Unmarshal(msg, &f))
	return f
}

func (c *client) send(v string) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteMessage(websocket.TextMessage, []byte(v)))
}

func TestFramesSessionsRooms(t *testing.T) {
	e := newEnv(t)
	const n = 4
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = e.dial(t, "")
		cs[i].send(`{"event":"$join","room":"r"}`)
		require.Equal(t, "$joined", cs[i].read().Event)
		// Every earlier member hears the joiner.
		for j := range i {
			require.Equal(t, "$presence", cs[j].read().Event)
		}
	}
	before := e.scrape(t)
	assert.Equal(t, float64(n), before.value("roomloop_sessions_active"))
	assert.Equal(t, float64(0), before.value("roomloop_sessions_suspended"))
	assert.Equal(t, float64(1), before.value("roomloop_rooms"))
	assert.Equal(t, float64(n), before.value("roomloop_connections_open"))
	assert.Equal(t, float64(n), before.value("roomloop_connections_accepted_total", "way", "listener"))
	// Frames so far: per client $joined, plus 0+1+2+3 $presence (each
	// join was waited for, so each diff lists one; $welcome, written ahead
	// of the stream, is not counted); reads: the n $joins.
	assert.Equal(t, float64(n+n*(n-1)/2), before.value("roomloop_frames_written_total"))
	assert.Equal(t, float64(n*(n-1)/2), before.value("roomloop_presence_frames_total"))
	assert.Equal(t, float64(n), before.value("roomloop_frames_read_total"))

	for range 3 {
		cs[0].send(`{"event":"chat","room":"r","payload":"hi"}`)
	}
	for _, c := range cs[1:] {
		for range 3 {
			require.Equal(t, "chat", c.read().Event)
		}
	}
	after := e.scrape(t)
	// Counted before written: every frame the clients read is counted.
	frames := after.value("roomloop_frames_written_total") - before.value("roomloop_frames_written_total")
	assert.Equal(t, float64(3*(n-1)), frames)
	assert.Equal(t, float64(3), after.value("roomloop_frames_read_total")-before.value("roomloop_frames_read_total"))
	// Three masked client frames, each a 6-byte header and its text, and
	// perhaps a few pongs (14 bytes each) to the server's confirming pings.
	inBytes := after.value("roomloop_bytes_read_total") - before.value("roomloop_bytes_read_total")
	sent := float64(3 * (6 + len(`{"event":"chat","room":"r","payload":"hi"}`)))
	assert.GreaterOrEqual(t, inBytes, sent)
	assert.Less(t, inBytes, sent+8*14)
	writes := after.value("roomloop_writes_total") - before.value("roomloop_writes_total")
	assert.True(t, writes >= 1 && writes <= frames, "writes %v frames %v", writes, frames)
	assert.Greater(t, after.value("roomloop_bytes_written_total")-before.value("roomloop_bytes_written_total"), frames*float64(len(`"chat"`)))
	assert.Equal(t, float64(1), after.value("roomloop_rooms"))

	// Go and process collectors are there.
	assert.Contains(t, after, "go_goroutines")
	assert.Contains(t, after, "process_start_time_seconds")
}

func TestUpgradeRefusals(t *testing.T) {
	e := newEnv(t)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	_, resp, err := d.Dial("ws://"+e.srv.Addr().String()+"/ws", http.Header{"Origin": {"http://evil.example"}})
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	_ = resp.Body.Close()
	s := e.scrape(t)
	assert.Equal(t, float64(1), s.value("roomloop_upgrade_refusals_total", "status", "403"))
	assert.Equal(t, float64(1), s.value("roomloop_connections_accepted_total", "way", "listener"))
}

func TestResumes(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, "")
	require.NotEmpty(t, c.w.Resume)
	// Drop without a close frame: the session is suspended.
	require.NoError(t, c.ws.NetConn().Close())
	require.Eventually(t, func() bool { return e.srv.Stats().Suspended == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, float64(1), e.scrape(t).value("roomloop_sessions_suspended"))

	r := e.dial(t, "?resume="+c.w.Resume+"&last_seq=0")
	require.True(t, r.w.Resumed)
	u := e.dial(t, "?resume=s-nope.AAAA&last_seq=0")
	require.False(t, u.w.Resumed)
	require.Equal(t, "unknown", u.w.Reason)

	s := e.scrape(t)
	assert.Equal(t, float64(1), s.value("roomloop_resumes_total", "outcome", "resumed"))
	assert.Equal(t, float64(1), s.value("roomloop_resumes_total", "outcome", "unknown"))
	assert.Equal(t, float64(0), s.value("roomloop_resumes_total", "outcome", "gap"))
	assert.Equal(t, float64(0), s.value("roomloop_sessions_suspended"))
	assert.Equal(t, float64(2), s.value("roomloop_sessions_active"))
}

func TestRateLimited(t *testing.T) {
	e := newEnv(t)
	c := e.dial(t, "")
	// The default $join bucket refuses a burst long before 200; stop at
	// the first refusal (ignoring many closes the connection).
	limited := false
	for i := 0; i < 200 && !limited; i++ {
		c.send(`{"event":"$join","room":"r"}`)
		f := c.read()
		limited = f.Event == "$error" && strings.Contains(string(f.Payload), "rate_limited")
	}
	require.True(t, limited)
	s := e.scrape(t)
	assert.Equal(t, float64(1), s.value("roomloop_rate_limited_frames_total", "kind", "join"))
	assert.Equal(t, float64(0), s.value("roomloop_rate_limited_frames_total", "kind", "publish"))
}

func TestAPIRequests(t *testing.T) {
	e := newEnv(t)
	get := func(path, auth string) int {
		req, err := http.NewRequest(http.MethodGet, e.admin+path, nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, 200, get("/api/stats", key))
	require.Equal(t, 200, get("/api/stats", key))
	require.Equal(t, 401, get("/api/rooms", "wrong"))
	require.Equal(t, 404, get("/api/nope", key))
	require.Equal(t, 405, get("/api/publish", key))
	s := e.scrape(t)
	assert.Equal(t, float64(2), s.value("roomloop_api_requests_total", "endpoint", "stats", "code", "200"))
	assert.Equal(t, float64(1), s.value("roomloop_api_requests_total", "endpoint", "rooms", "code", "401"))
	assert.Equal(t, float64(1), s.value("roomloop_api_requests_total", "endpoint", "unknown", "code", "404"))
	assert.Equal(t, float64(1), s.value("roomloop_api_requests_total", "endpoint", "publish", "code", "405"))
}

// TestHistograms: with Options.Histograms, the handler-duration histogram
// counts each client frame handled, and the fan-out histogram each frame
// sent to a room, by its recipients; without it neither series appears.
func TestHistograms(t *testing.T) {
	e := newEnvWith(t, &api.Options{Path: "/ws", Histograms: true, DisablePresence: true})
	const n = 4
	cs := make([]*client, n)
	for i := range cs {
		cs[i] = e.dial(t, "")
		cs[i].send(`{"event":"$join","room":"r"}`)
		require.Equal(t, "$joined", cs[i].read().Event)
	}
	for range 3 { // three room frames from cs[0]: 3 recipients each
		cs[0].send(`{"event":"chat","room":"r","payload":"hi"}`)
	}
	for _, c := range cs[1:] {
		for range 3 {
			require.Equal(t, "chat", c.read().Event)
		}
	}
	_, err := e.srv.Broadcast("r", api.Frame{Event: "news", Kind: api.JSONPayload, Payload: []byte(`1`)}) // 4 recipients
	require.NoError(t, err)
	for _, c := range cs {
		require.Equal(t, "news", c.read().Event)
	}

	s := e.scrape(t)
	h := histogramOf(t, s, "roomloop_handler_duration_seconds")
	assert.Equal(t, uint64(3), h.GetSampleCount(), "the $joins are control frames, not handled")
	assert.Positive(t, h.GetSampleSum())
	assert.Equal(t, uint64(3), h.GetBucket()[len(h.GetBucket())-1].GetCumulativeCount(), "all within 5 s")

	f := histogramOf(t, s, "roomloop_room_fanout_recipients")
	assert.Equal(t, uint64(4), f.GetSampleCount())
	assert.Equal(t, float64(3*3+4), f.GetSampleSum())
	cum := map[float64]uint64{}
	for _, b := range f.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	assert.Equal(t, uint64(0), cum[1])
	assert.Equal(t, uint64(4), cum[4])
	assert.Equal(t, uint64(4), cum[1<<20])

	// Off by default: no histogram series.
	plain := newEnv(t).scrape(t)
	assert.NotContains(t, plain, "roomloop_handler_duration_seconds")
	assert.NotContains(t, plain, "roomloop_room_fanout_recipients")
}

// histogramOf returns the one histogram of family name.
func histogramOf(t *testing.T, s scrape, name string) *dto.Histogram {
	t.Helper()
	f, ok := s[name]
	require.True(t, ok, "no %s", name)
	require.Len(t, f.GetMetric(), 1)
	h := f.GetMetric()[0].GetHistogram()
	require.NotNil(t, h, "%s is a histogram", name)
	return h
}
