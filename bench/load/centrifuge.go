package load

import (
	"bytes"
	"errors"
	"strconv"
	"sync"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// This file is the adapter for centrifuge's client protocol (the JSON
// format of github.com/centrifugal/protocol, version 2), which
// Config.Centrifuge selects. The scenarios keep speaking roomloop's
// messages; the adapter translates them both ways:
//
//	after the upgrade            → {"id":1,"connect":{}}
//	connect reply                → $welcome (session: the client id)
//	$join room                   → subscribe {"channel":room}
//	subscribe reply              → $joined room
//	$ping id, payload            → rpc {"method":"ping","data":payload}
//	rpc reply                    → $pong id
//	event with a room, payload   → publish {"channel":room,"data":{"event","room","from","payload"}}
//	publication push             → the published message, unless this client sent it
//	server ping {}               → pong {}
//
// A frame may carry several replies, one per line. Centrifuge sends a
// publication to its publisher too (roomloop does not), so the adapter
// drops the pushes whose "from" is this client's own id. Centrifuge's
// pushes carry no sequence number (that needs history and recovery,
// which the comparator leaves off), so the adapter numbers each
// delivered message itself: the seq check cannot see gaps, and a lost
// delivery shows instead as a scenario's wait for deliveries failing.

// centrifugeSubprotocol is the WebSocket subprotocol of centrifuge's JSON
// format.
const centrifugeSubprotocol = "centrifuge-json"

// connectID is the id of the connect command each connection starts with.
const connectID = 1

// subprotocol returns the WebSocket subprotocol the clients ask for.
func (cfg *Config) subprotocol() string {
	if cfg.Centrifuge {
		return centrifugeSubprotocol
	}
	return "roomloop.json"
}

// newConn returns a connection of p on socket nc, its seq check
// continuing after lastSeq.
func (p *Pool) newConn(nc sock, index int, lastSeq uint64) *Conn {
	c := &Conn{pool: p, nc: nc, Index: index, lastSeq: lastSeq}
	c.seen.Store(lastSeq)
	if p.cfg.Centrifuge {
		c.cf = new(cfState)
	}
	return c
}

// started sends what a client sends first on a new connection: nothing
// for roomloop (its $welcome comes unasked), the connect command for
// centrifuge.
func (c *Conn) started() error {
	if c.cf != nil {
		return c.cfConnect()
	}
	return nil
}

// cfState is a connection's centrifuge adapter state: its command ids
// and what the replies to them stand for.
type cfState struct {
	mu      sync.Mutex
	next    uint32            // the last command id used
	pending map[uint32]string // subscribe: the room; rpc: the $ping's id
}

// newCommand returns a new command id, remembering what for ("" for a
// reply that needs nothing).
func (s *cfState) newCommand(what string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next < connectID {
		s.next = connectID
	}
	s.next++
	if what != "" {
		if s.pending == nil {
			s.pending = make(map[uint32]string)
		}
		s.pending[s.next] = what
	}
	return s.next
}

// take returns and forgets what command id was for.
func (s *cfState) take(id uint32) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	what := s.pending[id]
	delete(s.pending, id)
	return what
}

// cfConnect sends the connect command that opens a centrifuge session.
func (c *Conn) cfConnect() error {
	return c.write(wsproto.OpText, []byte(`{"id":`+strconv.Itoa(connectID)+`,"connect":{}}`))
}

// errNotTranslated is Send's error for a message the adapter cannot
// express in centrifuge's protocol.
var errNotTranslated = errors.New("load: centrifuge adapter: message not translatable (want $join, $ping, or an event with a room)")

// cfSend translates one roomloop client message into a centrifuge
// command and sends it.
func (c *Conn) cfSend(msg []byte) error {
	var m Msg
	if !parseMsg(msg, &m) {
		return errNotTranslated
	}
	b := make([]byte, 0, len(msg)+64)
	switch {
	case string(m.Event) == "$join" && len(m.Room) > 0:
		id := c.cf.newCommand(string(m.Room))
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, uint64(id), 10)
		b = append(b, `,"subscribe":{"channel":"`...)
		b = append(b, m.Room...)
		b = append(b, `"}}`...)
	case string(m.Event) == "$ping":
		id := c.cf.newCommand("i" + string(m.ID)) // "i": never "" (see take)
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, uint64(id), 10)
		b = append(b, `,"rpc":{"method":"ping","data":`...)
		if m.Payload == nil {
			b = append(b, "{}"...)
		} else {
			b = append(b, m.Payload...)
		}
		b = append(b, `}}`...)
	case len(m.Room) > 0 && m.Event[0] != '$':
		id := c.cf.newCommand("")
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, uint64(id), 10)
		b = append(b, `,"publish":{"channel":"`...)
		b = append(b, m.Room...)
		b = append(b, `","data":{"event":"`...)
		b = append(b, m.Event...)
		b = append(b, `","room":"`...)
		b = append(b, m.Room...)
		b = append(b, `","from":"`...)
		b = append(b, c.Session()...)
		b = append(b, '"')
		if m.Payload != nil {
			b = append(b, `,"payload":`...)
			b = append(b, m.Payload...)
		}
		b = append(b, `}}}`...)
	default:
		return errNotTranslated
	}
	return c.write(wsproto.OpText, b)
}

// cfMessage handles one centrifuge text message: one reply per line.
func (c *Conn) cfMessage(b []byte) {
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		b = rest
		if len(line) > 0 && !c.cfReply(line) {
			c.pool.stats.Malformed.Add(1)
		}
	}
}

// cfReply handles one reply, translated into what a roomloop server
// would have sent; it reports false for a reply it cannot read, or an
// error reply.
func (c *Conn) cfReply(r []byte) bool {
	if string(r) == "{}" { // the server's ping
		c.pool.stats.Pings.Add(1)
		_ = c.write(wsproto.OpText, r)
		return true
	}
	if data, ok := pubData(r); ok { // the common case, read in one pass
		return c.cfPublication(data)
	}
	var id uint32
	var kind, body []byte
	ok := members(r, func(key, val []byte) bool {
		if string(key) == "id" {
			v, err := strconv.ParseUint(string(val), 10, 32)
			id = uint32(v)
			return err == nil
		}
		kind, body = key, val
		return true
	})
	if !ok || kind == nil {
		return false
	}
	switch string(kind) {
	case "connect":
		client := Str(body, `"client":`)
		c.session.Store(&client)
		c.pool.stats.Received.Add(1)
		c.handle(&Msg{Event: []byte("$welcome"), Payload: []byte(`{"session":"` + client + `"}`), Raw: r})
	case "subscribe":
		room := c.cf.take(id)
		c.cfDeliver(&Msg{Event: []byte("$joined"), Room: []byte(room), Raw: r})
	case "rpc":
		ping := c.cf.take(id)
		if ping == "" {
			return false
		}
		c.cfDeliver(&Msg{Event: []byte("$pong"), ID: []byte(ping[1:]), Raw: r})
	case "publish":
	case "push":
		return c.cfPush(body)
	default: // "error", or a reply the scenarios never ask for
		return false
	}
	return true
}

// cfPush handles a push: a publication is delivered as the message it
// carries, unless this connection published it; other pushes are
// ignored.
func (c *Conn) cfPush(p []byte) bool {
	var data []byte
	ok := members(p, func(key, val []byte) bool {
		if string(key) != "pub" {
			return true
		}
		return members(val, func(key, val []byte) bool {
			if string(key) == "data" {
				data = val
			}
			return true
		})
	})
	if !ok {
		return false
	}
	if data == nil {
		return true
	}
	return c.cfPublication(data)
}

// pushPrefix and pubPrefix are how a publication push without anything
// but its data begins: {"push":{"channel":"<channel>","pub":{"data":…
var (
	pushPrefix = []byte(`{"push":{"channel":`)
	pubPrefix  = []byte(`,"pub":{"data":`)
)

// pubData returns the data of push r when r is a publication with
// nothing but its channel and data (as the comparator sends them), in
// one pass over r; ok is false for any other reply.
func pubData(r []byte) (data []byte, ok bool) {
	if !bytes.HasPrefix(r, pushPrefix) {
		return nil, false
	}
	_, rest, ok := parseString(r[len(pushPrefix):])
	if !ok || !bytes.HasPrefix(rest, pubPrefix) {
		return nil, false
	}
	rest = rest[len(pubPrefix):]
	n := valueLen(rest)
	if n <= 0 || string(rest[n:]) != "}}}" {
		return nil, false
	}
	return rest[:n], true
}

// cfPublication delivers the message a publication carries, unless this
// connection published it.
func (c *Conn) cfPublication(data []byte) bool {
	var m Msg
	if !parseMsg(data, &m) {
		return false
	}
	if s := c.Session(); len(m.From) > 0 && string(m.From) == s {
		return true // this client's own publication
	}
	c.cfDeliver(&m)
	return true
}

// cfDeliver passes m on as the next message in sequence.
func (c *Conn) cfDeliver(m *Msg) {
	c.pool.stats.Received.Add(1)
	m.Seq = c.lastSeq + 1
	c.handle(m)
}

// members calls fn with each member of the JSON object obj (written
// without whitespace between tokens), its key unquoted and its value
// raw, and reports whether obj was well formed and every fn returned
// true.
func members(obj []byte, fn func(key, val []byte) bool) bool {
	if len(obj) < 2 || obj[0] != '{' || obj[len(obj)-1] != '}' {
		return false
	}
	p := obj[1 : len(obj)-1]
	for len(p) > 0 {
		key, rest, ok := parseString(p)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return false
		}
		p = rest[1:]
		n := valueLen(p)
		if n <= 0 || !fn(key, p[:n]) {
			return false
		}
		p = p[n:]
		if len(p) > 0 {
			if p[0] != ',' {
				return false
			}
			p = p[1:]
		}
	}
	return true
}

// valueLen returns the length of the JSON value at the start of p (up to
// the ',' that ends a member), or -1 if it is cut short.
func valueLen(p []byte) int {
	depth := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '"':
			_, rest, ok := parseString(p[i:])
			if !ok {
				return -1
			}
			i = len(p) - len(rest) - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				return -1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
		if depth == 0 && (p[i] == '}' || p[i] == ']' || p[i] == '"') {
			return i + 1
		}
	}
	if depth != 0 {
		return -1
	}
	return len(p)
}
