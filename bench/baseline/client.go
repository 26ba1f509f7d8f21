package baseline

import (
	"crypto/rand"
	"encoding/base32"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// client is one connection: a read goroutine (readPump) and a write
// goroutine (writePump) around a buffered send channel: of bodies, or of
// prepared messages with Options.Compression.
type client struct {
	s      *Server
	id     string
	conn   *websocket.Conn
	send   chan []byte                     // frame bodies; the write goroutine adds the seq; nil with Compression
	sendPM chan *websocket.PreparedMessage // whole frames, without a seq, with Compression; else nil
	done   chan struct{}                   // closed once, by drop
	once   sync.Once
	rooms  map[string]struct{} // owned by the read goroutine
}

// sessionEncoding writes session ids in lower-case base32 without padding.
var sessionEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newSessionID returns "s-" and 80 random bits, shaped like roomloop's ids.
func newSessionID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "s-" + sessionEncoding.EncodeToString(b[:])
}

// enqueue queues body without blocking (prepared on its own with
// Options.Compression); a full queue drops the client. It reports
// whether body was queued.
func (c *client) enqueue(body []byte) bool {
	if pm := c.s.prepare(body); pm != nil {
		return offer(c, c.sendPM, pm)
	}
	return offer(c, c.send, body)
}

// enqueueShared queues a broadcast: pm, its prepared message, with
// Options.Compression (shared by every member), else body.
func (c *client) enqueueShared(body []byte, pm *websocket.PreparedMessage) bool {
	if pm != nil {
		return offer(c, c.sendPM, pm)
	}
	return offer(c, c.send, body)
}

// offer queues v on c's channel ch without blocking; a full queue drops
// the client. It reports whether v was queued.
func offer[T any](c *client, ch chan T, v T) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case ch <- v:
		return true
	default:
		c.drop()
		return false
	}
}

// drop ends the client: it closes the socket, which ends both goroutines
// (a write blocked on a client that does not read fails at once). It is
// safe to call many times from any goroutine.
func (c *client) drop() {
	c.once.Do(func() {
		close(c.done)
		_ = c.conn.Close()
	})
}

// readPump reads and routes messages until the connection fails, then
// unregisters the client.
func (c *client) readPump() {
	defer c.s.wg.Done()
	defer func() {
		c.drop()
		c.s.hub.unregister(c, c.rooms)
	}()
	c.conn.SetReadLimit(c.s.opts.MaxMessageSize)
	_ = c.conn.SetReadDeadline(time.Now().Add(c.s.opts.PingTimeout))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(c.s.opts.PingTimeout))
	})
	for {
		_, msg, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(c.s.opts.PingTimeout))
		c.route(msg)
	}
}

// writePump writes queued frames, each with the next seq (or prepared
// messages as they are, with Options.Compression), and pings, until the
// client is dropped or a write fails.
func (c *client) writePump() {
	defer c.s.wg.Done()
	ticker := time.NewTicker(c.s.opts.PingInterval)
	defer ticker.Stop()
	var seq uint64
	var buf []byte
	for {
		select {
		case body := <-c.send:
			seq++
			buf = appendMessage(buf[:0], seq, body)
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.TextMessage, buf); err != nil {
				c.drop()
				return
			}
			c.s.writes.Add(1) // one frame per write: WriteMessage flushes
		case pm := <-c.sendPM:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				c.drop()
				return
			}
			c.s.writes.Add(1) // one prepared frame, one write
		case <-ticker.C:
			_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.drop()
				return
			}
		case <-c.done:
			return
		}
	}
}

// writeWait bounds one write.
const writeWait = 10 * time.Second
