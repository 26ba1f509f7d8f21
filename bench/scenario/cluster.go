package scenario

import (
	"context"
	"fmt"
	"time"

	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/bench/serve"
)

// The cluster scenarios besides cluster-fanout: each compares a cluster
// of ClusterNodes roomloop processes on one NATS server (VariantCluster)
// with one roomloop process (VariantSingle), in the same run, except
// cluster-resume, which needs nodes to resume on and runs the cluster
// only.
const (
	// ClusterPairsName: many 2-member rooms, each member on another node,
	// at a high publish rate.
	ClusterPairsName = "cluster-pairs"
	// ClusterIdleName: idle memory per connection, summed over the nodes.
	ClusterIdleName = "cluster-idle"
	// ClusterResumeName: sessions on one node resume on the others after
	// it drains.
	ClusterResumeName = "cluster-resume"
)

// clusterScenarios are the scenarios whose VariantCluster runs against
// ClusterNodes nodes (Nodes).
var clusterScenarios = map[string]bool{
	ClusterFanoutName: true, ClusterPairsName: true, ClusterIdleName: true, ClusterResumeName: true,
}

// Nodes returns how many roomloop processes, meeting on one NATS server
// that the runner also starts, the variant of scenario name runs against:
// HoldNodes for cluster-hold, ClusterNodes for the other cluster
// scenarios; 0 for one roomloop process without NATS (every other
// scenario and variant).
func Nodes(name, variant string) int {
	switch {
	case variant != VariantCluster:
		return 0
	case name == ClusterHoldName:
		return HoldNodes
	case clusterScenarios[name]:
		return ClusterNodes
	}
	return 0
}

// natsCPU returns the NATS server's CPU seconds so far; 0 for a target
// that is not a NodeReader.
func natsCPU(t Target) (float64, error) {
	nr, ok := t.(NodeReader)
	if !ok {
		return 0, nil
	}
	s, err := nr.NATSSample()
	return s.CPU, err
}

// readProc reads process pid's /proc.
func readProc(pid int) (procstat.Sample, error) { return procstat.Read(pid) }

// ClusterTarget is a Target of several roomloop nodes of one cluster.
type ClusterTarget interface {
	// NodeAddrs returns each node's address; Addr is the first one's.
	NodeAddrs() []string
}

// NodeReader is a ClusterTarget that reads each node process on its own.
type NodeReader interface {
	// NodeSamples reads each node's /proc, in node order, NATS left out.
	NodeSamples() ([]procstat.Sample, error)
	// NATSSample reads the NATS server's /proc.
	NATSSample() (procstat.Sample, error)
	// NodeStats asks each node for its runtime stats (after a GC); with
	// freed, after it returned its free memory to the OS.
	NodeStats(freed bool) ([]serve.Stats, error)
}

// NodeTerminator is a ClusterTarget whose nodes can be shut down one by
// one.
type NodeTerminator interface {
	// TerminateNode sends node i (0-based) SIGTERM, so that it drains,
	// and waits up to timeout for it to exit.
	TerminateNode(i int, timeout time.Duration) error
}

// nodeAddrs returns t's node addresses: one for a plain Target.
func nodeAddrs(t Target) []string {
	if ct, ok := t.(ClusterTarget); ok {
		return ct.NodeAddrs()
	}
	return []string{t.Addr()}
}

// waitWoken waits until ok holds, checking it whenever wake fires (and
// every 100 ms, for a wake that came before the check), for at most
// timeout; what names the wait in its error.
func waitWoken(ctx context.Context, wake <-chan struct{}, what string, ok func() bool, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		select {
		case <-wake:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%s: not done after %v", what, timeout)
		}
	}
	return nil
}

// signal wakes a waitWoken without blocking.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}
