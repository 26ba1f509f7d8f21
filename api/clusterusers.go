package api

import (
	"encoding/binary"
	"errors"
	"slices"
)

// A user's sessions may be on any node: the server-side calls that take
// a user (SessionsOf, SendUser, KickUser) ask every other node that is up
// for its part, at once, and add the answers to this node's.

// userSessions returns the live sessions of user on this node.
func (s *Server) userSessions(user string) []*Conn {
	if user == "" {
		return nil
	}
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	out := make([]*Conn, 0, len(s.users.byUser[user]))
	for c := range s.users.byUser[user] {
		out = append(out, c)
	}
	return out
}

// sendUserHere queues f for user's sessions on this node and counts them.
func (s *Server) sendUserHere(user string, f Frame) int {
	n := 0
	for _, c := range s.userSessions(user) {
		if c.Send(f) == nil {
			n++
		}
	}
	return n
}

// kickUserHere ends user's sessions on this node and counts them.
func (s *Server) kickUserHere(user, reason string) int {
	cs := s.userSessions(user)
	for _, c := range cs {
		c.Kick(reason)
	}
	return len(cs)
}

// SessionsOf returns, sorted, the ids of the live sessions (connected or
// suspended) whose Identity.User is user; none for "" (sessions without a
// user are not tracked). With a Broker it asks every other node, which
// costs a request each; a node that does not answer in time is left out
// (and logged).
func (s *Server) SessionsOf(user string) []string {
	ids := []string{}
	for _, c := range s.userSessions(user) {
		ids = append(ids, c.id)
	}
	if s.cl != nil && user != "" {
		for a := range s.cl.askEvery(request(opSessionsOf, user, "", nil)) {
			if a.err == nil && len(a.ans) > 0 && a.ans[0] == answerOK {
				rd := recordReader{b: a.ans[1:]}
				if more := rd.strs(); rd.err == nil {
					ids = append(ids, more...)
				}
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// SendUser queues f for every live session of user (see Conn.Send) and
// returns how many it was queued for; 0 for "". With a Broker it reaches
// the user's sessions on every node; when some node does not answer in
// time, the count is of the others and the error is ErrIncomplete.
func (s *Server) SendUser(user string, f Frame) (int, error) {
	if err := checkFrame(&f); err != nil {
		return 0, err
	}
	n := s.sendUserHere(user, f)
	if s.cl == nil || user == "" {
		return n, nil
	}
	m, err := s.cl.countAll(request(opSendUser, user, "", &f))
	return n + m, err
}

// KickUser ends every live session of user as Kick does and returns how
// many; 0 for "". With a Broker it reaches every node, as SendUser does.
func (s *Server) KickUser(user, reason string) (int, error) {
	n := s.kickUserHere(user, reason)
	if s.cl == nil || user == "" {
		return n, nil
	}
	m, err := s.cl.countAll(request(opKickUser, user, reason, nil))
	return n + m, err
}

// countAll sends a user request to every other node and adds up the
// counts they answer; ErrIncomplete if some did not answer.
func (cl *cluster) countAll(rec []byte) (int, error) {
	n := 0
	var err error
	for a := range cl.askEvery(rec) {
		if a.err != nil || len(a.ans) == 0 || a.ans[0] != answerOK {
			if !errors.Is(a.err, ErrNoNode) { // a node gone since has no sessions
				err = ErrIncomplete
			}
			continue
		}
		if v, k := binary.Uvarint(a.ans[1:]); k > 0 {
			n += int(v)
		}
	}
	return n, err
}

// handleUser answers another node's request about a user's sessions on
// this node.
func (cl *cluster) handleUser(op byte, user, arg string, rd *recordReader) []byte {
	out := []byte{answerOK}
	switch op {
	case opSessionsOf:
		var ids []string
		for _, c := range cl.s.userSessions(user) {
			ids = append(ids, c.id)
		}
		w := recordWriter{b: out}
		w.strs(ids)
		return w.b
	case opSendUser:
		f := rd.frame()
		if rd.err != nil || f.Check() != nil {
			return refusal(NewError(CodeBadRequest, "malformed frame"))
		}
		return binary.AppendUvarint(out, uint64(cl.s.sendUserHere(user, f)))
	default: // opKickUser
		return binary.AppendUvarint(out, uint64(cl.s.kickUserHere(user, arg)))
	}
}
