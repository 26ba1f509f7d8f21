package api

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
	"github.com/roomloop/roomloop/resume"
)

// Resume on another node (docs/cluster.md, "Resume on another node"). A
// client that presents its resume token to a node other than its
// session's home: that node (the new home) asks the old one to hand the
// session over. The old home refuses as it would refuse a resume
// (unknown, expired, gap, invalid), or freezes the session: for each of
// its rooms it notes the cut, the last record applied to the session,
// and takes it out of the room; then it hands over the frames the client
// has not confirmed, the cuts and the frame ids it has seen, closes the
// old connection (4003) and forgets the session, keeping a note of where
// it went. The new home continues the stream from those frames, and for
// each room replays the room's records after the cut to the session
// alone before it joins it to the room, in the room's order: the client
// gets every frame once, in order, with seq running on. A node hands
// one session over at a time (handoverLock), so of two resumes of one
// session one comes first; the second is refused unknown while the first
// is still arriving, or else takes the session over from its new home,
// as a second resume does on one node.

const (
	opHandover  byte = 'h'
	answerMoved byte = 3 // the session moved; the node follows
)

// handoverRequest asks a node for one of its sessions.
type handoverRequest struct {
	Token   string `json:"token"`
	LastSeq uint64 `json:"last_seq"`
	User    string `json:"user"`
	ID      string `json:"id,omitempty"` // Identity.SessionID of the new connection
	To      string `json:"to"`           // the new home
}

// handover is a session as its old home hands it over.
type handover struct {
	Last   uint64        `json:"last"`
	Frames [][]byte      `json:"frames"` // seqs Last-len+1 … Last
	Rooms  []roomCut     `json:"rooms"`
	Seen   []string      `json:"seen"` // client frame ids in the dedupe window
	frames []frame.Frame // decoded
}

type roomCut struct {
	Room string `json:"room"`
	Cut  uint64 `json:"cut"`
}

// movedSessions remembers, for a while, where sessions moved to.
type movedSessions struct {
	mu sync.Mutex
	to map[string]movedTo
}

type movedTo struct {
	node string
	at   time.Time
}

// movedFor is how long a node remembers where a session went.
const movedFor = 10 * time.Minute

func (m *movedSessions) set(id, node string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.to == nil {
		m.to = make(map[string]movedTo)
	}
	now := time.Now()
	if len(m.to) >= 1024 {
		for k, v := range m.to {
			if now.Sub(v.at) > movedFor {
				delete(m.to, k)
			}
		}
	}
	m.to[id] = movedTo{node, now}
}

// del forgets where id went: it is back.
func (m *movedSessions) del(id string) {
	m.mu.Lock()
	delete(m.to, id)
	m.mu.Unlock()
}

func (m *movedSessions) get(id string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.to[id]
	if !ok || time.Since(v.at) > movedFor {
		return "", false
	}
	return v.node, true
}

// takeOver asks the session's home for it (following moves), into b.moved,
// or sets b.reason. It reports whether the session was found anywhere.
func (cl *cluster) takeOver(b *handshake, req resume.Request) {
	id, _ := resume.SessionOf(req.Token)
	home := homeOf(id)
	if to, ok := cl.moved.get(id); ok {
		home = to
	}
	body, _ := json.Marshal(handoverRequest{Token: req.Token, LastSeq: req.LastSeq, User: b.identity.User,
		ID: b.identity.SessionID, To: cl.node})
	for hops := 0; home != "" && home != cl.node && hops < 4; hops++ {
		ans, err := cl.b.Request(home, request(opHandover, id, string(body), nil))
		if err != nil || len(ans) == 0 {
			b.reason = resume.ReasonUnknown // the home is gone: never a partial replay
			return
		}
		switch ans[0] {
		case answerOK:
			h := &handover{}
			if json.Unmarshal(ans[1:], h) != nil || !h.decode() {
				cl.s.log.Error("cluster: a handover is malformed", "node", home)
				b.reason = resume.ReasonUnknown
				return
			}
			b.moved, b.movedID, b.movedToken, b.lastSeq = h, id, req.Token, req.LastSeq
			return
		case answerMoved:
			home = string(ans[1:])
		case answerRefused:
			b.reason = string(ans[1:])
			return
		default:
			b.reason = resume.ReasonUnknown
			return
		}
	}
	b.reason = resume.ReasonUnknown
}

// decode reads the frames.
func (h *handover) decode() bool {
	h.frames = make([]frame.Frame, len(h.Frames))
	for i, b := range h.Frames {
		rd := recordReader{b: b}
		h.frames[i] = rd.frame()
		if rd.err != nil {
			return false
		}
	}
	return uint64(len(h.frames)) <= h.Last
}

// awaitHandovers waits, after a drain, until every session has moved to
// another node, for at most wait or until ctx ends. With no other node up
// (the last node of a cluster) there is nowhere to move to, and it does
// not wait. A node cut off from NATS still counts the nodes it heard last
// as up and waits: NATS may come back within the wait.
func (cl *cluster) awaitHandovers(ctx context.Context, wait time.Duration) {
	limit := time.NewTimer(wait)
	defer limit.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for cl.s.sess.Len() > 0 && len(cl.b.Nodes()) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-limit.C:
			return
		case <-tick.C:
		}
	}
}

// handoverLocks serialize the handovers of one session (striped by its
// id), so that of two resumes of it one comes first; different sessions
// move at once.
var handoverLocks [64]sync.Mutex

func handoverLock(id string) *sync.Mutex {
	return &handoverLocks[xxhash.Sum64String(id)%uint64(len(handoverLocks))]
}

// handOver answers another node's handover request for session id.
func (cl *cluster) handOver(id string, body string) []byte {
	mu := handoverLock(id)
	mu.Lock()
	defer mu.Unlock()
	var req handoverRequest
	if json.Unmarshal([]byte(body), &req) != nil {
		return append([]byte{answerRefused}, resume.ReasonInvalid...)
	}
	s := cl.s
	c, reason := s.sess.Find(req.Token)
	if c == nil {
		if to, ok := cl.moved.get(id); ok {
			return append([]byte{answerMoved}, to...)
		}
	}
	switch {
	case c == nil && reason == resume.ReasonExpired:
		return append([]byte{answerRefused}, reason...)
	case c == nil, c.id != id, c.user != req.User, req.ID != "" && req.ID != c.id, c.ep != nil:
		return []byte{answerNoSuch}
	}
	c.mu.Lock()
	switch {
	case c.adopting: // it is arriving here from another node: that resume won
		c.mu.Unlock()
		return []byte{answerNoSuch}
	case c.gone:
		c.mu.Unlock()
		return append([]byte{answerRefused}, resume.ReasonExpired...)
	}
	if err := c.stream.CheckResume(req.LastSeq); err != nil {
		c.mu.Unlock()
		return append([]byte{answerRefused}, resume.ReasonOf(err)...)
	}
	c.gone = true // no more joins; its rooms stay its own
	c.moving = true
	c.stopExpiryLocked()
	rooms := slices.Clone(c.rooms)
	s.sess.Unsuspend(c)
	c.mu.Unlock()
	s.sess.Remove(c)
	s.users.remove(c)
	cl.moved.set(id, req.To)

	h := handover{Rooms: make([]roomCut, 0, len(rooms))}
	for _, room := range rooms {
		r := cl.held(room)
		if r == nil {
			continue
		}
		r.mu.Lock() // no record of the room is applied meanwhile
		c.mu.Lock()
		s.rooms.Leave(room, c.member())
		c.rooms = slices.DeleteFunc(c.rooms, func(x string) bool { return x == room })
		c.mu.Unlock()
		h.Rooms = append(h.Rooms, roomCut{Room: room, Cut: r.pos})
		r.mu.Unlock()
		cl.unhold(room)
	}
	frames, last, lc, err := c.stream.Handover(req.LastSeq)
	if err != nil { // the client confirmed more meanwhile: it is lost
		for _, rc := range h.Rooms {
			cl.publishLeave(rc.Room, id, false)
		}
		return append([]byte{answerRefused}, resume.ReasonOf(err)...)
	}
	if lc != nil {
		lc.SetSource(nil, nil)
		lc.Abort(uint16(CloseReplaced), "resumed on another server")
	}
	c.endContext()
	h.Last = last
	for i := range frames {
		w := recordWriter{}
		w.frame(&frames[i])
		h.Frames = append(h.Frames, w.b)
	}
	c.mu.Lock()
	h.Seen = c.dedupe.IDs()
	c.mu.Unlock()
	out, _ := json.Marshal(h)
	return append([]byte{answerOK}, out...)
}

// adopt makes the session handed over in b this node's, attached to lc.
// On failure it sets b.reason; the session is then ended everywhere.
func (s *Server) adopt(lc *loop.Conn, b *handshake) bool {
	h := b.moved
	c := &Conn{srv: s, id: b.movedID, user: b.identity.User, lc: lc, token: b.movedToken,
		stream: s.out.Adopt(h.frames, h.Last), adopting: true}
	c.setIdentityLocked(b.identity) // c is not shared yet
	for _, id := range h.Seen {
		c.dedupe.Reserve(id, s.opts.DedupeWindow)
	}
	s.users.add(c)
	s.cl.moved.del(c.id)
	if !s.sess.Add(c) {
		s.users.remove(c)
		c.stream.End()
		s.cl.abandon(c.id, h.Rooms)
		b.reason = resume.ReasonUnknown
		return false
	}
	for i, rc := range h.Rooms {
		if err := s.cl.adoptRoom(c, rc.Room, rc.Cut); err != nil {
			s.log.Warn("cluster: a moved session cannot rejoin its room", "session", c.id, "room", rc.Room, "err", err)
			s.cl.abandon(c.id, h.Rooms[i:])
			s.endSession(c, CloseInfo{Code: CloseAbnormal, Reason: "resume gap"})
			b.reason = resume.ReasonGap
			return false
		}
	}
	err := c.stream.Attach(lc, b.codec, b.lastSeq, func(last uint64) *frame.Outgoing {
		return s.welcome(c, true, last, "", b.identity.Expires)
	})
	if err != nil {
		s.endSession(c, CloseInfo{Code: CloseAbnormal, Reason: "resume gap"})
		b.reason = resume.ReasonOf(err)
		return false
	}
	c.mu.Lock()
	c.adopting = false
	c.mu.Unlock()
	b.sess = c
	if s.opts.OnResume != nil {
		s.opts.OnResume(c)
	}
	return true
}

// abandon publishes that session id left rooms: it moved and could not be
// taken over.
func (cl *cluster) abandon(id string, rooms []roomCut) {
	for _, rc := range rooms {
		cl.publishLeave(rc.Room, id, false)
	}
}

// adoptRoom joins a moved session c to room from the cut on: the room's
// records after it are replayed to c alone, then c joins the room in the
// room's order, and the room's member list learns c's new home.
func (cl *cluster) adoptRoom(c *Conn, room string, cut uint64) error {
	r, err := cl.hold(room)
	if err != nil {
		return err
	}
	var replayErr error
	err = cl.b.Sync(room, cut, func(pos uint64) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if cut < pos {
			replayErr = cl.b.Replay(room, cut+1, pos, func(_ uint64, rec []byte) { cl.replayTo(c, rec) })
			if replayErr != nil {
				return
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, _, err := cl.s.rooms.JoinThen(room, c.member(), nil); err != nil {
			replayErr = err
			return
		}
		if !slices.Contains(c.rooms, room) {
			c.rooms = append(c.rooms, room)
		}
	})
	if err == nil {
		err = replayErr
	}
	if err != nil {
		cl.unhold(room)
		return err
	}
	if err := cl.b.Publish(room, "", memberRecord(recJoin, c.id, cl.node, false)); err != nil {
		cl.s.log.Warn("cluster: publishing a moved session's home failed", "room", room, "err", err)
	}
	return nil
}

// replayTo queues for c alone a frame record it missed while it moved.
func (cl *cluster) replayTo(c *Conn, rec []byte) {
	rd := recordReader{b: rec}
	if rd.byte() != recFrame {
		return // joins and leaves: the member list is the room's already
	}
	if rf, ok := readRoomFrame(&rd); ok && !rf.skips(c.id) {
		_ = c.sendOut(frame.NewOutgoing(rf.f))
	}
}
