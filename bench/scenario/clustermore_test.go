package scenario

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/bench/natsd"
	"github.com/roomloop/roomloop/bench/serve"
	"github.com/roomloop/roomloop/cluster"
)

// nodes is a cluster of roomloop servers in the test process on an
// embedded NATS server, whose nodes can be shut down one by one: a
// NodeTerminator.
type nodes struct {
	inProcess
	servers []serve.Server
	once    []sync.Once
}

// TerminateNode shuts node i down, as SIGTERM does the server child.
func (n *nodes) TerminateNode(i int, _ time.Duration) (err error) {
	n.once[i].Do(func() { err = n.servers[i].Close() })
	return err
}

// startNodes starts ClusterNodes roomloop nodes configured as cfg says,
// each on 127.0.0.1:0, shut down when the test ends.
func startNodes(t *testing.T, cfg serve.Config) *nodes {
	t.Helper()
	ns, stop, err := natsd.Start(natsd.Config{})
	require.NoError(t, err)
	t.Cleanup(stop)
	n := &nodes{once: make([]sync.Once, ClusterNodes)}
	for i := range ClusterNodes {
		b, err := cluster.Connect(cluster.Config{URL: ns.ClientURL(), Node: "n" + strconv.Itoa(i+1),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		require.NoError(t, err)
		c := cfg
		c.Impl, c.Addr, c.Broker = serve.Roomloop, "127.0.0.1:0", b
		s, err := serve.Start(c)
		require.NoError(t, err)
		n.servers = append(n.servers, s)
		n.addrs = append(n.addrs, s.Addr())
	}
	t.Cleanup(func() {
		for i := range n.servers {
			assert.NoError(t, n.TerminateNode(i, 0))
		}
	})
	return n
}

// pairsParams is a tiny cluster-pairs.
func pairsParams() Params {
	return Params{PairRooms: 20, PairInFlight: 3, Duration: 300 * time.Millisecond, Dialers: 8}
}

// TestClusterPairs runs cluster-pairs against three nodes and against
// one: every receiver got its room's messages once, in order.
func TestClusterPairs(t *testing.T) {
	for name, addrs := range map[string][]string{
		"three nodes": startNodes(t, serve.Config{}).addrs,
		"one node":    {startServer(t, serve.Config{})},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		r, err := ClusterPairs(ctx, inProcess{addrs}, pairsParams())
		cancel()
		require.NoError(t, err, name)
		m := metricsOf(r)
		assert.Equal(t, float64(len(addrs)), m["nodes"], name)
		assert.Positive(t, m["deliveries/s"], name)
		assert.Equal(t, 0.0, m["deliveries out of order or repeated"], name)
		assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"], name)
	}
	_, err := ClusterPairs(context.Background(), inProcess{[]string{"127.0.0.1:1"}}, Params{PairInFlight: 1})
	assert.Error(t, err, "no rooms")
}

// TestClusterIdle runs cluster-idle against three nodes: every
// connection joined.
func TestClusterIdle(t *testing.T) {
	n := startNodes(t, serve.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := ClusterIdle(ctx, n.inProcess, Params{ClusterIdleConns: 150, Dialers: 8})
	require.NoError(t, err)
	m := metricsOf(r)
	assert.Equal(t, 3.0, m["nodes"])
	assert.Equal(t, 150.0, m["connections"])
	assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"])
}

// TestClusterResume drains the first of three nodes: every session comes
// back resumed on another node with every message, once and in order.
func TestClusterResume(t *testing.T) {
	n := startNodes(t, serve.Config{Resume: true, HandoverWait: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := ClusterResume(ctx, n, Params{ClusterResumeConns: 120, ClusterResumeMissed: 3, Dialers: 8})
	require.NoError(t, err)
	m := metricsOf(r)
	assert.Equal(t, 120.0, m["closed with 1001"])
	assert.Equal(t, 120.0, m["sessions resumed on another node"])
	assert.Equal(t, 0.0, m["resumes refused"])
	assert.Equal(t, 0.0, m["resumed sessions: messages lost, repeated or reordered"])
	assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"])
	assert.Positive(t, m["SIGTERM to all back"])

	_, err = ClusterResume(ctx, inProcess{[]string{"127.0.0.1:1"}}, Params{ClusterResumeConns: 1, ClusterResumeMissed: 1})
	assert.Error(t, err, "one node")
}

// TestClusterVariants checks which cluster scenarios run which variants.
func TestClusterVariants(t *testing.T) {
	for _, name := range []string{ClusterPairsName, ClusterIdleName} {
		assert.Equal(t, []string{VariantCluster, VariantSingle}, Variants(name))
		assert.Equal(t, ClusterNodes, Nodes(name, VariantCluster))
		assert.Zero(t, Nodes(name, VariantSingle))
	}
	assert.Equal(t, []string{VariantCluster}, Variants(ClusterResumeName))
	assert.Contains(t, ServerArgs(ClusterResumeName), "-handover-wait")
}
