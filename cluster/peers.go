package cluster

import (
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// peers tracks the other nodes by their heartbeats, which carry each
// process's boot id: a node restarted under its id is another boot, and
// the sessions of the one before are gone.
type peers struct {
	self string
	mu   sync.Mutex
	seen map[string]time.Time // last heartbeat by node
	boot map[string]string    // the boot heard last, by node
	down map[string]bool      // silent for DownAfter and reported
}

// alive returns how many other nodes have been heard from and are not
// down.
func (p *peers) alive() int { return len(p.up()) }

// up returns the other nodes that have been heard from and are not down.
func (p *peers) up() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for node := range p.seen {
		if !p.down[node] {
			out = append(out, node)
		}
	}
	return out
}

// heard notes a heartbeat of node from boot, and reports whether it is a
// new boot of a node heard before (whose sessions are gone).
func (p *peers) heard(node, boot string, at time.Time) (rebooted bool) {
	if node == p.self {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old, known := p.boot[node]
	p.seen[node] = at
	p.boot[node] = boot
	delete(p.down, node)
	return known && boot != "" && old != boot
}

// gone notes that node said goodbye, and reports whether it was up.
func (p *peers) gone(node string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.seen[node]; !ok || p.down[node] {
		return false
	}
	p.down[node] = true
	return true
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

// greetWait is how long a starting node waits for the others to answer.
const greetWait = 250 * time.Millisecond

// greet learns which nodes are there before this one serves: a room's
// first hold here must know whom to ask for the room's state.
func (b *Broker) greet() error {
	inbox := b.nc.NewRespInbox()
	replies, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return err
	}
	defer func() { _ = replies.Unsubscribe() }()
	if err := b.nc.PublishRequest(helloSubject, inbox, b.me()); err != nil {
		return err
	}
	deadline := time.Now().Add(greetWait)
	for {
		m, err := replies.NextMsg(time.Until(deadline))
		if err != nil {
			return nil // everyone there has answered by now
		}
		node, boot, _ := strings.Cut(string(m.Data), " ")
		b.heard(node, boot)
	}
}

// me is this node's id and boot, as hellos carry them.
func (b *Broker) me() []byte { return []byte(b.cfg.Node + " " + b.boot) }

// handleHello answers a starting node with this node's id.
func (b *Broker) handleHello(m *nats.Msg) {
	node, boot, _ := strings.Cut(string(m.Data), " ")
	if node != b.cfg.Node {
		b.heard(node, boot)
		_ = m.Respond(b.me())
	}
}

// handleHeartbeat notes another node's heartbeat.
func (b *Broker) handleHeartbeat(m *nats.Msg) {
	b.heard(strings.TrimPrefix(m.Subject, heartbeatPrefix), string(m.Data))
}

// heard notes that node (boot) is alive; a new boot of it means the
// sessions of the one before are gone.
func (b *Broker) heard(node, boot string) {
	if b.peers.heard(node, boot, time.Now()) {
		b.log.Warn("cluster: a node restarted", "peer", node)
		go b.node.NodeDown(node)
	}
}

// handleBye takes a node that detached for gone at once.
func (b *Broker) handleBye(m *nats.Msg) {
	node := strings.TrimPrefix(m.Subject, byePrefix)
	if node != b.cfg.Node && b.peers.gone(node) {
		go b.node.NodeDown(node)
	}
}

// heartbeats says this node is alive every Heartbeat, and reports the
// nodes silent for DownAfter, until Detach.
func (b *Broker) heartbeats() {
	t := time.NewTicker(b.cfg.Heartbeat)
	defer t.Stop()
	subj := heartbeatPrefix + b.cfg.Node
	_ = b.nc.Publish(subj, []byte(b.boot))
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			_ = b.nc.Publish(subj, []byte(b.boot))
			if !b.nc.IsConnected() {
				continue // our silence, not theirs
			}
			for _, node := range b.peers.silent(now.Add(-b.cfg.DownAfter)) {
				b.node.NodeDown(node)
			}
		}
	}
}
