package runner

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/roomloop/roomloop/bench/child"
	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/bench/serve"
)

// NATSImpl is the -impl of the NATS child: Config.Exe run with the
// arguments "nats -impl nats -addr 127.0.0.1:0" serves an embedded NATS
// server with JetStream (bench/natsd) and prints "LISTEN <host:port>".
const NATSImpl = "nats"

// fleet is the Target of a cluster variant (scenario.Nodes): one NATS
// child and n roomloop server children, each started with
// "-nats nats://<addr> -node-id n<i>", all with the same CPU pinning as a
// single server (they share its CPUs).
type fleet struct {
	nats  *child.Server
	nodes []*child.Server
}

// startFleet starts the NATS child, then the n nodes one after another
// (each node's start greets the ones before it, so every node knows the
// others once the last has printed LISTEN). spec is the servers' spec;
// on failure every process started is stopped.
func startFleet(spec child.Spec, n int) (*fleet, error) {
	ns := spec
	ns.Args, ns.Impl, ns.Addr = []string{"nats"}, NATSImpl, ""
	nats, err := child.Start(ns)
	if err != nil {
		return nil, fmt.Errorf("runner: the NATS child: %w", err)
	}
	f := &fleet{nats: nats}
	for i := range n {
		node := spec
		node.Args = append(slices.Clone(spec.Args), "-nats", "nats://"+nats.Addr(), "-node-id", "n"+strconv.Itoa(i+1))
		s, err := child.Start(node)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("runner: cluster node %d: %w", i+1, err), f.stop())
		}
		f.nodes = append(f.nodes, s)
	}
	return f, nil
}

// Addr returns the first node's address.
func (f *fleet) Addr() string { return f.nodes[0].Addr() }

// NodeAddrs returns every node's address, in node order (n1 first).
func (f *fleet) NodeAddrs() []string {
	out := make([]string, len(f.nodes))
	for i, s := range f.nodes {
		out[i] = s.Addr()
	}
	return out
}

// Impl returns the implementation the nodes run.
func (f *fleet) Impl() string { return f.nodes[0].Impl() }

// Sample sums the readings of every process of the fleet still running,
// NATS included: RSS, threads and CPU seconds.
func (f *fleet) Sample() (procstat.Sample, error) {
	var sum procstat.Sample
	for _, s := range append([]*child.Server{f.nats}, f.nodes...) {
		if exited(s) {
			continue
		}
		x, err := s.Sample()
		if err != nil {
			return sum, err
		}
		sum.RSS += x.RSS
		sum.Threads += x.Threads
		sum.CPU += x.CPU
	}
	return sum, nil
}

// Stats returns the first node's runtime stats.
func (f *fleet) Stats() (serve.Stats, error) { return f.nodes[0].Stats() }

// StatsFreed returns the first node's runtime stats after it returned its
// free memory to the OS.
func (f *fleet) StatsFreed() (serve.Stats, error) { return f.nodes[0].StatsFreed() }

// NodeSamples reads each node's process, in node order (NATS left out).
func (f *fleet) NodeSamples() ([]procstat.Sample, error) {
	out := make([]procstat.Sample, len(f.nodes))
	for i, s := range f.nodes {
		x, err := s.Sample()
		if err != nil {
			return nil, fmt.Errorf("runner: node %d: %w", i+1, err)
		}
		out[i] = x
	}
	return out, nil
}

// NATSSample reads the NATS child's process.
func (f *fleet) NATSSample() (procstat.Sample, error) { return f.nats.Sample() }

// NodeStats asks each node for its runtime stats (after a GC), in node
// order; with freed, after it returned its free memory to the OS.
func (f *fleet) NodeStats(freed bool) ([]serve.Stats, error) {
	out := make([]serve.Stats, len(f.nodes))
	for i, s := range f.nodes {
		read := s.Stats
		if freed {
			read = s.StatsFreed
		}
		x, err := read()
		if err != nil {
			return nil, fmt.Errorf("runner: node %d: %w", i+1, err)
		}
		out[i] = x
	}
	return out, nil
}

// TerminateNode sends node i (0-based) SIGTERM, so that it drains, and
// waits up to timeout for it to exit (then kills it).
func (f *fleet) TerminateNode(i int, timeout time.Duration) error {
	return f.nodes[i].Terminate(timeout)
}

// exited reports whether s's process has exited.
func exited(s *child.Server) bool {
	select {
	case <-s.Exited():
		return true
	default:
		return false
	}
}

// stop stops the nodes, all at once, and then the NATS child.
func (f *fleet) stop() error {
	errs := make([]error, len(f.nodes)+1)
	var wg sync.WaitGroup
	for i, s := range f.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Stop() }()
	}
	wg.Wait()
	errs[len(f.nodes)] = f.nats.Stop()
	return errors.Join(errs...)
}
