package api

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/frame"
)

// A server with Options.Broker is one node of a cluster (docs/cluster.md).
// Each room it holds (has members in, or joins under way) has one order
// across the cluster, kept by the broker: frames, joins and leaves are
// published as records and applied, on every node that holds the room,
// in that order. The node delivers a room's frames to its own members
// only; the room's member list, every node's members, is the same on
// every node at the same position of the order.
//
// Concurrency: the broker applies one room's records one at a time
// (clusterRoom.mu held); applying takes a session's mu, then the room
// table's lock, as single-node joins do. Nothing that holds a session's
// mu or a room table lock takes clusterRoom.mu: what they read of it
// (the member count) is atomic.

// cluster is a server's part of the cluster; nil on one node.
type cluster struct {
	s    *Server
	b    Broker
	node string

	mu    sync.Mutex
	rooms map[string]*clusterRoom

	names nodeNames // node ids in member lists, as numbers
	self  nodeRef   // this node's number in names

	moved movedSessions // sessions handed over to other nodes
}

// clusterRoom is a room this node holds.
type clusterRoom struct {
	holds int           // local members and joins under way; guarded by cluster.mu
	ready chan struct{} // closed when the broker's Hold returned
	err   error         // the Hold's error; read after ready

	count atomic.Int64 // members.len(), read without mu

	mu      sync.Mutex
	pos     uint64                 // the last record applied
	members memberList             // every node's members
	joins   map[string]pendingJoin // local joins waiting to be applied, by session; nil when none
}

// pendingJoin is a local join waiting for its record: done closes when it
// is applied, and its $joined echoes id.
type pendingJoin struct {
	done chan struct{}
	id   string
}

// publishTimeout bounds a publish or a request to another node.
const publishTimeout = 5 * time.Second

// errClusterDown is the answer to a client whose frame the cluster did not
// take: the frame's id is not used up, and a retry is applied once.
var errClusterDown = NewError(CodeInternal, "the cluster did not take the frame; try again")

func newCluster(s *Server, b Broker) *cluster {
	cl := &cluster{s: s, b: b, node: b.Node(), rooms: make(map[string]*clusterRoom)}
	cl.self = cl.names.ref(cl.node)
	return cl
}

// sessionID returns a new session id that names this node as its home.
func (cl *cluster) sessionID(random string) string { return random + "." + cl.node }

// homeOf returns the node a session id names as its home, or "".
func homeOf(id string) string {
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		return id[i+1:]
	}
	return ""
}

// hold counts one more local interest in room, starting the broker's
// Hold on the first, and waits until the room's state is there.
func (cl *cluster) hold(room string) (*clusterRoom, error) {
	cl.mu.Lock()
	r := cl.rooms[room]
	first := r == nil
	if first {
		r = &clusterRoom{ready: make(chan struct{})}
		cl.rooms[strings.Clone(room)] = r
	}
	r.holds++
	cl.mu.Unlock()
	if first {
		r.err = cl.b.Hold(room)
		close(r.ready)
	}
	<-r.ready
	if r.err != nil {
		cl.unhold(room)
		return nil, r.err
	}
	return r, nil
}

// unhold ends one local interest in room; the last releases it.
func (cl *cluster) unhold(room string) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	r := cl.rooms[room]
	if r == nil {
		return
	}
	if r.holds--; r.holds > 0 {
		return
	}
	delete(cl.rooms, room)
	if r.err == nil {
		// Under cl.mu: a new hold of room waits for this release.
		cl.b.Release(room)
	}
}

// held returns room's state, or nil when this node does not hold it.
func (cl *cluster) held(room string) *clusterRoom {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.rooms[room]
}

// join puts c into room across the cluster and answers $joined (echoing
// id) once its record is applied here.
func (cl *cluster) join(c *Conn, room, id string) error {
	c.mu.Lock()
	gone, already, full := c.gone, slices.Contains(c.rooms, room), len(c.rooms) >= cl.s.opts.MaxRoomsPerConn
	c.mu.Unlock()
	switch {
	case gone:
		return ErrClosed
	case already:
		if r := cl.held(room); r != nil {
			r.mu.Lock()
			_ = c.sendOut(sessionFrame(c, evJoined, room, id, cl.s.joinedPayload(&r.members)))
			r.mu.Unlock()
		}
		return nil
	case full:
		return ErrTooManyRooms
	}
	r, err := cl.hold(room)
	if err != nil {
		cl.s.log.Error("cluster: holding a room failed", "room", room, "err", err)
		return errClusterDown
	}
	r.mu.Lock()
	if p, ok := r.joins[c.id]; ok { // a join of c is under way: its answer is this one's
		r.mu.Unlock()
		cl.unhold(room)
		select {
		case <-p.done:
			if c.InRoom(room) {
				r.mu.Lock()
				joined := cl.s.joinedPayload(&r.members)
				r.mu.Unlock()
				_ = c.sendOut(sessionFrame(c, evJoined, room, id, joined))
			}
			return nil
		case <-time.After(publishTimeout):
			return errClusterDown
		}
	}
	p := pendingJoin{done: make(chan struct{}), id: id}
	if r.joins == nil {
		r.joins = make(map[string]pendingJoin)
	}
	r.joins[c.id] = p
	r.mu.Unlock()
	// Retries of one join carry one key, so that it is stored once.
	rec, key := memberRecord(recJoin, c.id, cl.node, false), "join."+c.id+"."+room+"."+randomKey()
	err = cl.b.Publish(room, key, rec)
	if err == nil {
		select {
		case <-p.done:
			return nil
		case <-time.After(publishTimeout):
		}
	}
	// Not taken, or not applied in time: unless it was applied meanwhile,
	// the join is given up, and a leave follows it in case it was stored.
	r.mu.Lock()
	q, still := r.joins[c.id]
	if still && q.done == p.done {
		r.doneJoin(c.id)
	}
	r.mu.Unlock()
	if !still || q.done != p.done {
		return nil
	}
	cl.unhold(room)
	cl.publishLeave(room, c.id, false)
	cl.s.log.Warn("cluster: a join was not taken", "room", room, "err", err)
	return errClusterDown
}

// doneJoin forgets id's pending join; a room with none left lets go of
// the map (Go maps keep their size). Called with r.mu held.
func (r *clusterRoom) doneJoin(id string) {
	delete(r.joins, id)
	if len(r.joins) == 0 {
		r.joins = nil
	}
}

// leave removes c from room on this node at once and publishes the leave
// for the others (and for the room's member list), before c's next join
// can be. Called with c.mu held.
func (cl *cluster) leave(c *Conn, room string) {
	cl.s.rooms.Leave(room, c.member())
	cl.publishLeave(room, c.id, true)
	cl.unhold(room)
}

// publishLeave publishes that id, a session of this node, left room:
// first at once when inline (so that the session's next join comes after
// it), then, if that failed, from a goroutine that retries (with one key,
// so that one record stands) until the cluster takes it or the server
// shuts down.
func (cl *cluster) publishLeave(room, id string, inline bool) {
	cl.publishMember(room, memberRecord(recLeave, id, cl.node, false), "leave."+id+"."+room+"."+randomKey(), inline)
}

// publishMember publishes a member record, as publishLeave says.
func (cl *cluster) publishMember(room string, rec []byte, key string, inline bool) {
	if inline && cl.b.Publish(room, key, rec) == nil {
		return
	}
	go func() {
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
			err := cl.b.Publish(room, key, rec)
			if err == nil {
				return
			}
			cl.s.log.Warn("cluster: publishing a membership failed; retrying", "room", room, "err", err)
			select {
			case <-cl.s.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
}

// publishFrame publishes a frame for room's members across the cluster.
func (cl *cluster) publishFrame(room, key string, f *frame.Frame, echo bool, exclude []string) error {
	if err := cl.b.Publish(room, key, frameRecord(f, echo, exclude)); err != nil {
		cl.s.log.Warn("cluster: publishing a frame failed", "room", room, "err", err)
		return errClusterDown
	}
	return nil
}

// memberCount returns room's member count across the cluster as this node
// knows it (0 when it does not hold the room).
func (cl *cluster) memberCount(room string) int {
	if r := cl.held(room); r != nil {
		return int(r.count.Load())
	}
	return 0
}

// members returns up to max of room's members (max < 0: all) and their
// count.
func (cl *cluster) members(room string, max int) ([]string, int) {
	r := cl.held(room)
	if r != nil {
		if <-r.ready; r.err != nil {
			r = nil
		}
	}
	if r == nil {
		// Held for the question: the holders give the list.
		var err error
		if r, err = cl.hold(room); err != nil {
			cl.s.log.Warn("cluster: holding a room for its members failed", "room", room, "err", err)
			return []string{}, 0
		}
		defer cl.unhold(room)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members.ids(max), r.members.len()
}

// roomState is a room's member list as one node gives it to another.
type roomState struct {
	Members []string `json:"m"`
	Homes   []string `json:"h"`
}

// RoomState implements BrokerNode.
func (cl *cluster) RoomState(room string) (uint64, []byte, bool) {
	r := cl.held(room)
	if r == nil {
		return 0, nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := roomState{Members: make([]string, r.members.len()), Homes: make([]string, r.members.len())}
	for i, m := range r.members.list {
		st.Members[i], st.Homes[i] = m.id, cl.names.name(m.home)
	}
	b, _ := json.Marshal(st)
	return r.pos, b, true
}

// RoomReset implements BrokerNode.
func (cl *cluster) RoomReset(room string, pos uint64, state []byte) {
	r := cl.held(room)
	if r == nil {
		return
	}
	var st roomState
	if state != nil && (json.Unmarshal(state, &st) != nil || len(st.Homes) != len(st.Members)) {
		cl.s.log.Error("cluster: a peer's room state is malformed; starting the room empty", "room", room)
		st = roomState{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pos = pos
	r.members.reset()
	for i, id := range st.Members {
		if id == "" || r.members.find(id) >= 0 {
			continue
		}
		home := cl.names.ref(st.Homes[i])
		if home == cl.self {
			c, ok := cl.s.sess.Get(id)
			if !ok {
				// Listed as this node's, but not here: this node
				// restarted under its id before the others saw it
				// gone.
				cl.publishLeave(room, id, false)
			} else {
				id = c.id // shared with the session
			}
		}
		r.members.put(id, home)
	}
	r.count.Store(int64(r.members.len()))
}

// RoomLost implements BrokerNode: the room's local members are told that
// frames were dropped.
func (cl *cluster) RoomLost(room string, pos uint64) {
	if r := cl.held(room); r != nil {
		r.mu.Lock()
		r.pos = pos
		r.mu.Unlock()
	}
	out := controlFrame(evError, room, "", frame.ErrorPayload{Code: CodeDropped,
		Message: "frames of room " + room + " were lost between servers"})
	cl.s.fanOut(room, out, nil)
}

// RoomRecord implements BrokerNode.
func (cl *cluster) RoomRecord(room string, pos uint64, rec []byte) {
	r := cl.held(room)
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pos = pos
	rd := recordReader{b: rec}
	switch rd.byte() {
	case recFrame:
		rf, ok := readRoomFrame(&rd)
		if !ok {
			break
		}
		cl.s.fanOut(room, frame.NewOutgoing(rf.f), func(m *Conn) bool { return rf.skips(m.id) })
		return
	case recJoin:
		id, home, _ := rd.str(), rd.str(), rd.byte()
		if rd.err != nil || id == "" {
			break
		}
		cl.applyJoin(r, room, id, home)
		return
	case recLeave:
		id, home, flags := rd.str(), rd.str(), rd.byte()
		if rd.err != nil || id == "" {
			break
		}
		cl.applyLeave(r, room, id, home, flags&1 != 0)
		return
	}
	cl.s.log.Error("cluster: a room record is malformed; skipped", "room", room, "pos", pos)
}

// applyJoin records that id (at home) joined; a local session joins the
// room here and gets $joined. Called with r.mu held.
func (cl *cluster) applyJoin(r *clusterRoom, room, id, home string) {
	if home != cl.node {
		// A session that moved names its new home.
		if !r.members.put(id, cl.names.ref(home)) {
			r.count.Store(int64(r.members.len()))
			cl.s.rooms.Deliver(room, func(local []member) { cl.s.recordPresence(room, id, true, local) })
		}
		return
	}
	c, ok := cl.s.sess.Get(id)
	if ok {
		id = c.id // the list shares the session's own id
	}
	listed := r.members.put(id, cl.self)
	if !listed {
		r.count.Store(int64(r.members.len()))
	}
	pending, waited := r.joins[id]
	if waited {
		r.doneJoin(id)
		defer close(pending.done)
	}
	if ok {
		c.mu.Lock()
		defer c.mu.Unlock()
	}
	switch {
	case ok && c.adopting:
		return // arriving from another node: it joins at its cut (handover.go)
	case !ok || c.gone:
		// It ended before its join came round: it leaves again.
		cl.publishLeave(room, id, false)
		if waited {
			cl.unholdLater(room)
		}
		return
	case slices.Contains(c.rooms, room):
		return // in already (it moved here, or a join was repeated)
	case !waited:
		// A join this node did not wait for (its wait timed out, and
		// the leave that follows it will take it out again): it holds
		// the room meanwhile.
		cl.mu.Lock()
		if cl.rooms[room] != r {
			cl.mu.Unlock()
			return
		}
		r.holds++
		cl.mu.Unlock()
	}
	answer := func(_ bool, local []member) {
		_ = c.sendOut(sessionFrame(c, evJoined, room, pending.id, cl.s.joinedPayload(&r.members)))
		if !listed {
			cl.s.recordPresence(room, id, true, local)
		}
	}
	if _, _, err := cl.s.rooms.JoinThen(room, c.member(), answer); err != nil {
		c.sendError(pending.id, room, codeOf(err), err.Error())
		cl.publishLeave(room, id, false)
		cl.unholdLater(room)
		return
	}
	c.rooms = append(c.rooms, room)
}

// unholdLater is unhold from a goroutine that holds r.mu: releasing the
// room waits for the broker, which may be applying a record of it.
func (cl *cluster) unholdLater(room string) { go cl.unhold(room) }

// applyLeave records that id (at home) left: a leave for another home
// than the one listed is stale (the session moved since), and ignored.
// A session of this node that is still in the room here heals a leave
// another node reaped (this node seemed silent): it joins again; any
// other leave of it (one that follows a join given up) takes it out
// here too. Called with r.mu held.
func (cl *cluster) applyLeave(r *clusterRoom, room, id, home string, reaped bool) {
	i := r.members.find(id)
	if i < 0 || (home != "" && cl.names.name(r.members.list[i].home) != home) {
		return
	}
	r.members.remove(i)
	r.count.Store(int64(r.members.len()))
	if home == cl.node {
		if c, ok := cl.s.sess.Get(id); ok {
			c.mu.Lock()
			if slices.Contains(c.rooms, room) {
				if reaped {
					cl.publishMember(room, memberRecord(recJoin, id, cl.node, false), "", false)
				} else {
					cl.s.rooms.Leave(room, c.member())
					c.rooms = slices.DeleteFunc(c.rooms, func(x string) bool { return x == room })
					_ = c.sendOut(sessionFrame(c, evLeft, room, "", frame.LeftPayload{Reason: "left"}))
					cl.unholdLater(room)
				}
			}
			c.mu.Unlock()
		}
	}
	cl.s.rooms.Deliver(room, func(local []member) { cl.s.recordPresence(room, id, false, local) })
}

// NodeDown implements BrokerNode: the sessions of a silent node leave
// every room this node holds. Every node publishes the same leaves, under
// the same keys, so one of each stands.
func (cl *cluster) NodeDown(node string) {
	cl.mu.Lock()
	rooms := make(map[string]*clusterRoom, len(cl.rooms))
	for name, r := range cl.rooms {
		rooms[name] = r
	}
	cl.mu.Unlock()
	down := cl.names.ref(node)
	for room, r := range rooms {
		r.mu.Lock()
		var gone []string
		for _, m := range r.members.list {
			if m.home == down {
				gone = append(gone, m.id)
			}
		}
		r.mu.Unlock()
		for _, id := range gone {
			cl.publishMember(room, memberRecord(recLeave, id, node, true), "down."+id+"."+room, false)
		}
	}
	cl.s.log.Warn("cluster: a node went silent; its sessions left their rooms", "node", node)
}

// request asks the home node of session id to do op; ErrNoSuchSession when
// no node has it. A session id this server made names its home node. An
// id that names no node that is up (one Authorize chose, or one of a node
// that is gone) is looked for on every node first (find).
func (cl *cluster) request(op byte, id, arg string, f *frame.Frame) error {
	home := homeOf(id)
	if to, ok := cl.moved.get(id); ok {
		home = to
	} else if home == cl.node {
		return ErrNoSuchSession // this node's, and not here
	}
	if home == "" || !slices.Contains(cl.b.Nodes(), home) {
		found, err := cl.find(id)
		if err != nil || found == "" {
			return cmp.Or(err, ErrNoSuchSession)
		}
		home = found
	}
	rec := request(op, id, arg, f)
	for hops := 0; hops < 4; hops++ {
		if home == "" || home == cl.node {
			return ErrNoSuchSession
		}
		ans, err := cl.b.Request(home, rec)
		switch {
		case errors.Is(err, ErrNoNode):
			return ErrNoSuchSession
		case err != nil:
			cl.s.log.Warn("cluster: a request to another node failed", "node", home, "err", err)
			return errClusterDown
		case len(ans) == 0:
			return errClusterDown
		}
		switch ans[0] {
		case answerOK:
			return nil
		case answerNoSuch:
			return ErrNoSuchSession
		case answerMoved:
			home = string(ans[1:])
		default:
			return refusedErr(ans[1:])
		}
	}
	return ErrNoSuchSession
}

// find asks every other node that is up whether it has session id, and
// returns the first that has it connected, else one that has it
// suspended (a client that reconnects to another node by id leaves a
// suspended session behind until its resume window passes), else "".
// A node that does not answer in time makes it errClusterDown, unless
// another has the session connected.
func (cl *cluster) find(id string) (string, error) {
	answers := cl.askEvery(request(opWho, id, "", nil))
	suspended, failed := "", false
	for a := range answers {
		switch {
		case errors.Is(a.err, ErrNoNode):
		case a.err != nil || len(a.ans) == 0:
			failed = true
		case a.ans[0] == answerOK && len(a.ans) > 1 && a.ans[1] == 1:
			return a.node, nil
		case a.ans[0] == answerOK && suspended == "":
			suspended = a.node
		case a.ans[0] == answerMoved && len(a.ans) > 1 && suspended == "":
			suspended = string(a.ans[1:]) // followed by request
		}
	}
	if suspended == "" && failed {
		return "", errClusterDown
	}
	return suspended, nil
}

// nodeAnswer is one node's answer to a request, or why there is none.
type nodeAnswer struct {
	node string
	ans  []byte
	err  error
}

// askEvery sends rec to every other node that is up, at once, and yields
// their answers as they come; each comes within the broker's timeout, and
// the requests a caller stops waiting for finish on their own.
func (cl *cluster) askEvery(rec []byte) <-chan nodeAnswer {
	nodes := slices.DeleteFunc(cl.b.Nodes(), func(n string) bool { return n == cl.node })
	out := make(chan nodeAnswer, len(nodes))
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			ans, err := cl.b.Request(n, rec)
			if err != nil && !errors.Is(err, ErrNoNode) {
				cl.s.log.Warn("cluster: a request to another node failed", "node", n, "err", err)
			}
			out <- nodeAnswer{node: n, ans: ans, err: err}
		})
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

// Handle implements BrokerNode: another node's request for a session of
// this one.
func (cl *cluster) Handle(rec []byte) []byte {
	rd := recordReader{b: rec}
	op, id, arg := rd.byte(), rd.str(), rd.str()
	if rd.err != nil {
		return refusal(NewError(CodeBadRequest, "malformed request"))
	}
	switch op {
	case opHandover:
		return cl.handOver(id, arg)
	case opSessionsOf, opSendUser, opKickUser:
		return cl.handleUser(op, id, arg, &rd)
	}
	c, ok := cl.s.sess.Get(id)
	if !ok {
		if to, moved := cl.moved.get(id); moved {
			return append([]byte{answerMoved}, to...)
		}
		return []byte{answerNoSuch}
	}
	var err error
	switch op {
	case opWho:
		if c.transport() != nil {
			return []byte{answerOK, 1}
		}
		return []byte{answerOK, 0}
	case opSend:
		f := rd.frame()
		if rd.err != nil {
			return refusal(NewError(CodeBadRequest, "malformed frame"))
		}
		if err = f.Check(); err == nil {
			if err = c.Send(f); err == ErrDropped {
				err = nil // as on one node: the recipient's policy dropped it
			}
		}
	case opKick:
		c.Kick(arg)
	case opJoin:
		if !cl.s.validRoom(arg) {
			err = ErrInvalidRoom
		} else {
			err = cl.join(c, arg, "")
		}
	case opLeave:
		err = cl.s.leave(c, arg, "", "removed")
	default:
		err = errors.New("unknown operation")
	}
	switch {
	case err == nil:
		return []byte{answerOK}
	case errors.Is(err, ErrClosed), errors.Is(err, ErrNoSuchSession):
		return []byte{answerNoSuch}
	default:
		return refusal(err)
	}
}

// refusal answers a request refused with err: its $error code, a newline
// and its message, so that the asking node returns the same error.
func refusal(err error) []byte {
	code, msg := codeOf(err), err.Error()
	var e *Error
	if errors.As(err, &e) {
		code, msg = e.Code, e.Message
	}
	return append([]byte{answerRefused}, code+"\n"+msg...)
}

// refusedErr is the error a refusal stands for.
func refusedErr(ans []byte) error {
	code, msg, _ := strings.Cut(string(ans), "\n")
	for _, known := range []error{ErrNotMember, ErrTooManyRooms, ErrInvalidRoom, ErrSlowConsumer, ErrInvalidFrame} {
		if msg == known.Error() {
			return known
		}
	}
	return NewError(code, msg)
}

// randomKey returns a short random string for publish keys.
func randomKey() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
