// Package api is roomloop's embeddable server: create a Server with New,
// register handlers and middleware, and serve it in one of three ways:
// Start(addr) on a listener of its own (optionally with TLS and an HTTP
// handler for other requests on the same port), Serve(listener), or as an
// http.Handler mounted on any net/http server or router (ServeHTTP).
// Shutdown drains. It speaks the roomloop protocol (docs/protocol.md) over
// WebSockets served by an epoll event loop, with rooms in one order per
// room, presence, direct messages, exact session resumption and bounded
// per-client queues. How it is built: docs/architecture.md.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/loop"
	"github.com/roomloop/roomloop/resume"
	"github.com/roomloop/roomloop/rooms"
)

// Server is a roomloop server. Its methods are safe for concurrent use;
// Handle and Use may be called at any time and apply to frames handled
// afterwards.
type Server struct {
	opts  Options
	log   *slog.Logger
	eng   *loop.Engine
	out   *resume.Streams
	rooms *rooms.Table[member]
	sess  *resume.Registry[*Conn]
	users userIndex // sessions by Identity.User
	// endpoints are the other wires (Options.Endpoints).
	endpoints endpoints
	// presence gathers each room's joins and leaves for its next diff.
	presence presence
	// expireStop ends the expiry goroutine, which closes expireDone.
	expireStop, expireDone chan struct{}
	// failures throttles addresses with many failed upgrades.
	failures failures
	// counters are the server's running totals (see Stats).
	counters counters
	// hist holds the histograms; nil without Options.Histograms.
	hist *histograms
	// cl is the server's part of a cluster; nil on one node.
	cl *cluster

	handlers atomic.Pointer[handlerSet]
	hmu      sync.Mutex // serializes Handle and Use

	// ctx is the parent of every session's context; it ends when Shutdown
	// begins.
	ctx    context.Context
	cancel context.CancelFunc

	lifeMu   sync.Mutex // guards running and stopped
	running  bool       // the expiry goroutine runs
	attached bool       // Options.Broker is attached
	stopped  bool       // Shutdown was called
}

// New returns a server configured by opts (nil: defaults). It panics if
// opts fails Validate: a configuration mistake is a programming error, as
// with regexp.MustCompile; call opts.Validate() first to handle it.
func New(opts *Options) *Server {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	s := &Server{opts: opts.withDefaults()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.log = s.opts.Logger
	s.endpoints = buildEndpoints(s.opts.Endpoints)
	s.rooms = rooms.New[member](rooms.Options{MaxRooms: max(s.opts.MaxRooms, 0)})
	s.sess = resume.NewRegistry(func(c *Conn) string { return c.id }, func(c *Conn) string { return c.token })
	s.expireStop, s.expireDone = make(chan struct{}), make(chan struct{})
	s.failures.rate = s.opts.RateLimits.FailuresPerIP
	s.handlers.Store(s.buildHandlers(nil, nil))
	if s.opts.Histograms {
		s.hist = &histograms{}
	}
	if s.opts.Broker != nil {
		s.cl = newCluster(s, s.opts.Broker)
	}
	s.out = resume.NewStreams(s.opts.streamConfig())
	s.eng = loop.New(s.opts.loopConfig(), (*transport)(s))
	return s
}

// Start listens on addr ("127.0.0.1:0" picks a port; see Addr) and serves
// in the background until Shutdown. Requests there that are not WebSocket
// upgrades at Options.Path go to Options.HTTPHandler, if set. Start may be
// called again to listen on more addresses.
func (s *Server) Start(addr string) error {
	if err := s.begin(); err != nil {
		return err
	}
	return loopErr(s.eng.Start(addr))
}

// Serve accepts connections on ln (a TCP listener) and serves them as
// Start does, until Shutdown; it then returns ErrServerClosed. It closes
// ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.begin(); err != nil {
		_ = ln.Close()
		return err
	}
	return loopErr(s.eng.Serve(ln))
}

// ServeHTTP makes the Server an http.Handler, to mount on a net/http
// server or any router (chi, gorilla/mux, gin) at the path of your choice:
// it takes a WebSocket upgrade request over from the HTTP server (the
// connection is hijacked and handed to the event loop, where it costs what
// any roomloop connection costs, with no goroutine of its own) and
// answers anything else with an HTTP error and a plain-text reason.
// Options.Path is not consulted: the router decides.
//
// The HTTP server must hand over plain TCP connections. A request whose
// TLS the HTTP server terminated is refused with 500: serve TLS with
// Options.TLSConfig, or terminate it in a proxy. After Shutdown every
// request gets 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = s.begin() // after Shutdown the engine answers 503
	s.eng.ServeHTTP(w, r)
}

// begin starts the session expirer, once, unless the server has shut down.
func (s *Server) begin() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	switch {
	case s.stopped:
		return ErrServerClosed
	case !s.running:
		if s.cl != nil && !s.attached {
			if err := s.cl.b.Attach(s.cl); err != nil {
				return err
			}
			s.attached = true
		}
		s.running = true
		go s.expire()
	}
	return nil
}

// loopErr maps the engine's errors to the package's.
func loopErr(err error) error {
	if errors.Is(err, loop.ErrClosed) {
		return ErrServerClosed
	}
	return err
}

// Addr returns the address of the first listener (nil before Start or
// Serve).
func (s *Server) Addr() net.Addr { return s.eng.Addr() }

// Shutdown drains the server: no new connections; every client gets its
// queued frames and then a close frame with 1001 (spread over
// Options.DrainSpread when set); once all have closed
// (or ctx ends, which drops the rest and returns ctx's error) every session
// ends (OnDisconnect runs for each) and the server's goroutines are gone.
// With a Broker and HandoverWait, the drained sessions are first kept for
// their clients to resume them on other nodes (docs/cluster.md); on one
// node sessions do not survive the process.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancel()
	err := s.eng.Shutdown(ctx)
	if s.cl != nil && s.opts.HandoverWait > 0 {
		s.cl.awaitHandovers(ctx, s.opts.HandoverWait)
	}
	s.lifeMu.Lock()
	running := s.running
	s.running, s.stopped = false, true
	s.lifeMu.Unlock()
	if running {
		close(s.expireStop)
		<-s.expireDone
	}
	s.endAll(CloseInfo{Code: CloseGoingAway, Reason: "server shut down", ServerClosed: true})
	s.presence.close()
	s.lifeMu.Lock()
	attached := s.attached
	s.attached = false
	s.lifeMu.Unlock()
	if attached {
		s.cl.b.Detach()
	}
	return err
}

// Conn returns the connected session with id.
func (s *Server) Conn(id string) (*Conn, bool) { return s.sess.Get(id) }

// Send queues f for the session id (see Conn.Send).
func (s *Server) Send(id string, f Frame) error {
	c, ok := s.sess.Get(id)
	if !ok {
		if s.cl != nil {
			if err := checkFrame(&f); err != nil {
				return err
			}
			return s.cl.request(opSend, id, "", &f)
		}
		return ErrNoSuchSession
	}
	return c.Send(f)
}

// Broadcast sends f to every member of room except the sessions listed in
// exclude, encoding it once, and returns how many clients it was queued
// for. f.Room is set to room when empty. A frame that is not fit to send (no event, or a payload that
// disagrees with its Kind) is refused with ErrInvalidFrame. Frames queued
// into one room, by any mix of callers, reach all its members in one
// order. With a Broker the frame reaches the members on every node, and
// the count is the room's member count across the cluster, less
// exclude, when the frame was published (it is delivered afterwards;
// a node that holds no member of the room asks one that does, a request
// more); an unreachable cluster is an *Error with CodeInternal.
func (s *Server) Broadcast(room string, f Frame, exclude ...string) (int, error) {
	if err := checkFrame(&f); err != nil {
		return 0, err
	}
	if f.Room == "" {
		f.Room = room
	}
	if s.cl != nil {
		if err := s.cl.publishFrame(room, "", &f, false, exclude); err != nil {
			return 0, err
		}
		_, n := s.cl.members(room, 0)
		return max(n-len(exclude), 0), nil
	}
	return s.fanOut(room, frame.NewOutgoing(f), func(c *Conn) bool {
		for _, id := range exclude {
			if c.id == id {
				return true
			}
		}
		return false
	}), nil
}

// Join puts session id into room as if it had sent $join (without
// CanJoin): it gets $joined and the room's next $presence diff lists it.
func (s *Server) Join(id, room string) error {
	c, ok := s.sess.Get(id)
	if !ok {
		switch {
		case s.cl != nil && !s.validRoom(room):
			return ErrInvalidRoom
		case s.cl != nil:
			return s.cl.request(opJoin, id, room, nil)
		}
		return ErrNoSuchSession
	}
	return s.join(c, room, "")
}

// Leave removes session id from room: it gets $left with reason
// "removed" and the room's next $presence diff lists it as gone.
func (s *Server) Leave(id, room string) error {
	c, ok := s.sess.Get(id)
	if !ok {
		if s.cl != nil {
			return s.cl.request(opLeave, id, room, nil)
		}
		return ErrNoSuchSession
	}
	return s.leave(c, room, "", "removed")
}

// Kick ends session id at once, suspended or not, with close code 4001
// and reason: it cannot be resumed.
func (s *Server) Kick(id, reason string) error {
	c, ok := s.sess.Get(id)
	if !ok {
		if s.cl != nil {
			return s.cl.request(opKick, id, reason, nil)
		}
		return ErrNoSuchSession
	}
	c.Kick(reason)
	return nil
}

// Members returns up to max session ids in room (max < 0: all) and the
// room's member count.
func (s *Server) Members(room string, max int) ([]string, int) {
	if s.cl != nil {
		return s.cl.members(room, max)
	}
	buf := getMembers()
	defer putMembers(buf)
	members, n := s.rooms.AppendMembers((*buf)[:0], room, max)
	*buf = members
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.c.id
	}
	return ids, n
}

// Rooms returns the names of all rooms.
func (s *Server) Rooms() []string { return s.rooms.AppendRooms(nil) }

// Stats is a snapshot of the server's load. The counters (uint64) are
// totals since New; each is one atomic add where its event happens, so
// reading them (say, for Prometheus at scrape time) costs the hot path
// nothing more.
type Stats struct {
	Connections int   // open TCP connections, upgraded or not
	Sessions    int   // live sessions, connected or suspended
	Suspended   int   // sessions waiting for a resume
	Rooms       int   // rooms with at least one member
	QueuedBytes int64 // frame bytes held in queues and replay buffers
	// Writes counts the socket writes that carried frames since Start (one
	// buffer per connection per flush), FramesWritten the frames in them:
	// FramesWritten/Writes is how many frames a write coalesces.
	Writes, FramesWritten uint64
	// BytesWritten counts every byte written to clients' sockets (frames,
	// pings, close frames; not upgrade responses); FramesRead the client
	// messages handed to the server; BytesRead the bytes read from
	// clients' sockets (upgrade requests and frame headers included; on a
	// connection taken over by ServeHTTP, from the takeover on).
	BytesWritten, FramesRead, BytesRead uint64
	// InboxPauses counts the times the server stopped reading a client
	// because 256 of its messages waited to be handled (it reads again
	// once half are); InboxStalls the clients closed with 1008 because
	// none was handled for InboxTimeout.
	InboxPauses, InboxStalls uint64
	// Accepted counts connections opened since New by the way they came in.
	Accepted AcceptedStats
	// UpgradeRefusals counts refused upgrades by HTTP status (0: outside
	// 400..599); nil when none.
	UpgradeRefusals map[int]uint64
	// SlowConsumerCloses counts connections closed with 4002 for a full
	// queue; FramesDropped the frames the Drop policy dropped.
	SlowConsumerCloses, FramesDropped uint64
	// Resumes counts the resume requests by outcome.
	Resumes ResumeStats
	// RateLimited counts the frames refused by a rate limit, by bucket.
	RateLimited RateLimitStats
	// PresenceFrames counts the $presence diffs queued for clients.
	PresenceFrames uint64
	// HandlerSeconds is how long client frames took to handle (their
	// handler, or the default route), and FanOut how many recipients each
	// frame sent to a room was queued for (Broadcast, a room frame's
	// default route). Both are empty without Options.Histograms.
	HandlerSeconds, FanOut Histogram
}

// AcceptedStats counts connections by the way they came in.
type AcceptedStats struct {
	Listener uint64 // a listener of Start or Serve, plain TCP
	TLS      uint64 // a listener with Options.TLSConfig
	HTTP     uint64 // taken over from an HTTP server by ServeHTTP
}

// ResumeStats counts resume requests: honoured, and refused by reason (the
// $welcome's resume_refused: unknown, expired, gap, invalid).
type ResumeStats struct {
	Resumed                        uint64
	Unknown, Expired, Gap, Invalid uint64
}

// RateLimitStats counts frames refused by RateLimits, by bucket: Join
// ($join), Publish (room and server frames), Direct (direct messages) and
// Fanout (a room frame over FanoutBytes).
type RateLimitStats struct {
	Join, Publish, Direct, Fanout uint64
}

// counters are the server's own totals; the engine and the streams keep
// theirs.
type counters struct {
	resumed                        atomic.Uint64
	unknown, expired, gap, invalid atomic.Uint64
	limited                        [nBuckets]atomic.Uint64
}

// refuseResume counts a refused resume by its reason.
func (c *counters) refuseResume(reason string) {
	switch reason {
	case resume.ReasonUnknown:
		c.unknown.Add(1)
	case resume.ReasonExpired:
		c.expired.Add(1)
	case resume.ReasonGap:
		c.gap.Add(1)
	default:
		c.invalid.Add(1)
	}
}

// Stats returns current counts.
func (s *Server) Stats() Stats {
	st := Stats{
		Connections: s.eng.Conns(),
		Sessions:    s.sess.Len(),
		Suspended:   s.sess.Suspended(),
		Rooms:       s.rooms.Len(),
		QueuedBytes: s.out.QueuedBytes(),
	}
	ec := s.eng.Counters()
	st.Writes, st.FramesWritten = ec.Writes, ec.FramesWritten
	st.BytesWritten, st.FramesRead, st.BytesRead = ec.BytesWritten, ec.FramesRead, ec.BytesRead
	st.InboxPauses, st.InboxStalls = ec.Pauses, ec.Stalls
	st.Accepted = AcceptedStats{Listener: ec.Accepted[loop.WayListener], TLS: ec.Accepted[loop.WayTLS], HTTP: ec.Accepted[loop.WayHTTP]}
	st.UpgradeRefusals = ec.Refusals
	st.SlowConsumerCloses, st.FramesDropped = s.out.SlowConsumers()
	st.PresenceFrames = s.presence.frames.Load()
	c := &s.counters
	st.Resumes = ResumeStats{Resumed: c.resumed.Load(), Unknown: c.unknown.Load(),
		Expired: c.expired.Load(), Gap: c.gap.Load(), Invalid: c.invalid.Load()}
	st.RateLimited = RateLimitStats{Join: c.limited[bucketJoin].Load(), Publish: c.limited[bucketPublish].Load(),
		Direct: c.limited[bucketDirect].Load(), Fanout: c.limited[bucketFanout].Load()}
	if s.hist != nil {
		st.HandlerSeconds = s.hist.handler.snapshot(HandlerBounds, 1e-9)
		st.FanOut = s.hist.fanOut.snapshot(FanOutBounds, 1)
	}
	return st
}
