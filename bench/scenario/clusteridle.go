package scenario

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/bench/serve"
)

// clusterIdleRoom is how many members each cluster-idle room has.
const clusterIdleRoom = 100

// memReading is the servers' memory at one moment, summed over the
// roomloop processes (NATS apart).
type memReading struct {
	rss, rssFreed, heap, live, goroutines, natsRSS float64
	conns, maxConns                                float64 // connections: in all, on the busiest node
}

// readMem reads t's memory: every node of a NodeReader, summed, with the
// NATS server's RSS apart; a plain Target's one process otherwise. It
// forces a GC in each process (Stats), then reads RSS, then has each
// return its free memory to the OS and reads RSS again.
func readMem(t Target) (m memReading, err error) {
	var stats, freed []serve.Stats
	var samples []procstat.Sample
	if nr, ok := t.(NodeReader); ok {
		if stats, err = nr.NodeStats(false); err != nil {
			return m, err
		}
		if samples, err = nr.NodeSamples(); err != nil {
			return m, err
		}
		if freed, err = nr.NodeStats(true); err != nil {
			return m, err
		}
		ns, err := nr.NATSSample()
		if err != nil {
			return m, err
		}
		m.natsRSS = float64(ns.RSS)
	} else {
		st, err := t.Stats()
		if err != nil {
			return m, err
		}
		s, err := t.Sample()
		if err != nil {
			return m, err
		}
		fr, err := t.StatsFreed()
		if err != nil {
			return m, err
		}
		stats, samples, freed = []serve.Stats{st}, []procstat.Sample{s}, []serve.Stats{fr}
	}
	for i := range stats {
		m.heap += float64(stats[i].HeapInuse)
		m.live += float64(stats[i].HeapAlloc)
		m.goroutines += float64(stats[i].Goroutines)
		m.rss += float64(samples[i].RSS)
		m.rssFreed += float64(freed[i].RSS)
		m.conns += float64(stats[i].Conns)
		m.maxConns = max(m.maxConns, float64(stats[i].Conns))
	}
	return m, nil
}

// readMemSettled reads t's memory (readMem) after a settling time of 3 s,
// as idle's: not a condition to wait for, but time for the connect
// burst's pool workers to expire.
func readMemSettled(ctx context.Context, t Target) (memReading, error) {
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return memReading{}, ctx.Err()
	}
	return readMem(t)
}

// ClusterIdle opens ClusterIdleConns connections, connection i on node
// i modulo the target's nodes and in room i/100, so that each room of 100
// has members on every node, and reports what they cost, summed over the
// roomloop processes: RSS and heap in use per connection, after a GC
// (RSS also after the free pages went back to the OS), against the same
// readings before connecting; goroutines; and, for a cluster, the NATS
// server's RSS growth per connection apart. The readings are taken 3 s
// after the last join, as idle's are, so that the connect burst's pool
// workers have expired.
func ClusterIdle(ctx context.Context, t Target, p Params) (r Result, err error) {
	addrs := nodeAddrs(t)
	before, err := readMem(t)
	if err != nil {
		return r, err
	}
	var joined atomic.Int64
	pool, err := load.New(load.Config{
		Addr:   addrs[0],
		AddrOf: func(i int) string { return addrs[i%len(addrs)] },
		Handler: func(c *load.Conn, m *load.Msg) {
			if string(m.Event) == "$joined" {
				joined.Add(1)
			}
		},
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	start := time.Now()
	conns, err := pool.OpenN(ctx, p.ClusterIdleConns, p.Dialers)
	if err != nil {
		return r, err
	}
	if err := sendJoins(conns, func(i int) string { return "ci-" + strconv.Itoa(i/clusterIdleRoom) }); err != nil {
		return r, err
	}
	if err := load.WaitFor(ctx, "joined", joined.Load, int64(len(conns)), 60*time.Second); err != nil {
		return r, err
	}
	setup := time.Since(start)
	after, err := readMemSettled(ctx, t)
	if err != nil {
		return r, err
	}
	n := float64(len(conns))
	r.add("nodes", "count", float64(len(addrs)))
	r.add("connections", "count", n)
	r.add("roomloop RSS per connection (all nodes)", "KiB", (after.rss-before.rss)/n/1024)
	r.add("roomloop RSS per connection, free pages returned (all nodes)", "KiB", (after.rssFreed-before.rssFreed)/n/1024)
	r.add("roomloop heap in use per connection (all nodes)", "KiB", (after.heap-before.heap)/n/1024)
	r.add("roomloop live heap per connection (all nodes)", "KiB", (after.live-before.live)/n/1024)
	r.add("roomloop goroutines (all nodes)", "count", after.goroutines)
	if len(addrs) > 1 {
		r.add("NATS server RSS growth per connection", "KiB", (after.natsRSS-before.natsRSS)/n/1024)
	}
	r.add("connect + join time", "s", setup.Seconds())
	return r, nil
}
