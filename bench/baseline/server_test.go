package baseline

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roomloop/roomloop/frame"
)

// dial connects a gorilla client and returns it with its session id.
func dial(t *testing.T, s *Server) (*websocket.Conn, string) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var w struct {
		Seq     uint64               `json:"seq"`
		Event   string               `json:"event"`
		Payload frame.WelcomePayload `json:"payload"`
	}
	read(t, c, &w)
	if w.Event != "$welcome" || w.Seq != 0 || !strings.HasPrefix(w.Payload.Session, "s-") {
		t.Fatalf("welcome = %+v", w)
	}
	return c, w.Payload.Session
}

// read reads one message into v.
func read(t *testing.T, c *websocket.Conn, v any) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(msg, v); err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
	return string(msg)
}

// send writes one text message.
func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// TestRoomsDirectPing covers the protocol subset the scenarios use.
func TestRoomsDirectPing(t *testing.T) {
	s := New(nil)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	a, _ := dial(t, s)
	b, bid := dial(t, s)
	var m map[string]any
	send(t, a, `{"event":"$join","room":"r","id":"j1"}`)
	if got := read(t, a, &m); got != `{"seq":1,"event":"$joined","room":"r","id":"j1","payload":{"count":1,"members":[`+`"`+m["payload"].(map[string]any)["members"].([]any)[0].(string)+`"],"truncated":false}}` {
		t.Fatalf("joined: %s", got)
	}
	send(t, b, `{"event":"$join","room":"r"}`)
	read(t, b, &m)
	send(t, a, `{"event":"chat","room":"r","payload":{"t":1}}`)
	var aid string
	if got := read(t, b, &m); !strings.HasPrefix(got, `{"seq":2,"event":"chat","room":"r","from":"s-`) || !strings.HasSuffix(got, `"payload":{"t":1}}`) {
		t.Fatalf("broadcast: %s", got)
	} else {
		aid = m["from"].(string)
	}
	send(t, b, `{"event":"dm","to":"`+aid+`","payload":[1]}`)
	if got := read(t, a, &m); got != `{"seq":2,"event":"dm","to":"`+aid+`","from":"`+bid+`","payload":[1]}` {
		t.Fatalf("direct: %s", got)
	}
	send(t, a, `{"event":"$ping","id":"p"}`)
	if got := read(t, a, &m); got != `{"seq":3,"event":"$pong","id":"p"}` {
		t.Fatalf("pong: %s", got)
	}
	send(t, a, `{"event":"chat","room":"other"}`)
	if got := read(t, a, &m); !strings.Contains(got, `"not_member"`) {
		t.Fatalf("not member: %s", got)
	}
}

// TestFullQueueDrops checks that a client that does not read is dropped
// once its send channel is full, and Close ends every goroutine.
func TestFullQueueDrops(t *testing.T) {
	s := New(&Options{SendQueue: 4})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	a, _ := dial(t, s)
	b, _ := dial(t, s)
	var m map[string]any
	send(t, a, `{"event":"$join","room":"r"}`)
	read(t, a, &m)
	send(t, b, `{"event":"$join","room":"r"}`)
	read(t, b, &m)
	big := `{"event":"x","room":"r","payload":"` + strings.Repeat("y", 60000) + `"}`
	deadline := time.Now().Add(10 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("slow client not dropped")
		}
		send(t, a, big)
		time.Sleep(time.Millisecond)
		s.hub.mu.RLock()
		n := len(s.hub.rooms["r"])
		s.hub.mu.RUnlock()
		if n < 2 {
			break
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
