package cluster

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/roomloop/roomloop/api"
)

// A held room is one core-NATS subscription to the room's republished
// records, feeding one of a fixed number of lanes (so the goroutines do
// not grow with the rooms). A lane applies each room's records in stream
// order: a record whose predecessor (Nats-Last-Sequence) is not the last
// one applied is preceded by the missing ones, fetched from the stream;
// those that aged out are reported lost.

const (
	laneCount = 8
	// laneBuffer is each lane's queue of records (32 KiB of pointers).
	// A full one makes NATS drop that room's records as a slow
	// consumer; the room then catches up from the stream.
	laneBuffer = 1 << 12

	// headers of the stream's republished records
	hdrSeq  = "Nats-Sequence"
	hdrLast = "Nats-Last-Sequence"
	// headers of this package's own messages
	hdrPos  = "Rl-Pos"  // a snapshot's position
	hdrHeld = "Rl-Held" // "no" when the node does not hold the room
	hdrCtl  = "Rl-Ctl"  // a lane's control message: reset or resync
	hdrNode = "Rl-Node" // the node that answers
)

// room is a held room; its fields after sub are the lane's alone.
type room struct {
	name, live string
	sub        *nats.Subscription
	lane       *lane
	ready      chan struct{} // closed once the reset is applied

	started bool
	epoch   uint64 // the broker's epoch the room has caught up to
	pos     uint64
	early   []*nats.Msg // records that came before the reset
}

// lane applies the records of its rooms, one at a time.
type lane struct {
	b  *Broker
	in chan *nats.Msg
}

func (b *Broker) laneFor(room string) *lane {
	return b.lanes[xxhash.Sum64String(room)%uint64(len(b.lanes))]
}

// Hold implements api.Broker: subscribe first, then learn the room's
// state from a node that holds it (or, when none does, start empty at
// the stream's last record of the room), so that nothing falls between.
func (b *Broker) Hold(name string) error {
	r := &room{name: name, live: liveSubject(name), lane: b.laneFor(name), ready: make(chan struct{}), epoch: b.epoch.Load()}
	b.mu.Lock()
	if _, ok := b.rooms[r.live]; ok {
		b.mu.Unlock()
		return errors.New("cluster: room already held")
	}
	b.rooms[r.live] = r
	sub, err := b.nc.ChanSubscribe(r.live, r.lane.in)
	if err == nil {
		r.sub = sub
		_ = sub.SetPendingLimits(-1, -1)
	}
	b.mu.Unlock()
	if err != nil {
		b.forget(r)
		return err
	}
	pos, state, err := b.roomState(name)
	if err != nil {
		b.Release(name)
		return err
	}
	ctl := &nats.Msg{Subject: r.live, Sub: sub, Header: nats.Header{}, Data: state}
	ctl.Header.Set(hdrCtl, "reset")
	ctl.Header.Set(hdrPos, strconv.FormatUint(pos, 10))
	if state == nil {
		ctl.Header.Set(hdrHeld, "no")
	}
	select {
	case r.lane.in <- ctl:
	case <-b.stop:
		return errors.New("cluster: detached")
	}
	select {
	case <-r.ready:
		return nil
	case <-b.stop:
		return errors.New("cluster: detached")
	}
}

// Release implements api.Broker. It does not wait for a record of the
// room being applied; none is applied after the next.
func (b *Broker) Release(name string) {
	b.mu.Lock()
	r := b.rooms[liveSubject(name)]
	if r != nil {
		delete(b.rooms, r.live)
	}
	b.mu.Unlock()
	if r != nil && r.sub != nil {
		_ = r.sub.Unsubscribe()
	}
}

func (b *Broker) forget(r *room) {
	b.mu.Lock()
	if b.rooms[r.live] == r {
		delete(b.rooms, r.live)
	}
	b.mu.Unlock()
}

// roomState asks the nodes that hold the room for its state, and takes
// the most recent; with none, the room is empty as of its last record.
func (b *Broker) roomState(name string) (uint64, []byte, error) {
	// The room's last record, read before asking: a node that holds the
	// room for the first time at the same moment answers "no", and its
	// join must then come after this position, not before it.
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	var lastSeq uint64
	last, err := b.stream.GetLastMsgForSubject(ctx, roomSubject(name))
	switch {
	case err == nil:
		lastSeq = last.Sequence
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, nil, err
	}
	// One answer per node, this one's included (it hears its own
	// question): a channel with room for twice as many, rather than a
	// synchronous subscription's 65,536-message queue (half a megabyte
	// allocated for every room a node begins to hold).
	want := b.peers.alive()
	replies := make(chan *nats.Msg, 2*(want+1)+4)
	inbox := b.nc.NewRespInbox()
	sub, err := b.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.nc.PublishRequest(snapshotSubject(name), inbox, nil); err != nil {
		return 0, nil, err
	}
	var best *nats.Msg
	var bestPos uint64
	timeout := time.NewTimer(b.cfg.Timeout)
	defer timeout.Stop()
	for answered := 0; answered < want; {
		var m *nats.Msg
		select {
		case m = <-replies:
		case <-timeout.C:
		}
		if m == nil {
			break // the silent ones do not hold it
		}
		if m.Header.Get(hdrNode) == b.cfg.Node {
			continue
		}
		answered++
		if m.Header.Get(hdrHeld) == "no" {
			continue
		}
		if pos, err := strconv.ParseUint(m.Header.Get(hdrPos), 10, 64); err == nil && (best == nil || pos > bestPos) {
			best, bestPos = m, pos
		}
	}
	if best != nil {
		return bestPos, best.Data, nil
	}
	return lastSeq, nil, nil
}

// handleSnapshot answers a node that begins holding a room.
func (b *Broker) handleSnapshot(m *nats.Msg) {
	reply := &nats.Msg{Header: nats.Header{}}
	reply.Header.Set(hdrNode, b.cfg.Node)
	name, ok := roomOfToken(strings.TrimPrefix(m.Subject, snapshotPrefix))
	b.mu.Lock()
	r := b.rooms[liveSubject(name)]
	b.mu.Unlock()
	held := false
	if ok && r != nil {
		select {
		case <-r.ready: // a node still starting has no state to give
			pos, state, has := b.node.RoomState(name)
			if has {
				reply.Header.Set(hdrPos, strconv.FormatUint(pos, 10))
				reply.Data, held = state, true
			}
		default:
		}
	}
	if !held {
		reply.Header.Set(hdrHeld, "no")
	}
	_ = m.RespondMsg(reply)
}

// Kinds of catching up, after a loss.
const (
	resyncShort   = "resync"      // a slow subscription, or a short outage: nothing aged out meanwhile
	resyncLong    = "resync-long" // an outage longer than records are kept: some may have aged out unseen
	resyncRestart = "restart"     // the stream was made anew: its positions start again
)

// resyncAll has every held room catch up from the stream, after NATS came
// back; the peers' silence while it was away does not count.
func (b *Broker) resyncAll(kind string) {
	b.log.Info("cluster: catching up from the stream", "kind", kind)
	b.peers.mu.Lock()
	now := time.Now()
	for node := range b.peers.seen {
		b.peers.seen[node] = now
	}
	b.peers.mu.Unlock()
	b.mu.Lock()
	rooms := make([]*room, 0, len(b.rooms))
	for _, r := range b.rooms {
		rooms = append(rooms, r)
	}
	b.mu.Unlock()
	for _, r := range rooms {
		b.resync(r, kind)
	}
}

// resync has r's lane catch up.
func (b *Broker) resync(r *room, kind string) {
	ctl := &nats.Msg{Subject: r.live, Sub: r.sub, Header: nats.Header{}}
	ctl.Header.Set(hdrCtl, kind)
	ctl.Header.Set(hdrPos, strconv.FormatUint(b.epoch.Load(), 10))
	select {
	case r.lane.in <- ctl:
	case <-b.stop:
	}
}

// stopped reports whether the broker is detaching.
func (l *lane) stopped() bool {
	select {
	case <-l.b.stop:
		return true
	default:
		return false
	}
}

// run applies what arrives until the lane is closed.
func (l *lane) run() {
	for {
		var m *nats.Msg
		select {
		case m = <-l.in:
		case <-l.b.stop:
			return
		}
		l.b.mu.Lock()
		r := l.b.rooms[m.Subject]
		l.b.mu.Unlock()
		if r == nil || r.sub != m.Sub {
			continue // released, or from an earlier hold
		}
		switch m.Header.Get(hdrCtl) {
		case "reset":
			l.reset(r, m)
		case "sync":
			l.sync(r, m)
		case resyncShort, resyncLong:
			r.epoch, _ = strconv.ParseUint(m.Header.Get(hdrPos), 10, 64)
			if r.started {
				l.catchUp(r, 0, 0, m.Header.Get(hdrCtl) == resyncLong)
			}
		case resyncRestart:
			r.epoch, _ = strconv.ParseUint(m.Header.Get(hdrPos), 10, 64)
			if r.started {
				// What was in flight when the stream was lost is lost.
				l.b.node.RoomLost(r.name, 0)
				r.pos = 0
				l.catchUp(r, 0, 0, false)
			}
		default:
			switch {
			case !r.started:
				r.early = append(r.early, m)
			case r.epoch == l.b.epoch.Load():
				l.apply(r, m)
			} // else: NATS was lost; the catching up that follows fetches it
		}
	}
}

// reset starts r from a snapshot, then applies what came before it.
func (l *lane) reset(r *room, m *nats.Msg) {
	pos, _ := strconv.ParseUint(m.Header.Get(hdrPos), 10, 64)
	var state []byte
	if m.Header.Get(hdrHeld) != "no" {
		state = m.Data
	}
	l.b.node.RoomReset(r.name, pos, state)
	r.pos, r.started = pos, true
	// Records stored after the snapshot but before the subscription took
	// effect would otherwise wait for the room's next one.
	l.catchUp(r, 0, 0, false)
	early := r.early
	r.early = nil
	for _, e := range early {
		l.apply(r, e)
	}
	close(r.ready)
}

// apply applies one republished record, after any it skipped.
func (l *lane) apply(r *room, m *nats.Msg) {
	seq, err1 := strconv.ParseUint(m.Header.Get(hdrSeq), 10, 64)
	last, err2 := strconv.ParseUint(m.Header.Get(hdrLast), 10, 64)
	if err1 != nil || err2 != nil {
		l.b.log.Error("cluster: a room record without its sequence headers; skipped", "room", r.name)
		return
	}
	if seq <= r.pos {
		return // applied already (a refill got there first)
	}
	if l.b.lose != nil && l.b.lose(r.name, seq) {
		return
	}
	if last != r.pos {
		l.catchUp(r, seq, last, false)
	}
	l.b.node.RoomRecord(r.name, seq, m.Data)
	r.pos = seq
}

// sync runs a Sync's function after catching up.
func (l *lane) sync(r *room, m *nats.Msg) {
	id, _ := strconv.ParseUint(m.Header.Get(hdrPos), 10, 64)
	l.b.mu.Lock()
	fn := l.b.syncs[id]
	delete(l.b.syncs, id)
	l.b.mu.Unlock()
	if fn == nil {
		return
	}
	atLeast, _ := strconv.ParseUint(m.Header.Get(hdrLast), 10, 64)
	if r.started && r.pos < atLeast {
		l.catchUp(r, 0, 0, false)
	}
	fn(r.pos)
}

// Sync implements api.Broker.
func (b *Broker) Sync(name string, atLeast uint64, fn func(pos uint64)) error {
	done := make(chan struct{})
	b.mu.Lock()
	r := b.rooms[liveSubject(name)]
	if r == nil {
		b.mu.Unlock()
		return errors.New("cluster: Sync of a room not held")
	}
	b.nextSync++
	id := b.nextSync
	b.syncs[id] = func(pos uint64) { defer close(done); fn(pos) }
	b.mu.Unlock()
	ctl := &nats.Msg{Subject: r.live, Sub: r.sub, Header: nats.Header{}}
	ctl.Header.Set(hdrCtl, "sync")
	ctl.Header.Set(hdrPos, strconv.FormatUint(id, 10))
	ctl.Header.Set(hdrLast, strconv.FormatUint(atLeast, 10))
	select {
	case r.lane.in <- ctl:
	case <-b.stop:
		return errors.New("cluster: detached")
	}
	select {
	case <-done:
		return nil
	case <-b.stop:
		return errors.New("cluster: detached")
	}
}

// Replay implements api.Broker.
func (b *Broker) Replay(name string, from, to uint64, fn func(pos uint64, rec []byte)) error {
	if from > to {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	info, err := b.stream.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.FirstSeq > from {
		return api.ErrAgedOut
	}
	subj := roomSubject(name)
	for pos := from; pos <= to; {
		msg, err := b.stream.GetMsg(ctx, pos, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if msg.Sequence > to {
			return nil
		}
		fn(msg.Sequence, msg.Data)
		pos = msg.Sequence + 1
	}
	return nil
}

// catchUp applies the room's stored records after r.pos, up to (not
// including) before, whose predecessor is last; before 0: all there are.
// A predecessor that is no longer stored is reported lost. After an
// outage longer than records are kept (longAgo), records after r.pos
// the stream no longer keeps are reported lost: they may have been the
// room's.
func (l *lane) catchUp(r *room, before, last uint64, longAgo bool) {
	subj := roomSubject(r.name)
	if longAgo {
		ctx, cancel := context.WithTimeout(context.Background(), l.b.cfg.Timeout)
		info, err := l.b.stream.Info(ctx)
		cancel()
		if err == nil && info.State.FirstSeq > r.pos+1 && info.State.LastSeq > r.pos {
			l.b.node.RoomLost(r.name, info.State.FirstSeq-1)
			r.pos = info.State.FirstSeq - 1
		}
	}
	for !l.stopped() {
		ctx, cancel := context.WithTimeout(context.Background(), l.b.cfg.Timeout)
		msg, err := l.b.stream.GetMsg(ctx, r.pos+1, jetstream.WithGetMsgSubject(subj))
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			l.b.log.Warn("cluster: catching up a room failed; frames may be lost", "room", r.name, "err", err)
			break
		}
		if before != 0 && msg.Sequence >= before {
			break
		}
		// The stream is the truth: what it stores comes in its order.
		l.b.node.RoomRecord(r.name, msg.Sequence, msg.Data)
		r.pos = msg.Sequence
	}
	if before != 0 && r.pos < last { // last is stored no more
		l.b.node.RoomLost(r.name, last)
		r.pos = last
	}
}
