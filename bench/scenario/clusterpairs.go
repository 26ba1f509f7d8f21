package scenario

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// pairsWait bounds each wait of cluster-pairs.
const pairsWait = 60 * time.Second

// ClusterPairs opens PairRooms rooms of two members each: connection 2i
// publishes into room i from node i, connection 2i+1 receives on node
// i+1 (both modulo the target's nodes; on one node both are on it).
// After one message per room as warm-up, every room keeps PairInFlight
// messages in flight for Duration: each delivery makes its room's
// publisher send the next one. It reports deliveries/s (every delivery of
// the phase over the time from its first publish to its last delivery),
// publish-to-delivery latency p50/p99/p999, and the CPU seconds of every
// server process (NATS included, and NATS's apart) per million
// deliveries. Every receiver
// must get its room's messages once, in the order sent.
func ClusterPairs(ctx context.Context, t Target, p Params) (r Result, err error) {
	addrs := nodeAddrs(t)
	if p.PairRooms < 1 || p.PairInFlight < 1 {
		return r, fmt.Errorf("%s: needs 1 or more rooms and messages in flight (got %d, %d)", ClusterPairsName, p.PairRooms, p.PairInFlight)
	}
	var delivered, sent, disorder atomic.Int64
	var running atomic.Bool
	var conns atomic.Pointer[[]*load.Conn]
	wake := make(chan struct{}, 1)
	var lat atomic.Pointer[load.Hist]
	lat.Store(new(load.Hist))
	joins := newBatch()
	// publish sends room i's next message from its publisher, whose N
	// is the next k; under the room's lock, so that the k leave in order
	// when the main goroutine and a refill publish at once.
	locks := make([]sync.Mutex, p.PairRooms)
	publish := func(i int) error {
		locks[i].Lock()
		defer locks[i].Unlock()
		pub := (*conns.Load())[2*i]
		k := pub.N.Add(1) - 1
		sent.Add(1)
		return pub.Send([]byte(`{"event":"f","room":"p` + strconv.Itoa(i) + `","payload":{"t":` +
			strconv.FormatInt(time.Now().UnixNano(), 10) + `,"k":` + strconv.FormatInt(k, 10) + `}}`))
	}
	pool, err := load.New(load.Config{
		Addr: addrs[0],
		AddrOf: func(i int) string {
			return addrs[(i/2+i%2)%len(addrs)]
		},
		Handler: func(c *load.Conn, m *load.Msg) {
			switch string(m.Event) {
			case "$joined":
				joins.deliver()
			case "f":
				if ts := load.Int(m.Payload, `"t":`); ts > 0 {
					lat.Load().Add(time.Duration(time.Now().UnixNano() - ts))
				}
				if k := load.Int(m.Payload, `"k":`); c.Index%2 == 0 || k != c.N.Load() {
					disorder.Add(1) // a publisher got its own, or out of order
				}
				c.N.Add(1)
				if running.Load() {
					_ = publish(c.Index / 2) // counted in sent before this delivery
				}
				delivered.Add(1)
				signal(wake)
			}
		},
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	cs, err := pool.OpenN(ctx, 2*p.PairRooms, p.Dialers)
	if err != nil {
		return r, err
	}
	conns.Store(&cs)
	joins.start(int64(len(cs)))
	if err := sendJoins(cs, func(i int) string { return "p" + strconv.Itoa(i/2) }); err != nil {
		return r, err
	}
	if err := joins.wait(ctx, pairsWait); err != nil {
		return r, fmt.Errorf("joins: %w", err)
	}
	// all reads delivered before sent: a delivery counted has had its
	// refill counted.
	all := func() bool { d := delivered.Load(); return d >= sent.Load() }
	for i := range p.PairRooms { // warm-up: one message per room
		if err := publish(i); err != nil {
			return r, err
		}
	}
	if err := waitWoken(ctx, wake, "warm-up deliveries", all, pairsWait); err != nil {
		return r, err
	}
	lat.Store(new(load.Hist))
	d0 := delivered.Load()
	cpu0, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	nats0, err := natsCPU(t)
	if err != nil {
		return r, err
	}
	start := time.Now()
	running.Store(true)
	for range p.PairInFlight {
		for i := range p.PairRooms {
			if err := publish(i); err != nil {
				return r, err
			}
		}
	}
	select {
	case <-time.After(p.Duration):
	case <-ctx.Done():
		return r, ctx.Err()
	}
	running.Store(false)
	if err := waitWoken(ctx, wake, "deliveries", all, pairsWait); err != nil {
		return r, fmt.Errorf("%w (%d of %d)", err, delivered.Load(), sent.Load())
	}
	el := time.Since(start)
	cpu1, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	nats1, err := natsCPU(t)
	if err != nil {
		return r, err
	}
	n := float64(delivered.Load() - d0)
	r.add("nodes", "count", float64(len(addrs)))
	r.add("rooms", "count", float64(p.PairRooms))
	r.add("deliveries/s", "1/s", n/el.Seconds())
	addLatency(&r, "latency", lat.Load())
	r.add("server CPU per 1M deliveries (every server process)", "s", (cpu1-cpu0)*1e6/n)
	if _, ok := t.(NodeReader); ok {
		r.add("of which the NATS server", "s", (nats1-nats0)*1e6/n)
	}
	r.add("deliveries out of order or repeated", "count", float64(disorder.Load()))
	if d := disorder.Load(); d > 0 {
		return r, fmt.Errorf("%d deliveries out of order or repeated", d)
	}
	return r, nil
}
