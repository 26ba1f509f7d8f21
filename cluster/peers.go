package cluster

import (
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// peers tracks the other nodes by their heartbeats.
type peers struct {
	self string
	mu   sync.Mutex
	seen map[string]time.Time // last heartbeat by node
	down map[string]bool      // silent for DownAfter and reported
}

// alive returns how many other nodes have been heard from and are not
// down.
func (p *peers) alive() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for node := range p.seen {
		if !p.down[node] {
			n++
		}
	}
	return n
}

// heard notes a heartbeat of node.
func (p *peers) heard(node string, at time.Time) {
	if node == p.self {
		return
	}
	p.mu.Lock()
	p.seen[node] = at
	delete(p.down, node)
	p.mu.Unlock()
}

// silent returns the nodes silent since before cutoff and not yet
// reported, and marks them reported.
func (p *peers) silent(cutoff time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for node, at := range p.seen {
		if !p.down[node] && at.Before(cutoff) {
			p.down[node] = true
			out = append(out, node)
		}
	}
	return out
}

// greet learns which nodes are there before this one serves: a room's
// first hold here must know whom to ask for the room's state.
func (b *Broker) greet() error {
	inbox := b.nc.NewRespInbox()
	replies, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer func() { _ = replies.Unsubscribe() }()
	if err := b.nc.PublishRequest(helloSubject, inbox, []byte(b.cfg.Node)); err != nil {
		return err
	}
	deadline := time.Now().Add(snapshotWait)
	for {
		m, err := replies.NextMsg(time.Until(deadline))
		if err != nil {
			return nil // everyone there has answered by now
		}
		b.peers.heard(string(m.Data), time.Now())
	}
}

// handleHello answers a starting node with this node's id.
func (b *Broker) handleHello(m *nats.Msg) {
	if string(m.Data) != b.cfg.Node {
		b.peers.heard(string(m.Data), time.Now())
		_ = m.Respond([]byte(b.cfg.Node))
	}
}

// handleHeartbeat notes another node's heartbeat.
func (b *Broker) handleHeartbeat(m *nats.Msg) {
	b.peers.heard(strings.TrimPrefix(m.Subject, heartbeatPrefix), time.Now())
}

// heartbeats says this node is alive every Heartbeat, and reports the
// nodes silent for DownAfter, until Detach.
func (b *Broker) heartbeats() {
	t := time.NewTicker(b.cfg.Heartbeat)
	defer t.Stop()
	subj := heartbeatPrefix + b.cfg.Node
	_ = b.nc.Publish(subj, nil)
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			_ = b.nc.Publish(subj, nil)
			if !b.nc.IsConnected() {
				continue // our silence, not theirs
			}
			for _, node := range b.peers.silent(now.Add(-b.cfg.DownAfter)) {
				b.node.NodeDown(node)
			}
		}
	}
}
