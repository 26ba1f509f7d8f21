package wsrooms_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/wstest"
	"github.com/roomloop/roomloop/wire/wspulse"
	"github.com/roomloop/roomloop/wire/wsrooms"
)

// wait is how long a test waits for something it expects.
const wait = 10 * time.Second

// startRooms runs a server on 127.0.0.1:0 with the wsrooms wire on
// /wsrooms and the wspulse wire on /wspulse, and shuts it down when the
// test ends. It returns the server and its address.
func startRooms(t *testing.T, opts *api.Options) (*api.Server, string) {
	t.Helper()
	if opts == nil {
		opts = &api.Options{}
	}
	opts.Endpoints = append(opts.Endpoints,
		api.Endpoint{Path: "/wsrooms", Wire: wsrooms.New(wsrooms.Options{})},
		api.Endpoint{Path: "/wspulse", Wire: wspulse.New(wspulse.Options{})})
	if opts.RateLimits == (api.RateLimits{}) {
		opts.RateLimits = api.NoRateLimits()
	}
	if opts.PresenceInterval == 0 {
		opts.PresenceInterval = time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&wstest.LogBuffer{}, nil))
	}
	srv := api.New(opts)
	require.NoError(t, srv.Start("127.0.0.1:0"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	return srv, srv.Addr().String()
}

// emitted is one event a room of the client emits, as wsrooms.js
// emits it to the application.
type emitted struct {
	room, name string
	payload    string // new_member/member_left: the id; others: the bytes
	src        string
}

// roomState is what wsrooms.js keeps per room.
type roomState struct {
	open    bool
	id      string
	members []string
}

// jsClient plays wsrooms.js: one socket, one map of rooms; incoming
// frames change them exactly as the script does, and what it would emit
// is reported on events. A frame for a room it does not have is dropped
// (console.warn), one it cannot parse is lost (the script throws).
type jsClient struct {
	t  *testing.T
	ws *websocket.Conn

	events  chan emitted
	dropped chan string // frames dropped: the reason
	closed  chan int    // the close code the socket ended with (1006: none)

	mu    sync.Mutex
	rooms map[string]*roomState
	done  chan struct{}
}

// dialJS opens a wsrooms.js client to addr's /wsrooms and waits for
// root to open.
func dialJS(t *testing.T, addr string) *jsClient {
	t.Helper()
	ws, status, reason := wstest.Dial(t, "ws://"+addr+"/wsrooms", nil)
	require.Equal(t, 101, status, reason)
	c := &jsClient{t: t, ws: ws, events: make(chan emitted, 1024), dropped: make(chan string, 64), closed: make(chan int, 1),
		rooms: map[string]*roomState{"root": {}}, done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { _ = ws.Close(); <-c.done })
	require.Equal(t, emitted{room: "root", name: "open"}, c.next())
	return c
}

// read is the socket's onmessage, until the socket closes; then every
// room emits close.
func (c *jsClient) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			code := 1006
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			c.closed <- code
			c.mu.Lock()
			for name := range c.rooms {
				c.events <- emitted{room: name, name: "close"}
			}
			c.mu.Unlock()
			return
		}
		c.handle(data)
	}
}

// parse reads the five fields as wsrooms.js does; a truncated frame
// throws.
func parse(data []byte) ([5]string, error) {
	var f [5]string
	for i := range f {
		if len(data) < 4 {
			return f, errors.New("truncated")
		}
		n := binary.BigEndian.Uint32(data)
		data = data[4:]
		if uint64(n) > uint64(len(data)) {
			return f, errors.New("truncated")
		}
		f[i], data = string(data[:n]), data[n:]
	}
	return f, nil
}

// handle is wsrooms.js's handling of one frame.
func (c *jsClient) handle(data []byte) {
	f, err := parse(data)
	if err != nil {
		c.dropped <- "parse: " + err.Error()
		return
	}
	room, event, _, src, payload := f[0], f[1], f[2], f[3], f[4]
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rooms[room]
	if r == nil {
		c.dropped <- "no room " + room + " for " + event
		return
	}
	switch event {
	case "join_ack":
		var members []string
		if json.Unmarshal([]byte(payload), &members) != nil || members == nil {
			c.dropped <- "join_ack payload not an array: " + payload
			return
		}
		r.id, r.members, r.open = src, members, true
		c.events <- emitted{room: room, name: "open"}
	case "new_member":
		if !slices.Contains(r.members, payload) {
			r.members = append(r.members, payload)
			c.events <- emitted{room: room, name: "new_member", payload: payload}
		}
	case "member_left":
		if i := slices.Index(r.members, payload); i >= 0 {
			r.members = slices.Delete(r.members, i, i+1)
			c.events <- emitted{room: room, name: "member_left", payload: payload}
		}
	case "leave_ack":
		c.events <- emitted{room: room, name: "close"}
		delete(c.rooms, room)
	default:
		c.events <- emitted{room: room, name: event, payload: payload, src: src}
	}
}

// next returns the next event emitted, failing after wait.
func (c *jsClient) next() emitted {
	c.t.Helper()
	select {
	case e := <-c.events:
		return e
	case d := <-c.dropped:
		c.t.Fatalf("frame dropped: %s", d)
	case <-time.After(wait):
		c.t.Fatalf("no event within %s", wait)
	}
	return emitted{}
}

// room returns a copy of a room's state.
func (c *jsClient) room(name string) (roomState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.rooms[name]
	if !ok {
		return roomState{}, false
	}
	return roomState{open: r.open, id: r.id, members: slices.Clone(r.members)}, true
}

// id is root.id().
func (c *jsClient) id() string {
	r, _ := c.room("root")
	return r.id
}

// errRangeError is the RangeError wsrooms.js throws on a non-ASCII
// string: it sizes by UTF-16 units and writes UTF-8.
var errRangeError = errors.New("RangeError")

// encode is wsrooms.js's message builder: strings are measured in
// UTF-16 units but written as UTF-8, so anything non-ASCII throws.
func encode(fields ...any) ([]byte, error) {
	var out []byte
	for _, f := range fields {
		var b []byte
		switch v := f.(type) {
		case string:
			if len(utf16.Encode([]rune(v))) != len(v) {
				return nil, errRangeError
			}
			b = []byte(v)
		case []byte: // a Uint8Array
			b = v
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out, nil
}

// write sends one binary message.
func (c *jsClient) write(msg []byte) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteMessage(websocket.BinaryMessage, msg))
}

// join is root.join(name): the room is created, closed, and join sent.
func (c *jsClient) join(name string) {
	c.t.Helper()
	c.mu.Lock()
	c.rooms[name] = &roomState{}
	c.mu.Unlock()
	msg, err := encode(name, "join", "", "", "")
	require.NoError(c.t, err)
	c.write(msg)
}

// send is room.send(event, payload, dst): {room, event, dst, own id,
// payload}; the room must be open.
func (c *jsClient) send(room, event string, payload any, dst string) error {
	c.t.Helper()
	r, ok := c.room(room)
	require.True(c.t, ok && r.open, "room %s is not open", room)
	msg, err := encode(room, event, dst, r.id, payload)
	if err != nil {
		return err
	}
	c.write(msg)
	return nil
}

// leave is room.leave(): {room, leave, id, id, id}.
func (c *jsClient) leave(room string) {
	c.t.Helper()
	r, ok := c.room(room)
	require.True(c.t, ok && r.open, "room %s is not open", room)
	msg, err := encode(room, "leave", r.id, r.id, r.id)
	require.NoError(c.t, err)
	c.write(msg)
}

// kill drops the TCP connection without a close frame, as a killed
// process does.
func (c *jsClient) kill() {
	_ = c.ws.NetConn().Close()
	<-c.done
}

// marker sends a direct message to itself and returns the events
// emitted before it arrives: everything the server sent before is read
// by then.
func (c *jsClient) marker(name string) []emitted {
	c.t.Helper()
	require.NoError(c.t, c.send("root", name, "", c.id()))
	var before []emitted
	for {
		e := c.next()
		if e.name == name {
			return before
		}
		before = append(before, e)
	}
}
