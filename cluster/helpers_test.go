package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// wait bounds every wait for a condition.
const wait = 15 * time.Second

// natsServer is an embedded NATS server with JetStream.
type natsServer struct {
	s    *natsserver.Server
	opts *natsserver.Options
}

// startNATS starts an embedded NATS server on 127.0.0.1 (port as given; 0
// picks one) and stops it when the test ends.
func startNATS(t *testing.T, port int, dir string) *natsServer {
	t.Helper()
	if port == 0 {
		port = -1
	}
	opts := &natsserver.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
	s, err := natsserver.NewServer(opts)
	require.NoError(t, err)
	go s.Start()
	require.True(t, s.ReadyForConnections(wait), "NATS did not start")
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return &natsServer{s: s, opts: opts}
}

func (n *natsServer) url() string { return n.s.ClientURL() }

func (n *natsServer) port() int { return n.s.Addr().(*net.TCPAddr).Port }

// node is one roomloop server of a test cluster.
type node struct {
	srv    *api.Server
	broker *Broker
	url    string
}

// testConfig is a broker config with quick heartbeats.
func testConfig(url, id string) Config {
	return Config{URL: url, Node: id, Heartbeat: 100 * time.Millisecond, DownAfter: time.Second,
		Timeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// startNode starts a roomloop server on 127.0.0.1:0 as node id of the
// cluster on nats, shut down when the test ends.
func startNode(t *testing.T, natsURL, id string, opts api.Options) *node {
	t.Helper()
	b, err := Connect(testConfig(natsURL, id))
	require.NoError(t, err)
	return startBrokerNodeOpts(t, b, opts)
}

// startBrokerNode starts a roomloop server on b.
func startBrokerNode(t *testing.T, b *Broker) *node {
	t.Helper()
	return startBrokerNodeOpts(t, b, api.Options{})
}

func startBrokerNodeOpts(t *testing.T, b *Broker, opts api.Options) *node {
	t.Helper()
	opts.Broker = b
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := api.New(&opts)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return &node{srv: srv, broker: b, url: "ws://" + srv.Addr().String() + "/ws"}
}

// startCluster starts n nodes on one embedded NATS server.
func startCluster(t *testing.T, n int) (*natsServer, []*node) {
	t.Helper()
	return startClusterOpts(t, n, api.Options{})
}

// startClusterOpts starts n nodes with opts on one embedded NATS server.
func startClusterOpts(t *testing.T, n int, opts api.Options) (*natsServer, []*node) {
	t.Helper()
	ns := startNATS(t, 0, t.TempDir())
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, ns.url(), "n"+strconv.Itoa(i+1), opts)
	}
	// Every node has heard every other: snapshots wait for them all.
	for _, nd := range nodes {
		require.Eventually(t, func() bool { return nd.broker.peers.alive() == n-1 }, wait, 10*time.Millisecond)
	}
	return ns, nodes
}

// client is a JSON client of one node.
type client struct {
	t  *testing.T
	ws *websocket.Conn
	id string
}

// serverFrame is a frame as a client reads it.
type serverFrame struct {
	Seq     uint64          `json:"seq"`
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	From    string          `json:"from"`
	ID      string          `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

func dial(t *testing.T, n *node) *client {
	t.Helper()
	c, _ := dialURL(t, n.url)
	return c
}

// dialURL connects to url and returns the client with its $welcome.
func dialURL(t *testing.T, url string) (*client, frame.WelcomePayload) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	c := &client{t: t, ws: ws}
	var w frame.WelcomePayload
	require.NoError(t, json.Unmarshal(c.next("$welcome").Payload, &w))
	c.id = w.Session
	return c, w
}

func (c *client) send(f map[string]any) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteJSON(f))
}

// read returns the next frame.
func (c *client) read() serverFrame {
	c.t.Helper()
	require.NoError(c.t, c.ws.SetReadDeadline(time.Now().Add(wait)))
	var f serverFrame
	require.NoError(c.t, c.ws.ReadJSON(&f))
	return f
}

// next reads until a frame of event arrives.
func (c *client) next(event string) serverFrame {
	c.t.Helper()
	for {
		if f := c.read(); f.Event == event {
			return f
		}
	}
}

// join joins room and returns its $joined payload.
func (c *client) join(room string) frame.JoinedPayload {
	c.t.Helper()
	c.send(map[string]any{"event": "$join", "room": room, "id": "j-" + room})
	f := c.next("$joined")
	require.Equal(c.t, "j-"+room, f.ID)
	var p frame.JoinedPayload
	require.NoError(c.t, json.Unmarshal(f.Payload, &p))
	return p
}

// waitCount waits until every node reports count members in room.
func waitCount(t *testing.T, nodes []*node, room string, count int) {
	t.Helper()
	for _, n := range nodes {
		require.Eventually(t, func() bool { _, c := n.srv.Members(room, 0); return c == count },
			wait, 10*time.Millisecond, "node %s", n.broker.Node())
	}
}

func payloadN(t *testing.T, f serverFrame) int {
	var p struct{ N int }
	require.NoError(t, json.Unmarshal(f.Payload, &p), "%s", f.Payload)
	return p.N
}

func label(f serverFrame, n int) string { return fmt.Sprintf("%s#%d", f.From, n) }
