package api

// PendingPresenceRooms returns how many rooms have changes waiting for
// their next $presence diff.
func (s *Server) PendingPresenceRooms() int {
	s.presence.mu.Lock()
	defer s.presence.mu.Unlock()
	return len(s.presence.pending)
}
