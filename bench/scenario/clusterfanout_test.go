package scenario

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/bench/natsd"
	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/bench/serve"
	"github.com/roomloop/roomloop/cluster"
)

// inProcess is a Target of servers in the test process: /proc readings
// are the test process's own.
type inProcess struct{ addrs []string }

func (t inProcess) Addr() string                     { return t.addrs[0] }
func (t inProcess) NodeAddrs() []string              { return t.addrs }
func (t inProcess) Sample() (procstat.Sample, error) { return procstat.Read(os.Getpid()) }
func (t inProcess) Stats() (serve.Stats, error)      { return serve.Stats{}, nil }
func (t inProcess) StatsFreed() (serve.Stats, error) { return serve.Stats{}, nil }

// startServer starts roomloop in this process on 127.0.0.1:0 as cfg
// says, closed when the test ends, and returns its address.
func startServer(t *testing.T, cfg serve.Config) string {
	t.Helper()
	cfg.Impl, cfg.Addr = serve.Roomloop, "127.0.0.1:0"
	s, err := serve.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s.Addr()
}

// fanoutParams is a tiny cluster-fanout.
func fanoutParams() Params {
	return Params{ClusterMembers: 30, ClusterInFlight: 4, Duration: 300 * time.Millisecond, Dialers: 8}
}

// metricsOf returns r's metrics by name.
func metricsOf(r Result) map[string]float64 {
	m := map[string]float64{}
	for _, x := range r.Metrics {
		m[x.Name] = x.Value
	}
	return m
}

// TestClusterFanoutOnThreeNodes runs cluster-fanout against three
// roomloop nodes in this process on an embedded NATS server: every member
// got every message once and in order, spread over the three nodes.
func TestClusterFanoutOnThreeNodes(t *testing.T) {
	ns, stop, err := natsd.Start(natsd.Config{})
	require.NoError(t, err)
	t.Cleanup(stop)
	var addrs []string
	for i := range ClusterNodes {
		b, err := cluster.Connect(cluster.Config{URL: ns.ClientURL(), Node: "n" + strconv.Itoa(i+1),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		addrs = append(addrs, startServer(t, serve.Config{Broker: b}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := ClusterFanout(ctx, inProcess{addrs}, fanoutParams())
	require.NoError(t, err)
	m := metricsOf(r)
	assert.Equal(t, 3.0, m["nodes"])
	assert.Equal(t, 30.0, m["members"])
	assert.Positive(t, m["deliveries/s"])
	assert.Positive(t, m["latency p99"])
	assert.Equal(t, 0.0, m["deliveries out of order or repeated"])
	assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"])
}

// TestClusterFanoutOnOneNode runs cluster-fanout against one roomloop
// server without NATS, a plain Target.
func TestClusterFanoutOnOneNode(t *testing.T) {
	addr := startServer(t, serve.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := ClusterFanout(ctx, inProcess{[]string{addr}}, fanoutParams())
	require.NoError(t, err)
	m := metricsOf(r)
	assert.Equal(t, 1.0, m["nodes"])
	assert.Positive(t, m["deliveries/s"])
	assert.Equal(t, 0.0, m["deliveries out of order or repeated"])
}

// TestClusterFanoutParams checks the sizes are validated, and that only
// cluster-fanout's cluster variant asks the runner for nodes.
func TestClusterFanoutParams(t *testing.T) {
	p := fanoutParams()
	p.ClusterMembers = 1
	_, err := ClusterFanout(context.Background(), inProcess{[]string{"127.0.0.1:1"}}, p)
	assert.Error(t, err)
	p = fanoutParams()
	p.ClusterInFlight = 0
	_, err = ClusterFanout(context.Background(), inProcess{[]string{"127.0.0.1:1"}}, p)
	assert.Error(t, err)
	assert.Equal(t, ClusterNodes, Nodes(ClusterFanoutName, VariantCluster))
	assert.Zero(t, Nodes(ClusterFanoutName, VariantSingle))
	assert.Zero(t, Nodes("broadcast", ""))
	assert.Equal(t, []string{VariantCluster, VariantSingle}, Variants(ClusterFanoutName))
}
