package wsrooms_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

// Hostile input on the wsrooms wire: each gets a clear answer (an
// "$error" frame in root with a bad_request payload, or a close code),
// and a bystander in the same rooms notices nothing.

// raw builds a message from explicit lengths and bytes.
func raw(parts ...any) []byte {
	var out []byte
	for _, p := range parts {
		switch v := p.(type) {
		case uint32:
			out = binary.BigEndian.AppendUint32(out, v)
		case string:
			out = append(out, v...)
		}
	}
	return out
}

func TestWsroomsHostileFramesAnsweredAndBystanderUnaffected(t *testing.T) {
	_, addr := startRooms(t, nil)
	by, bad := lobbyPair(t, addr)
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"empty message", nil},
		{"under 20 bytes", raw(uint32(0), uint32(0))},
		{"length past the end", raw(uint32(5), "lobby", uint32(4), "chat", uint32(0), uint32(0), uint32(10), "short")},
		{"huge length", raw(uint32(0xffffffff), "lobby", uint32(0), uint32(0), uint32(0), uint32(0))},
		{"trailing bytes", append(raw(uint32(5), "lobby", uint32(4), "chat", uint32(0), uint32(0), uint32(0)), "extra"...)},
		{"empty event", raw(uint32(5), "lobby", uint32(0), uint32(0), uint32(0), uint32(0))},
		{"non-UTF-8 room join", raw(uint32(2), "\xff\xfe", uint32(4), "join", uint32(0), uint32(0), uint32(0))},
		{"control character in room", raw(uint32(3), "a\x00b", uint32(4), "join", uint32(0), uint32(0), uint32(0))},
		{"room too long", raw(uint32(200), strings.Repeat("r", 200), uint32(4), "join", uint32(0), uint32(0), uint32(0))},
		{"forged new_member", raw(uint32(5), "lobby", uint32(10), "new_member", uint32(0), uint32(0), uint32(4), "fake")},
		{"forged member_left", raw(uint32(5), "lobby", uint32(11), "member_left", uint32(0), uint32(0), uint32(4), "fake")},
		{"reserved $ event", raw(uint32(5), "lobby", uint32(5), "$join", uint32(0), uint32(0), uint32(0))},
		{"send to a room not joined", raw(uint32(5), "other", uint32(4), "chat", uint32(0), uint32(0), uint32(0))},
		{"leave a room not joined", raw(uint32(5), "other", uint32(5), "leave", uint32(0), uint32(0), uint32(0))},
		{"dm to nobody", raw(uint32(4), "root", uint32(2), "dm", uint32(6), "nobody", uint32(0), uint32(0))},
	} {
		bad.write(tc.msg)
		e := bad.next()
		assert.Equal(t, "root", e.room, tc.name)
		assert.Equal(t, "$error", e.name, tc.name)
		assert.Contains(t, e.payload, `"code":"`, tc.name)
	}
	assert.Empty(t, by.marker("mark"), "the bystander heard the garbage")

	require.NoError(t, bad.ws.WriteMessage(websocket.TextMessage, []byte("\xff")))
	expectLeft(t, by, bad.id())
}

// An oversize message closes with 1009; the room hears the sender left.
func TestWsroomsHostileOversizeCloses1009(t *testing.T) {
	_, addr := startRooms(t, &api.Options{MaxMessageSize: 1024})
	by, bad := lobbyPair(t, addr)
	require.NoError(t, bad.send("lobby", "big", strings.Repeat("x", 2000), ""))
	select {
	case code := <-bad.closed:
		assert.Equal(t, 1009, code)
	case <-time.After(wait):
		t.Fatal("no close")
	}
	expectLeft(t, by, bad.id())
}

// expectLeft reads c's next two events: member_left(id) in root and in
// lobby, in either order (each room sends its own diff).
func expectLeft(t *testing.T, c *jsClient, id string) {
	t.Helper()
	assert.ElementsMatch(t, []emitted{
		{room: "root", name: "member_left", payload: id},
		{room: "lobby", name: "member_left", payload: id},
	}, []emitted{c.next(), c.next()})
}

// A flood meets the publish rate limit: the flooder is closed with
// 1008; the bystander hears at most the allowed burst.
func TestWsroomsHostileFloodRateLimitedBystanderUnaffected(t *testing.T) {
	_, addr := startRooms(t, &api.Options{RateLimits: api.DefaultRateLimits()})
	by, bad := lobbyPair(t, addr)
	msg, err := encode("lobby", "spam", "", bad.id(), "x")
	require.NoError(t, err)
	for range 2000 {
		if bad.ws.WriteMessage(websocket.BinaryMessage, msg) != nil {
			break
		}
	}
	heard, left := 0, 0
	for left < 2 { // root and lobby
		if e := by.next(); e.name == "member_left" {
			left++
		} else {
			heard++
		}
	}
	assert.LessOrEqual(t, heard, 2*api.DefaultRateLimits().Publish.Burst)
	assert.Empty(t, by.marker("mark"))
}
