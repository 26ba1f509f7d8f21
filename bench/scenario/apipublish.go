package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// APIPublishName is the name of the api-publish scenario.
const APIPublishName = "api-publish"

// apiRoom is the api-publish scenario's room. apiWindow bounds the
// publishes not yet received by every member: the HTTP clients wait while
// more are outstanding, so that the members' queues stay far below the
// server's bound (4,096 frames) and the rate measured is one that the
// room sustains without dropping a member.
const (
	apiRoom   = "api"
	apiWindow = 256
)

// APIPublish fills one room with APIMembers WebSocket members, then has
// APIClients HTTP clients (keep-alive connections) POST /api/publish to
// that room on the server's admin address, each request after the
// previous one's answer, for Duration. It reports requests/s, deliveries/s
// (frames the members received, counted until the last one arrived),
// request latency p50/p99/p999 and server CPU per 1,000 requests. Every
// publish must reach every member.
func APIPublish(ctx context.Context, t Target, p Params) (r Result, err error) {
	at, ok := t.(AdminTarget)
	if !ok || at.AdminAddr() == "" {
		return r, errors.New("api-publish: the server serves no HTTP API (server -api, or load -admin-addr)")
	}
	var joined, got atomic.Int64
	pool, err := newPool(t, func(c *load.Conn, m *load.Msg) {
		switch string(m.Event) {
		case "$joined":
			joined.Add(1)
		case "p":
			got.Add(1)
		}
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	conns, err := pool.OpenN(ctx, p.APIMembers, p.Dialers)
	if err != nil {
		return r, err
	}
	if err := sendJoins(conns, func(_ int) string { return apiRoom }); err != nil {
		return r, err
	}
	members := int64(len(conns))
	if err := load.WaitFor(ctx, "joined", joined.Load, members, 60*time.Second); err != nil {
		return r, err
	}
	pub := &publisher{
		url:    "http://" + at.AdminAddr() + "/api/publish",
		key:    at.APIKey(),
		body:   []byte(`{"room":"` + apiRoom + `","event":"p","payload":{"k":1}}`),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: p.APIClients}},
	}
	defer pub.client.CloseIdleConnections()
	cpu0, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	var (
		issued, answered, delivered, short atomic.Int64
		lat                                = new(load.Hist)
		errOnce                            sync.Once
		firstErr                           error
		wg                                 sync.WaitGroup
	)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(p.Duration)
	for range max(p.APIClients, 1) {
		wg.Go(func() {
			for time.Now().Before(deadline) && cctx.Err() == nil {
				if issued.Load()*members-got.Load() >= apiWindow*members {
					time.Sleep(100 * time.Microsecond) // the members are behind
					continue
				}
				issued.Add(1)
				t0 := time.Now()
				n, err := pub.publish(cctx)
				lat.Add(time.Since(t0))
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				answered.Add(1)
				delivered.Add(n)
				if n < members {
					short.Add(1)
				}
			}
		})
	}
	wg.Wait()
	requestsDone := time.Since(start)
	if firstErr != nil {
		return r, fmt.Errorf("api-publish: %w", firstErr)
	}
	if err := load.WaitFor(ctx, "deliveries", got.Load, delivered.Load(), 30*time.Second); err != nil {
		return r, err
	}
	allDelivered := time.Since(start)
	cpu1, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	n := float64(answered.Load())
	r.add("requests/s", "1/s", n/requestsDone.Seconds())
	r.add("deliveries/s", "1/s", float64(got.Load())/allDelivered.Seconds())
	addLatency(&r, "request latency", lat)
	r.add("server CPU per 1k requests", "ms", (cpu1-cpu0)*1e6/n)
	r.add("requests answered", "count", n)
	r.add("deliveries", "count", float64(got.Load()))
	r.add("publishes that reached fewer than every member", "count", float64(short.Load()))
	return r, nil
}

// publisher POSTs one publish to the HTTP API.
type publisher struct {
	url, key string
	body     []byte
	client   *http.Client
}

// publish sends the publish and returns how many sessions the server
// says it reached.
func (p *publisher) publish(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body) // read to the end, so that the connection is reused
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("publish: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var ans struct {
		Delivered int64 `json:"delivered"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return 0, fmt.Errorf("publish: bad answer %q: %w", b, err)
	}
	return ans.Delivered, nil
}
