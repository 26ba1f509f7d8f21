// Package floor is the bench's floor for memory per idle connection: the
// least a room server on nbio's event loop can be. One nbio engine with
// its own listener; per connection, the bytes of an incomplete upgrade
// request, a frame parser, a session id, a seq and its rooms; every
// answer written inline from the poller that read its cause. No worker
// pool, no queues, no flusher, no resumption, no timeouts. It speaks the
// part of roomloop.json the idle scenario uses: $welcome on open, and
// $join answered with $joined (seq 1, 2, … per connection; the member
// count, no member list); it answers pings and close frames. The idle
// scenario reports roomloop's RSS and heap per connection against it in
// the same run.
//
// A Server is safe for concurrent use: nbio calls the handlers of one
// connection from its one poller, one at a time, and the room table has
// a lock of its own.
package floor

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// Server is the floor server.
type Server struct {
	eng  *nbio.Engine
	addr net.Addr
	ids  atomic.Uint64

	mu    sync.Mutex
	rooms map[string]map[*nbio.Conn]struct{}
}

// conn is what a connection carries. Touched only by its own handlers.
type conn struct {
	head   []byte // the upgrade request so far; nil once upgraded
	open   bool
	parser wsproto.Parser
	id     string
	seq    uint64
	rooms  []string
}

// New returns a server that is not listening yet.
func New() *Server {
	return &Server{rooms: make(map[string]map[*nbio.Conn]struct{})}
}

// Start listens on addr (e.g. 127.0.0.1:0) and serves WebSocket upgrades
// at /ws.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.addr = ln.Addr()
	s.eng = nbio.NewEngine(nbio.Config{
		Network: "tcp",
		Addrs:   []string{s.addr.String()},
		Listen:  func(string, string) (net.Listener, error) { return ln, nil },
	})
	s.eng.OnData(s.data)
	s.eng.OnClose(s.closed)
	if err := s.eng.Start(); err != nil {
		_ = ln.Close()
		return err
	}
	return nil
}

// Addr returns the listening address.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the server, waiting at most 5 seconds.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.eng.Shutdown(ctx)
}

// data reads the upgrade request, then frames. A connection's state is
// made on its first bytes, on its poller: made in OnOpen, on the
// accepting goroutine, it would reach the poller through epoll, which
// the race detector cannot see.
func (s *Server) data(nc *nbio.Conn, data []byte) {
	c, _ := nc.Session().(*conn)
	if c == nil {
		c = new(conn)
		nc.SetSession(c)
	}
	if !c.open {
		data = s.handshake(nc, c, data)
		if !c.open || len(data) == 0 {
			return
		}
	}
	if err := c.parser.Feed(data, handler{s, nc, c}); err != nil {
		_ = nc.Close()
	}
}

// handshake accumulates the upgrade request and answers it with 101 and
// $welcome, or closes the connection. It returns the bytes after the
// request.
func (s *Server) handshake(nc *nbio.Conn, c *conn, data []byte) []byte {
	c.head = append(c.head, data...)
	end, err := wsproto.HeadEnd(c.head, wsproto.DefaultHeadLimits())
	if err != nil {
		_ = nc.Close()
		return nil
	}
	if end < 0 {
		return nil
	}
	up, err := wsproto.ParseUpgrade(c.head[:end], "/ws")
	if err != nil {
		_ = nc.Close()
		return nil
	}
	rest := c.head[end:]
	c.head, c.open = nil, true
	c.parser = wsproto.NewParser(nil)
	c.id = "f-" + strconv.FormatUint(s.ids.Add(1), 10)
	out := wsproto.AppendSwitching(nil, up.Key, "")
	out = wsproto.AppendFrame(out, wsproto.OpText, []byte(`{"event":"$welcome","payload":{"session":"`+c.id+`"}}`))
	_, _ = nc.Write(out)
	return rest
}

// handler is a connection's wsproto.Handler for one Feed.
type handler struct {
	s  *Server
	nc *nbio.Conn
	c  *conn
}

// OnMessage answers $join with $joined; it ignores anything else.
func (h handler) OnMessage(_ wsproto.Opcode, data []byte) {
	room, ok := joinRoom(data)
	if !ok {
		return
	}
	n, fresh := h.s.join(room, h.nc)
	if fresh {
		h.c.rooms = append(h.c.rooms, room)
	}
	h.c.seq++
	_, _ = h.nc.Write(wsproto.AppendFrame(nil, wsproto.OpText, joinedFrame(h.c.seq, room, n)))
}

// OnControl answers a ping with a pong and a close frame with one.
func (h handler) OnControl(op wsproto.Opcode, payload []byte) {
	switch op {
	case wsproto.OpPing:
		_, _ = h.nc.Write(wsproto.AppendFrame(nil, wsproto.OpPong, payload))
	case wsproto.OpClose:
		_, _ = h.nc.Write(wsproto.AppendClose(nil, 1000, ""))
		_ = h.nc.Close()
	}
}

// join adds nc to room and returns the room's size and whether nc is new
// there.
func (s *Server) join(room string, nc *nbio.Conn) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	members := s.rooms[room]
	if members == nil {
		members = make(map[*nbio.Conn]struct{})
		s.rooms[room] = members
	}
	_, in := members[nc]
	members[nc] = struct{}{}
	return len(members), !in
}

// closed takes a connection out of its rooms.
func (s *Server) closed(nc *nbio.Conn, _ error) {
	c, _ := nc.Session().(*conn)
	if c == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, room := range c.rooms {
		members := s.rooms[room]
		delete(members, nc)
		if len(members) == 0 {
			delete(s.rooms, room)
		}
	}
}

// Rooms returns how many rooms have members.
func (s *Server) Rooms() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}
