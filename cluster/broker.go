// Package cluster joins roomloop servers into a cluster over NATS: it
// implements api.Broker with JetStream for each room's one order and core
// NATS for live delivery, node-to-node requests and heartbeats. How it
// works, what it guarantees and how to run it: docs/cluster.md.
//
// A single-node server does not import this package, and so never links
// NATS.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomloop/roomloop/api"
)

// Config configures a Broker. Zero fields take their defaults.
type Config struct {
	// URL is the NATS server (or a comma-separated list). Required.
	URL string
	// Node is this node's id: 1–64 lower-case letters, digits and '-',
	// unique in the cluster. Required.
	Node string
	// Stream is the JetStream stream that orders the rooms. Default
	// "ROOMLOOP_ROOMS".
	Stream string
	// History is how long the stream keeps a room's records, for nodes
	// that fall behind to catch up from. Default 2 minutes.
	History time.Duration
	// MaxBytes bounds the stream; the oldest records go first. Default
	// 256 MiB.
	MaxBytes int64
	// FileStorage keeps the stream on disk instead of in memory.
	FileStorage bool
	// Replicas of the stream on a NATS cluster. Default 1.
	Replicas int
	// Heartbeat is how often a node says it is alive; a node silent for
	// DownAfter is taken for dead and its sessions leave their rooms.
	// Defaults 1 s and 5 s.
	Heartbeat, DownAfter time.Duration
	// Timeout bounds a publish or a request. Default 5 s.
	Timeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

var nodeID = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "ROOMLOOP_ROOMS"
	}
	if c.History <= 0 {
		c.History = 2 * time.Minute
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 256 << 20
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = time.Second
	}
	if c.DownAfter <= 0 {
		c.DownAfter = 5 * c.Heartbeat
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Broker is api.Broker on NATS. Create it with Connect, pass it in
// api.Options.Broker; the server attaches and detaches it. Its methods
// are safe for concurrent use.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream

	node api.BrokerNode
	subs []*nats.Subscription // requests, snapshots, heartbeats

	mu       sync.Mutex
	rooms    map[string]*room // held rooms by live subject
	syncs    map[uint64]func(pos uint64)
	nextSync uint64

	lanes []*lane
	peers peers

	created        time.Time     // when the stream was made; guarded by mu
	disconnectedAt atomic.Int64  // when NATS was last lost, Unix ns
	reconnects     atomic.Uint64 // reconnections so far: the latest owns the stream's re-making
	// epoch counts the losses of NATS; a room applies live records only
	// once it has caught up from the stream after the latest.
	epoch atomic.Uint64
	// lose, set by tests before Attach, drops the live records it
	// returns true for, as a lossy network would.
	lose func(room string, seq uint64) bool
	// noStream, set by tests, is called when a publish found no stream
	// to answer it and is about to wait and retry.
	noStream func()

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	boot     string // this process's id: a node restarted under its id is a new boot
}

// Connect connects to NATS and makes sure the room stream exists. It
// fails, with the reason, when NATS cannot be reached: a node never
// starts alone by mistake.
func Connect(cfg Config) (*Broker, error) {
	cfg = cfg.withDefaults()
	if cfg.URL == "" {
		return nil, errors.New("cluster: no NATS URL")
	}
	if !nodeID.MatchString(cfg.Node) {
		return nil, fmt.Errorf("cluster: node id %q: use 1-64 lower-case letters, digits and '-'", cfg.Node)
	}
	b := &Broker{cfg: cfg, log: cfg.Logger.With("node", cfg.Node), rooms: make(map[string]*room), syncs: make(map[uint64]func(uint64)), boot: nats.NewInbox()[7:], stop: make(chan struct{})}
	nc, err := nats.Connect(cfg.URL,
		nats.Name("roomloop "+cfg.Node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.Timeout(cfg.Timeout),
		nats.ReconnectHandler(func(*nats.Conn) { go b.reconnected() }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			select {
			case <-b.stop:
				return // closed on purpose (Detach)
			default:
			}
			b.disconnectedAt.Store(time.Now().UnixNano())
			b.epoch.Add(1) // live records wait for each room's catching up
			b.log.Warn("cluster: lost NATS; publishes fail until it is back", "err", err)
		}),
		nats.ErrorHandler(b.asyncError),
	)
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to NATS at %s: %w", cfg.URL, err)
	}
	b.nc = nc
	if b.js, b.stream, err = b.ensureStream(); err != nil {
		nc.Close()
		return nil, err
	}
	b.created = b.stream.CachedInfo().Created
	return b, nil
}

// ensureStream creates or updates the stream of room records.
func (b *Broker) ensureStream() (jetstream.JetStream, jetstream.Stream, error) {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: JetStream: %w", err)
	}
	storage := jetstream.MemoryStorage
	if b.cfg.FileStorage {
		storage = jetstream.FileStorage
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        b.cfg.Stream,
		Subjects:    []string{roomPrefix + ">"},
		Storage:     storage,
		Replicas:    b.cfg.Replicas,
		MaxAge:      b.cfg.History,
		MaxBytes:    b.cfg.MaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  min(time.Minute, b.cfg.History),
		AllowDirect: true,
		RePublish:   &jetstream.RePublish{Source: roomPrefix + ">", Destination: livePrefix + ">"},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: the room stream %s: %w (is JetStream enabled on the NATS server?)", b.cfg.Stream, err)
	}
	return js, st, nil
}

// reconnected makes sure the stream is there (a NATS server restarted
// without its storage has lost it) and has every held room catch up. If
// the stream cannot be made (JetStream not ready yet on a server that
// just started, or not enabled), it tries again, less and less often,
// while this connection lasts: a later reconnection starts over.
func (b *Broker) reconnected() {
	gen := b.reconnects.Add(1)
	kind := resyncShort
	if time.Since(time.Unix(0, b.disconnectedAt.Load())) > b.cfg.History/2 {
		kind = resyncLong
	}
	var st jetstream.Stream
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		var err error
		if _, st, err = b.ensureStream(); err == nil {
			break
		}
		b.log.Error("cluster: the room stream after reconnecting; trying again", "err", err, "in", wait)
		select {
		case <-b.stop:
			return
		case <-time.After(wait):
		}
		if b.reconnects.Load() != gen || !b.nc.IsConnected() {
			return
		}
	}
	b.mu.Lock()
	if created := st.CachedInfo().Created; !created.Equal(b.created) {
		b.created, kind = created, resyncRestart
	}
	b.mu.Unlock()
	b.resyncAll(kind)
}

// Node implements api.Broker.
func (b *Broker) Node() string { return b.cfg.Node }

// Nodes implements api.Broker: the nodes heard from and not down.
func (b *Broker) Nodes() []string { return b.peers.up() }

// Attach implements api.Broker: it starts the lanes that apply room
// records, answers requests and snapshot requests, and starts the
// heartbeats.
func (b *Broker) Attach(node api.BrokerNode) error {
	b.node = node
	b.peers = peers{self: b.cfg.Node, seen: make(map[string]time.Time), boot: make(map[string]string), down: make(map[string]bool)}
	b.lanes = make([]*lane, laneCount)
	for i := range b.lanes {
		b.lanes[i] = &lane{b: b, in: make(chan *nats.Msg, laneBuffer)}
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.lanes[i].run() }()
	}
	for subj, h := range map[string]nats.MsgHandler{
		requestSubject(b.cfg.Node): b.handleRequest,
		snapshotPrefix + "*":       b.handleSnapshot,
		heartbeatPrefix + "*":      b.handleHeartbeat,
		helloSubject:               b.handleHello,
		byePrefix + "*":            b.handleBye,
	} {
		sub, err := b.nc.Subscribe(subj, h)
		if err != nil {
			b.Detach()
			return fmt.Errorf("cluster: subscribing to %s: %w", subj, err)
		}
		b.subs = append(b.subs, sub)
	}
	if err := b.greet(); err != nil {
		b.Detach()
		return err
	}
	b.wg.Add(1)
	go func() { defer b.wg.Done(); b.heartbeats() }()
	return nil
}

// Detach implements api.Broker: it stops everything Attach started and
// closes the NATS connection.
func (b *Broker) Detach() {
	for _, s := range b.subs {
		_ = s.Unsubscribe()
	}
	b.mu.Lock()
	for subj, r := range b.rooms {
		_ = r.sub.Unsubscribe()
		delete(b.rooms, subj)
	}
	b.mu.Unlock()
	b.stopOnce.Do(func() { close(b.stop) })
	// The others reap this node's sessions now rather than after its
	// silence. Without NATS there is no one to tell, and a flush would
	// wait for its timeout.
	if b.nc.IsConnected() {
		_ = b.nc.Publish(byeSubject(b.cfg.Node), []byte(b.boot))
		_ = b.nc.FlushTimeout(b.cfg.Timeout)
	}
	b.wg.Wait()
	b.nc.Close()
}

// Publish implements api.Broker. It fails at once while NATS is away.
// It sends the record as a plain NATS request to the stream's subject
// and reads JetStream's acknowledgement itself: the JetStream client's
// publish decodes every acknowledgement with encoding/json, which was a
// third of a publish's CPU.
func (b *Broker) Publish(room, key string, rec []byte) error {
	if !b.nc.IsConnected() {
		return errors.New("cluster: not connected to NATS")
	}
	m := &nats.Msg{Subject: roomSubject(room), Data: rec}
	if key != "" {
		m.Header = nats.Header{jetstream.MsgIDHeader: []string{key}}
	}
	deadline := time.Now().Add(b.cfg.Timeout)
	for tries := 0; ; tries++ {
		ack, err := b.nc.RequestMsg(m, time.Until(deadline))
		switch {
		case errors.Is(err, nats.ErrNoResponders) && tries < publishRetries && time.Until(deadline) > publishRetryWait:
			// The stream has no leader for a moment (a NATS cluster
			// electing one, or a restarted server before the stream is
			// made again): JetStream's own client waits and retries too.
			if b.noStream != nil {
				b.noStream()
			}
			select {
			case <-time.After(publishRetryWait):
			case <-b.stop:
				return errors.New("cluster: detached")
			}
			continue
		case errors.Is(err, nats.ErrNoResponders):
			return errors.New("cluster: the room stream did not answer (no responders)")
		case err != nil:
			return err
		}
		return pubAckError(ack.Data)
	}
}

// A publish that finds no stream to answer it is retried publishRetries
// times, publishRetryWait apart, within the publish timeout.
const (
	publishRetries   = 2
	publishRetryWait = 250 * time.Millisecond
)

// pubAckError returns nil for JetStream's acknowledgement of a stored (or
// de-duplicated) record, and the error it answered otherwise. An
// acknowledgement is {"stream":…,"seq":N} with an optional "duplicate";
// a refusal has "error".
func pubAckError(ack []byte) error {
	if bytes.Contains(ack, []byte(`"seq":`)) && !bytes.Contains(ack, []byte(`"error"`)) {
		return nil
	}
	var r struct {
		Seq   uint64 `json:"seq"`
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	switch {
	case json.Unmarshal(ack, &r) != nil:
		return fmt.Errorf("cluster: an unreadable answer to a publish: %.100q", ack)
	case r.Error != nil:
		return fmt.Errorf("cluster: JetStream refused the record: %s (%d)", r.Error.Description, r.Error.ErrCode)
	case r.Seq == 0:
		return fmt.Errorf("cluster: an answer to a publish without a position: %.100q", ack)
	}
	return nil
}

// Request implements api.Broker.
func (b *Broker) Request(node string, rec []byte) ([]byte, error) {
	if !nodeID.MatchString(node) {
		return nil, api.ErrNoNode
	}
	m, err := b.nc.Request(requestSubject(node), rec, b.cfg.Timeout)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, api.ErrNoNode
	}
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

// handleRequest answers another node's request on a goroutine of its
// own, since it may wait for a room's order (a join).
func (b *Broker) handleRequest(m *nats.Msg) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		_ = m.Respond(b.node.Handle(m.Data))
	}()
}

// asyncError handles NATS's asynchronous errors: a slow consumer lost
// messages of a room subscription, which is then refilled from the
// stream.
func (b *Broker) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
		b.mu.Lock()
		r := b.rooms[sub.Subject]
		b.mu.Unlock()
		if r != nil {
			go b.resync(r, resyncShort) // never block NATS's callbacks
		}
	}
	b.log.Warn("cluster: NATS error", "err", err)
}
