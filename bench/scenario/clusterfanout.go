package scenario

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// ClusterFanoutName is the cluster-fanout scenario: one big room, its
// members spread over the nodes of a cluster, against one node alone.
// VariantCluster runs it against ClusterNodes roomloop processes on one
// NATS server, VariantSingle against one roomloop process without NATS.
const (
	ClusterFanoutName = "cluster-fanout"
	VariantCluster    = "cluster"
	VariantSingle     = "single"
	// ClusterNodes is how many roomloop nodes VariantCluster runs.
	ClusterNodes = 3
)

// cfRoom is the cluster-fanout room; cfWait bounds each wait for
// deliveries.
const (
	cfRoom = "cf"
	cfWait = 30 * time.Second
)

// ClusterFanout fills one room with ClusterMembers connections, spread
// round-robin over the target's nodes (ClusterTarget; one address for a
// plain Target), and has the first member (on the first node) publish for
// Duration with at most ClusterInFlight messages in flight: a message is
// in flight until every other member has it (counted in deliveries:
// sent × (members − 1) − delivered < ClusterInFlight × (members − 1)).
// After one window of warm-up it reports deliveries/s (every delivery of
// the phase over the time from its first publish to its last delivery),
// messages/s, publish-to-delivery latency p50/p99/p999 (the send time in
// unix nanoseconds travels in the payload), and the CPU seconds of every
// server process (NATS included) per million deliveries. Every member
// must get every message once, in the order sent.
func ClusterFanout(ctx context.Context, t Target, p Params) (r Result, err error) {
	addrs := []string{t.Addr()}
	if ct, ok := t.(ClusterTarget); ok {
		addrs = ct.NodeAddrs()
	}
	if p.ClusterMembers < 2 || p.ClusterInFlight < 1 {
		return r, fmt.Errorf("%s: needs 2 or more members and 1 or more messages in flight (got %d, %d)", ClusterFanoutName, p.ClusterMembers, p.ClusterInFlight)
	}
	joins := newBatch()
	var delivered, disorder atomic.Int64
	wake := make(chan struct{}, 1)
	var lat atomic.Pointer[load.Hist]
	lat.Store(new(load.Hist))
	pool, err := load.New(load.Config{
		Addr:   addrs[0],
		AddrOf: func(i int) string { return addrs[i%len(addrs)] },
		Handler: func(c *load.Conn, m *load.Msg) {
			switch string(m.Event) {
			case "$joined":
				joins.deliver()
			case "f":
				if ts := load.Int(m.Payload, `"t":`); ts > 0 {
					lat.Load().Add(time.Duration(time.Now().UnixNano() - ts))
				}
				// c.N is the next k this member expects.
				if k := load.Int(m.Payload, `"k":`); k != c.N.Load() {
					disorder.Add(1)
				}
				c.N.Add(1)
				delivered.Add(1)
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	conns, err := pool.OpenN(ctx, p.ClusterMembers, p.Dialers)
	if err != nil {
		return r, err
	}
	joins.start(int64(len(conns)))
	if err := sendJoins(conns, func(_ int) string { return cfRoom }); err != nil {
		return r, err
	}
	if err := joins.wait(ctx, 60*time.Second); err != nil {
		return r, fmt.Errorf("joins: %w", err)
	}
	pub, per := conns[0], int64(len(conns)-1)
	var sent int64
	publish := func() error {
		msg := `{"event":"f","room":"` + cfRoom + `","payload":{"t":` +
			strconv.FormatInt(time.Now().UnixNano(), 10) + `,"k":` + strconv.FormatInt(sent, 10) + `}}`
		sent++
		return pub.Send([]byte(msg))
	}
	// waitUntil waits until ok holds, woken by deliveries.
	waitUntil := func(ok func() bool) error {
		timer := time.NewTimer(cfWait)
		defer timer.Stop()
		for !ok() {
			select {
			case <-wake:
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
				return fmt.Errorf("deliveries lost or late: %d of %d after %v", delivered.Load(), sent*per, cfWait)
			}
		}
		return nil
	}
	window := int64(p.ClusterInFlight) * per
	room := func() bool { return sent*per-delivered.Load() < window }
	all := func() bool { return delivered.Load() >= sent*per }

	for range p.ClusterInFlight { // warm-up: one window, awaited in full
		if err := publish(); err != nil {
			return r, err
		}
	}
	if err := waitUntil(all); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}
	lat.Store(new(load.Hist))
	d0, cpu0 := delivered.Load(), 0.0
	if cpu0, err = serverCPU(t); err != nil {
		return r, err
	}
	start := time.Now()
	for time.Since(start) < p.Duration {
		if err := waitUntil(room); err != nil {
			return r, err
		}
		if err := publish(); err != nil {
			return r, err
		}
	}
	if err := waitUntil(all); err != nil {
		return r, err
	}
	el := time.Since(start)
	cpu1, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	n := float64(delivered.Load() - d0)
	r.add("nodes", "count", float64(len(addrs)))
	r.add("members", "count", float64(len(conns)))
	r.add("deliveries/s", "1/s", n/el.Seconds())
	r.add("messages/s", "1/s", n/float64(per)/el.Seconds())
	addLatency(&r, "latency", lat.Load())
	r.add("server CPU per 1M deliveries (every server process)", "s", (cpu1-cpu0)*1e6/n)
	r.add("deliveries out of order or repeated", "count", float64(disorder.Load()))
	if d := disorder.Load(); d > 0 {
		return r, fmt.Errorf("%d deliveries out of order or repeated", d)
	}
	return r, nil
}
