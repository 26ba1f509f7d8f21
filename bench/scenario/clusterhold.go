package scenario

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/roomloop/roomloop/bench/hold"
)

// ClusterHoldName is the cluster-hold scenario: HoldConns connections
// held by HoldNodes roomloop processes on one NATS server, each node's
// share opened by a load generator process of its own.
const (
	ClusterHoldName = "cluster-hold"
	// HoldNodes is how many roomloop nodes cluster-hold runs.
	HoldNodes = 5
)

// ClusterHold splits HoldConns connections evenly over the target's
// nodes and starts one hold process per node (Params.Exe "hold", package
// hold), all at once: each opens its share to its node and joins rooms of
// 100 named after the node. It reports the connections held (as the hold
// processes count them and as the nodes do), the time until every one is
// held, and the RSS and heap in use per connection summed over the
// nodes 3 s after the last join (as idle), NATS's RSS growth and the
// hold processes' RSS apart.
func ClusterHold(ctx context.Context, t Target, p Params) (r Result, err error) {
	addrs := nodeAddrs(t)
	if p.Exe == "" || p.HoldConns < len(addrs) {
		return r, fmt.Errorf("%s: needs the benchmark binary (Params.Exe) and 1 or more connections per node (got %d)", ClusterHoldName, p.HoldConns)
	}
	before, err := readMem(t)
	if err != nil {
		return r, err
	}
	start := time.Now()
	procs := make([]*hold.Proc, 0, len(addrs))
	defer func() {
		for _, pr := range procs {
			if e := pr.Stop(); e != nil && err == nil {
				err = e
			}
		}
	}()
	for i, a := range addrs {
		n := p.HoldConns / len(addrs)
		if i < p.HoldConns%len(addrs) {
			n++
		}
		pr, err := hold.Start(p.Exe, hold.Config{Addr: a, Conns: n, RoomSize: 100, RoomPrefix: "h" + strconv.Itoa(i+1) + "-", Dialers: p.Dialers})
		if err != nil {
			return r, err
		}
		procs = append(procs, pr)
	}
	held := 0
	for i, pr := range procs {
		n, err := pr.Held(ctx)
		if err != nil {
			return r, fmt.Errorf("node %d's hold process: %w", i+1, err)
		}
		held += n
	}
	setup := time.Since(start)
	after, err := readMemSettled(ctx, t)
	if err != nil {
		return r, err
	}
	var loadRSS float64
	for _, pr := range procs {
		s, err := readProc(pr.PID())
		if err != nil {
			return r, err
		}
		loadRSS += float64(s.RSS)
	}
	n := float64(held)
	r.add("nodes", "count", float64(len(addrs)))
	r.add("connections held (hold processes)", "count", n)
	r.add("connections held (nodes)", "count", after.conns)
	r.add("connections per node, at most", "count", after.maxConns)
	r.add("connect + join time, all", "s", setup.Seconds())
	r.add("roomloop RSS per connection (all nodes)", "KiB", (after.rss-before.rss)/n/1024)
	r.add("roomloop heap in use per connection (all nodes)", "KiB", (after.heap-before.heap)/n/1024)
	r.add("roomloop goroutines (all nodes)", "count", after.goroutines)
	r.add("NATS server RSS growth per connection", "KiB", (after.natsRSS-before.natsRSS)/n/1024)
	r.add("load generator RSS per connection (hold processes)", "KiB", loadRSS/n/1024)
	if int(after.conns) != held || held != p.HoldConns {
		return r, errors.New("connections lost: the nodes hold " + strconv.Itoa(int(after.conns)) + ", the hold processes " + strconv.Itoa(held) + " of " + strconv.Itoa(p.HoldConns))
	}
	return r, nil
}
