package client_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/client"
)

// fakeServer is a deliberately broken server: for its k-th connection it
// writes the handshake answer, then the raw bytes script(k, query) gives
// (ending its side of the TCP connection after them if hangUp(k)), then
// reads and discards until the test ends. It is the only place that
// writes WebSocket frames by hand, since a well-kept library will not send
// broken ones.
type fakeServer struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
	conns   []net.Conn
}

func startFake(t *testing.T, script func(k int, query string) []byte, hangUp func(k int) bool) *fakeServer {
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		f.mu.Lock()
		k := len(f.queries)
		f.queries = append(f.queries, r.URL.RawQuery)
		f.conns = append(f.conns, conn)
		f.mu.Unlock()
		h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: roomloop.json\r\n\r\n", base64.StdEncoding.EncodeToString(h[:]))
		brw.Write(script(k, r.URL.RawQuery))
		brw.Flush()
		if hangUp(k) {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		go func() { _, _ = io.Copy(io.Discard, bufio.NewReader(conn)) }()
	}))
	t.Cleanup(func() {
		f.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			_ = c.Close()
		}
	})
	return f
}

func (f *fakeServer) seenQueries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

// text is one unmasked server text frame.
func text(s string) []byte {
	if len(s) >= 126 {
		panic("short frames only")
	}
	return append([]byte{0x81, byte(len(s))}, s...)
}

func welcome(resumed bool, lastSeq int) []byte {
	return text(fmt.Sprintf(`{"event":"$welcome","payload":{"session":"s-1","resume":"s-1.k","heartbeat_ms":25000,"resumed":%t,"last_seq":%d}}`, resumed, lastSeq))
}

func chatFrame(seq int) []byte {
	return text(fmt.Sprintf(`{"seq":%d,"event":"chat","payload":{"n":%d}}`, seq, seq))
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestMisbehavingServer: what a broken server sends never crashes or
// hangs the client: it reports a ProtocolError and recovers as
// docs/clients.md says, delivering each good frame once, in order.
func TestMisbehavingServer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		first     []byte // after $welcome on the first connection
		resumeAt  string // the last_seq the client resumes with; "" if it must not reconnect
		second    []byte // after $welcome resumed on the second
		want      []int
		complaint string
		hangUp    bool // the server ends the first connection after its bytes
	}{
		{"undecodable", cat(chatFrame(1), text(`{"seq":2,"event":`)), "1", chatFrame(2), []int{1, 2}, "cannot decode", false},
		{"not an object", cat(chatFrame(1), text(`[2]`)), "1", chatFrame(2), []int{1, 2}, "cannot decode", false},
		{"seq jumps", cat(chatFrame(1), chatFrame(3)), "1", cat(chatFrame(2), chatFrame(3)), []int{1, 2, 3}, "seq jumps", false},
		{"seq repeats", cat(chatFrame(1), chatFrame(1), chatFrame(2)), "", nil, []int{1, 2}, "seq repeats", false},
		{"unknown control event", cat(text(`{"seq":1,"event":"$weird"}`), chatFrame(2)), "", nil, []int{2}, "unknown control event", false},
		{"close mid-frame", cat(chatFrame(1), []byte{0x81, 100, '{', '"', 's'}), "1", chatFrame(2), []int{1, 2}, "", true},
		{"binary message on json", cat(chatFrame(1), []byte{0x82, 1, 0}), "1", chatFrame(2), []int{1, 2}, "binary message", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, func(k int, _ string) []byte {
				if k == 0 {
					return cat(welcome(false, 0), tc.first)
				}
				return cat(welcome(true, 3), tc.second)
			}, func(k int) bool { return k == 0 && tc.hangUp })
			var r *recorder
			c := dial(t, "ws"+f.URL[len("http"):]+"/ws", fast(client.Options{Setup: func(c *client.Client) { r = record(c, "chat") }}))
			require.Eventually(t, func() bool { return len(r.messages()) == len(tc.want) }, wait, 5*time.Millisecond)
			assert.Equal(t, tc.want, ns(t, r.messages()))
			if tc.resumeAt != "" {
				require.Eventually(t, func() bool { return len(f.seenQueries()) >= 2 }, wait, 5*time.Millisecond)
				assert.Equal(t, "last_seq="+tc.resumeAt+"&resume=s-1.k", f.seenQueries()[1])
				waitState(t, c, client.Resumed)
			} else {
				assert.Len(t, f.seenQueries(), 1, "no reconnect for a frame that can be ignored")
			}
			if tc.complaint != "" {
				require.Eventually(t, func() bool { return len(r.errors()) > 0 }, wait, 5*time.Millisecond)
				var pe *client.ProtocolError
				require.ErrorAs(t, r.errors()[0], &pe)
				assert.Contains(t, pe.Error(), tc.complaint)
			}
		})
	}
}
