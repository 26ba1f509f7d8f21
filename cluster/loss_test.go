package cluster

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// TestLostRecordsAreRefilled: a node that misses every third live record
// of a room fetches each from the stream before the next: its members
// get every frame, in order, with contiguous seq.
func TestLostRecordsAreRefilled(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	n1 := startNode(t, ns.url(), "n1", api.Options{})
	b, err := Connect(testConfig(ns.url(), "n2"))
	require.NoError(t, err)
	var lost atomic.Int64
	b.lose = func(_ string, seq uint64) bool {
		if seq%3 == 0 {
			lost.Add(1)
			return true
		}
		return false
	}
	n2 := startBrokerNode(t, b)
	require.Eventually(t, func() bool { return n1.broker.peers.alive() == 1 }, wait, 10*time.Millisecond)

	a, c := dial(t, n1), dial(t, n2)
	a.join("room")
	c.join("room")
	for n := range 30 {
		a.send(map[string]any{"event": "msg", "room": "room", "payload": map[string]int{"n": n}})
	}
	var seq uint64
	for want := 0; want < 30; {
		f := c.read()
		if seq != 0 {
			require.Equal(t, seq+1, f.Seq)
		}
		seq = f.Seq
		if f.Event == "msg" {
			require.Equal(t, want, payloadN(t, f))
			want++
		}
	}
	assert.Positive(t, lost.Load(), "records were lost and refilled")
}

// TestAgedOutRecordsAreReportedDropped: records missed during an outage
// longer than the stream's history are reported to the members as
// $error dropped when the node catches up, never silently skipped.
func TestAgedOutRecordsAreReportedDropped(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	cfg1 := testConfig(ns.url(), "n1")
	cfg1.History = time.Second
	b1, err := Connect(cfg1)
	require.NoError(t, err)
	n1 := startBrokerNode(t, b1)
	cfg2 := testConfig(ns.url(), "n2")
	cfg2.History = time.Second
	b2, err := Connect(cfg2)
	require.NoError(t, err)
	var drop atomic.Bool
	b2.lose = func(string, uint64) bool { return drop.Load() }
	n2 := startBrokerNode(t, b2)

	a, c := dial(t, n1), dial(t, n2)
	a.join("room")
	c.join("room")
	drop.Store(true)
	a.send(map[string]any{"event": "msg", "room": "room", "id": "m0", "payload": map[string]int{"n": 0}})
	a.next("$ack")
	// Wait until the record is gone from the stream.
	require.Eventually(t, func() bool {
		info, err := b1.stream.Info(t.Context())
		return err == nil && info.State.Msgs == 0
	}, wait, 50*time.Millisecond)
	drop.Store(false)
	b2.resyncAll(resyncLong) // as after an outage longer than the history
	e := c.next("$error")
	var p frame.ErrorPayload
	require.NoError(t, json.Unmarshal(e.Payload, &p))
	assert.Equal(t, api.CodeDropped, p.Code)
	assert.Equal(t, "room", e.Room)
	a.send(map[string]any{"event": "msg", "room": "room", "payload": map[string]int{"n": 1}})
	assert.Equal(t, 1, payloadN(t, c.next("msg")))
}

// TestGoroutinesConstantInRooms: holding many more rooms costs no more
// goroutines.
func TestGoroutinesConstantInRooms(t *testing.T) {
	_, nodes := startCluster(t, 3)
	clients := []*client{dial(t, nodes[0]), dial(t, nodes[1]), dial(t, nodes[2])}
	joinRooms := func(from, to int) {
		for i := from; i < to; i++ {
			for _, c := range clients {
				c.join("r" + strconv.Itoa(i))
			}
		}
	}
	joinRooms(0, 5)
	before := runtime.NumGoroutine()
	joinRooms(5, 60)
	after := runtime.NumGoroutine()
	assert.LessOrEqual(t, after-before, 5, "goroutines: %d with 5 rooms, %d with 60", before, after)
}

// TestShutdownWithoutNATS: a node whose NATS server is gone still shuts
// down promptly: there is no one to say goodbye to, and nothing waits for
// NATS to come back.
func TestShutdownWithoutNATS(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	b, err := Connect(testConfig(ns.url(), "n1"))
	require.NoError(t, err)
	opts := api.Options{Broker: b, Logger: testConfig("", "").Logger}
	srv := api.New(&opts)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	ns.s.Shutdown()
	require.Eventually(t, func() bool { return !b.nc.IsConnected() }, wait, 10*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	// A generous bound, yet below the NATS client's 10 s flush timeout,
	// which Shutdown used to wait out.
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(6 * time.Second):
		require.Fail(t, "Shutdown waited for NATS")
		<-done
	}
}

// TestPublishWaitsForTheStream: a publish that finds no stream (between a
// NATS server's restart and the stream being made again, or while a NATS
// cluster elects the stream's leader) waits and retries within its
// timeout rather than failing at once.
func TestPublishWaitsForTheStream(t *testing.T) {
	ns := startNATS(t, 0, t.TempDir())
	b, err := Connect(testConfig(ns.url(), "n1"))
	require.NoError(t, err)
	t.Cleanup(b.nc.Close)
	require.NoError(t, b.js.DeleteStream(context.Background(), b.cfg.Stream))
	var waits atomic.Int32
	b.noStream = func() {
		if waits.Add(1) == 1 {
			_, _, err := b.ensureStream() // the stream comes back meanwhile
			assert.NoError(t, err)
		}
	}
	require.NoError(t, b.Publish("room", "", []byte{'x'}))
	assert.Equal(t, int32(1), waits.Load(), "the first try found no stream")

	require.NoError(t, b.js.DeleteStream(context.Background(), b.cfg.Stream))
	b.noStream = nil
	err = b.Publish("room", "", []byte{'x'})
	require.Error(t, err, "no stream at all: the publish gives up")
	assert.Contains(t, err.Error(), "no responders")
}
