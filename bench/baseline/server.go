package baseline

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roomloop/roomloop/frame"
)

// Options configures a Server; a nil *Options or zero fields mean the
// defaults given on each field.
type Options struct {
	Path             string        // upgrade path; default "/ws"
	BufferSize       int           // gorilla read and write buffer size; default 1024
	SendQueue        int           // send channel capacity; default 256
	MaxMessageSize   int64         // read limit; default 64 KiB
	MaxMembersListed int           // members listed in $joined; default 100
	PingInterval     time.Duration // server ping interval; default 25s
	PingTimeout      time.Duration // read deadline; default 60s
	// Compression turns gorilla's permessage-deflate on
	// (Upgrader.EnableCompression: no context takeover) and sends every
	// frame as a websocket.PreparedMessage, gorilla's compress-once: a
	// broadcast is prepared once and its compressed frame is shared by
	// every member that negotiated compression. A shared frame cannot
	// carry a per-connection seq, so in this mode the server numbers no
	// frames. Default false: frames are numbered, written one by one with
	// WriteMessage, and an offer of compression is declined.
	Compression bool
}

// withDefaults returns a copy of o with defaults filled in.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Path == "" {
		c.Path = "/ws"
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 1024
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 256
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 64 << 10
	}
	if c.MaxMembersListed <= 0 {
		c.MaxMembersListed = 100
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 60 * time.Second
	}
	return c
}

// Server is the goroutine-model room server. Its methods are safe for
// concurrent use.
type Server struct {
	opts     Options
	hub      *hub
	upgrader websocket.Upgrader
	http     *http.Server
	ln       net.Listener
	wg       sync.WaitGroup // the pumps of every client
	writes   atomic.Uint64  // data frames written, each in its own write
}

// Writes returns how many data frames the write goroutines have written;
// each WriteMessage is one socket write, so it also counts the writes.
func (s *Server) Writes() uint64 { return s.writes.Load() }

// New returns a Server with opts (nil: defaults); Start runs it.
func New(opts *Options) *Server {
	s := &Server{opts: opts.withDefaults(), hub: newHub()}
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:    s.opts.BufferSize,
		WriteBufferSize:   s.opts.BufferSize,
		Subprotocols:      []string{"roomloop.json"},
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: s.opts.Compression,
	}
	mux := http.NewServeMux()
	mux.Handle(s.opts.Path, s)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return s
}

// Start listens on addr and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	go func() { _ = s.http.Serve(ln) }()
	return nil
}

// Addr returns the listening address (nil before Start).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// ServeHTTP upgrades a request, sends $welcome and starts the client's
// read and write goroutines.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{
		s: s, id: newSessionID(), conn: conn,
		done:  make(chan struct{}),
		rooms: make(map[string]struct{}),
	}
	if s.opts.Compression {
		c.sendPM = make(chan *websocket.PreparedMessage, s.opts.SendQueue)
	} else {
		c.send = make(chan []byte, s.opts.SendQueue)
	}
	welcome := controlBody("$welcome", "", "", frame.WelcomePayload{ // resumption is not offered
		Session:            c.id,
		HeartbeatMS:        s.opts.PingInterval.Milliseconds(),
		HeartbeatTimeoutMS: s.opts.PingTimeout.Milliseconds(),
	})
	_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
	if err := conn.WriteMessage(websocket.TextMessage, appendMessage(nil, 0, welcome)); err != nil {
		_ = conn.Close()
		return
	}
	if !s.hub.register(c, &s.wg) {
		_ = conn.Close()
		return
	}
	go c.readPump()
	go c.writePump()
}

// prepare returns body as a whole message without a seq, prepared for
// every connection (Options.Compression); nil when the server numbers
// its frames and writes them one by one.
func (s *Server) prepare(body []byte) *websocket.PreparedMessage {
	if !s.opts.Compression {
		return nil
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, appendMessage(nil, 0, body))
	if err != nil {
		panic("baseline: prepare: " + err.Error()) // writing to memory fails only on a bug
	}
	return pm
}

// Close stops accepting, drops every client and waits for their
// goroutines to end.
func (s *Server) Close() error {
	err := s.http.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	for _, c := range s.hub.closeAll() {
		c.drop()
	}
	s.wg.Wait()
	return err
}
