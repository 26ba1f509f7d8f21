package soak

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/internal/wsproto"
)

// An attack is one misbehaviour of the catalogue in docs/hostile.md, done
// raw over a blocking socket of its own. It reports whether the server
// answered as docs/hostile.md and docs/protocol.md say, and what it saw.
type attack struct {
	name string
	fn   func(a *attacker) (ok bool, saw string)
}

// attacks is every misbehaviour the hostile mix replays, in order.
var attacks = []attack{
	{"slowloris", (*attacker).slowloris},
	{"header-flood", (*attacker).headerFlood},
	{"bad-version", (*attacker).badVersion},
	{"huge-frame", (*attacker).hugeFrame},
	{"length-overflow", (*attacker).lengthOverflow},
	{"big-message", (*attacker).bigMessage},
	{"endless-fragments", (*attacker).endlessFragments},
	{"ping-flood", (*attacker).pingFlood},
	{"invalid-utf8", (*attacker).invalidUTF8},
	{"unmasked", (*attacker).unmasked},
	{"reserved-opcode", (*attacker).reservedOpcode},
	{"wrong-type", (*attacker).wrongType},
	{"malformed-json", (*attacker).malformedJSON},
	{"join-storm", (*attacker).joinStorm},
	{"bad-resume", (*attacker).badResume},
}

// attacker runs attacks against one server.
type attacker struct {
	pool *load.Pool // for dialing from the bench's source addresses
	host string
	id   int
	n    int             // attacks made, for unique room names
	stop <-chan struct{} // the run's end: a slow attack gives up
}

// tally counts attack outcomes by attack.
type tally struct {
	mu   sync.Mutex
	runs map[string]*attackCount
}

type attackCount struct {
	Tries, OK int
	Saw       map[string]int // outcomes seen, for the report
	Bad       string         // the last unexpected outcome
}

func (t *tally) add(name string, ok bool, saw string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.runs == nil {
		t.runs = map[string]*attackCount{}
	}
	c := t.runs[name]
	if c == nil {
		c = &attackCount{Saw: map[string]int{}}
		t.runs[name] = c
	}
	c.Tries++
	c.Saw[saw]++
	if ok {
		c.OK++
	} else {
		c.Bad = saw
	}
}

// lines returns one line per attack: "name: ok/tries (outcome×n, …)".
func (t *tally) lines() (out []string, tries, bad int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, at := range attacks {
		c := t.runs[at.name]
		if c == nil {
			continue
		}
		tries += c.Tries
		bad += c.Tries - c.OK
		var saw []string
		for _, k := range slices.Sorted(mapsKeys(c.Saw)) {
			saw = append(saw, fmt.Sprintf("%s×%d", k, c.Saw[k]))
		}
		out = append(out, fmt.Sprintf("%s: %d/%d as expected (%s)", at.name, c.OK, c.Tries, strings.Join(saw, ", ")))
	}
	return out, tries, bad
}

func mapsKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// reply is what the server sent on an upgraded socket.
type reply struct {
	code   uint16   // close code, 0 if none
	closed bool     // the TCP connection ended
	texts  [][]byte // text messages (whole frames only)
	err    error    // why reading stopped, if not a close
}

// read parses server frames from nc (after the bytes in got) until done
// reports true, the server closes, or timeout passes.
func read(nc net.Conn, got []byte, timeout time.Duration, done func(*reply) bool) *reply {
	r := &reply{}
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	buf := append([]byte(nil), got...)
	tmp := make([]byte, 16<<10)
	for {
		for len(buf) >= 2 {
			n, hl := uint64(buf[1]&0x7F), 2
			switch n {
			case 126:
				if len(buf) < 4 {
					n = 1 << 62
					break
				}
				n, hl = uint64(binary.BigEndian.Uint16(buf[2:])), 4
			case 127:
				if len(buf) < 10 {
					n = 1 << 62
					break
				}
				n, hl = binary.BigEndian.Uint64(buf[2:]), 10
			}
			if uint64(len(buf)-hl) < n {
				break
			}
			op, payload := wsproto.Opcode(buf[0]&0x0F), buf[hl:hl+int(n)]
			switch op {
			case wsproto.OpClose:
				if len(payload) >= 2 {
					r.code = binary.BigEndian.Uint16(payload)
				} else {
					r.code = 1005
				}
				return r
			case wsproto.OpText:
				r.texts = append(r.texts, append([]byte(nil), payload...))
			}
			buf = buf[hl+int(n):]
			if done != nil && done(r) {
				return r
			}
		}
		k, err := nc.Read(tmp)
		buf = append(buf, tmp[:k]...)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				r.err = err
			} else {
				r.closed = true
			}
			return r
		}
	}
}

// saw describes a reply.
func (r *reply) saw() string {
	switch {
	case r.code != 0:
		return "close " + strconv.Itoa(int(r.code))
	case r.closed:
		return "TCP closed"
	default:
		return "no answer"
	}
}

// upgraded dials and upgrades at path.
func (a *attacker) upgraded(path string, rcvBuf int) (net.Conn, []byte, error) {
	return a.pool.DialRaw(path, rcvBuf)
}

// hdr is a masked frame header with an all-zero mask (so the payload
// goes as it is) declaring n payload bytes.
func hdr(b0 byte, n uint64) []byte {
	var b []byte
	switch {
	case n < 126:
		b = []byte{b0, 0x80 | byte(n)}
	case n <= 0xFFFF:
		b = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		b = binary.BigEndian.AppendUint64([]byte{b0, 0x80 | 127}, n)
	}
	return append(b, 0, 0, 0, 0)
}

// frameAnswer upgrades, writes frames and expects a close with one of
// codes.
func (a *attacker) frameAnswer(frames []byte, codes ...uint16) (bool, string) {
	nc, got, err := a.upgraded("", 0)
	if err != nil {
		return false, "upgrade failed: " + err.Error()
	}
	defer nc.Close()
	_ = nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
	if _, err := nc.Write(frames); err != nil {
		// The server may close before taking everything; its answer is
		// still in our receive buffer.
		_ = err
	}
	r := read(nc, got, 3*time.Second, nil)
	return slices.Contains(codes, r.code), r.saw()
}

// slowloris drips an upgrade request at 5 bytes/s: the server must end it
// by its 5 s handshake deadline (plus 2 s of grace).
func (a *attacker) slowloris() (bool, string) {
	nc, err := a.pool.Dial(0)
	if err != nil {
		return false, "dial failed: " + err.Error()
	}
	defer nc.Close()
	start := time.Now()
	req := []byte("GET /ws HTTP/1.1\r\nHost: " + a.host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Drip: " + strings.Repeat("z", 200))
	for i := 0; i < len(req) && time.Since(start) < 9*time.Second; i++ {
		select {
		case <-a.stop:
			return true, "stopped by the run's end"
		default:
		}
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := nc.Write(req[i : i+1]); err != nil {
			break
		}
		_ = nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var b [512]byte
		if _, err := nc.Read(b[:]); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			break // an answer (408) or the end of the connection
		}
	}
	el := time.Since(start)
	return el <= 7*time.Second, fmt.Sprintf("closed after %.0fs", el.Round(time.Second).Seconds())
}

// httpAnswer dials, writes req and returns the status code of the answer
// (0 if the connection ended without one).
func (a *attacker) httpAnswer(req []byte) (int, string) {
	nc, err := a.pool.Dial(0)
	if err != nil {
		return 0, "dial failed: " + err.Error()
	}
	defer nc.Close()
	_ = nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
	_, _ = nc.Write(req) // the server may cut the request short
	_ = nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	var buf []byte
	tmp := make([]byte, 4096)
	for !bytes.Contains(buf, []byte("\r\n")) {
		n, err := nc.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil {
			break
		}
	}
	line, _, _ := bytes.Cut(buf, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) < 2 {
		return 0, "no HTTP answer"
	}
	code, _ := strconv.Atoi(f[1])
	return code, "HTTP " + f[1]
}

// headerFlood sends 64 KiB of headers: 431 (or 400), never an upgrade.
func (a *attacker) headerFlood() (bool, string) {
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\nHost: " + a.host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "X-Pad-%04d: %s\r\n", i, strings.Repeat("p", 52))
	}
	b.WriteString("\r\n")
	code, saw := a.httpAnswer([]byte(b.String()))
	return code == 431 || code == 400 || code == 0 && saw == "no HTTP answer", saw
}

// badVersion asks for WebSocket version 12: 426.
func (a *attacker) badVersion() (bool, string) {
	code, saw := a.httpAnswer([]byte("GET /ws HTTP/1.1\r\nHost: " + a.host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n"))
	return code == 426, saw
}

// hugeFrame declares a 2^63−1 byte frame: 1009 at once.
func (a *attacker) hugeFrame() (bool, string) {
	return a.frameAnswer(hdr(0x81, 1<<63-1), 1009)
}

// lengthOverflow starts a message with "abc", then declares a 2^63−2
// byte continuation (the sum overflows): 1009, and no panic.
func (a *attacker) lengthOverflow() (bool, string) {
	f := append(hdr(0x01, 3), "abc"...)
	f = append(f, hdr(0x80, 1<<63-2)...)
	return a.frameAnswer(f, 1009, 1002)
}

// bigMessage sends a 70 KiB text message: 1009.
func (a *attacker) bigMessage() (bool, string) {
	f := append(hdr(0x81, 70<<10), bytes.Repeat([]byte("x"), 70<<10)...)
	return a.frameAnswer(f, 1009)
}

// endlessFragments sends "a" and then 5,000 empty continuations: 1009
// (at most 4,096 frames a message).
func (a *attacker) endlessFragments() (bool, string) {
	f := append(hdr(0x01, 1), 'a')
	for range 5000 {
		f = append(f, hdr(0x00, 0)...)
	}
	return a.frameAnswer(f, 1009, 1008)
}

// pingFlood writes 20,000 pings and reads nothing: the server must not
// queue pongs without bound (one pending pong; 1008 is allowed too).
// Its memory is watched by the run's RSS rule; any answer passes here.
func (a *attacker) pingFlood() (bool, string) {
	nc, _, err := a.upgraded("", 4096)
	if err != nil {
		return false, "upgrade failed: " + err.Error()
	}
	defer nc.Close()
	ping := append(hdr(0x89, 8), "pingpong"...)
	burst := bytes.Repeat(ping, 1000)
	_ = nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
	sent := 0
	for range 20 {
		if _, err := nc.Write(burst); err != nil {
			break
		}
		sent += 1000
	}
	r := read(nc, nil, 500*time.Millisecond, nil)
	saw := "open"
	if r.code != 0 || r.closed {
		saw = r.saw()
	}
	return true, fmt.Sprintf("%s after %d pings", saw, sent/1000*1000)
}

// invalidUTF8 sends a text message that is not UTF-8: 1007.
func (a *attacker) invalidUTF8() (bool, string) {
	return a.frameAnswer(append(hdr(0x81, 3), 0xC3, 0x28, 0xFF), 1007)
}

// unmasked sends an unmasked frame: 1002.
func (a *attacker) unmasked() (bool, string) {
	return a.frameAnswer([]byte{0x81, 0x02, 'h', 'i'}, 1002)
}

// reservedOpcode sends opcode 3: 1002.
func (a *attacker) reservedOpcode() (bool, string) {
	return a.frameAnswer(append(hdr(0x83, 2), "hi"...), 1002)
}

// wrongType sends a binary message on a roomloop.json connection: 1003.
func (a *attacker) wrongType() (bool, string) {
	return a.frameAnswer(append(hdr(0x82, 2), "{}"...), 1003)
}

// malformedJSON sends a broken frame: $error bad_request, and the
// connection stays usable ($ping answered).
func (a *attacker) malformedJSON() (bool, string) {
	nc, got, err := a.upgraded("", 0)
	if err != nil {
		return false, "upgrade failed: " + err.Error()
	}
	defer nc.Close()
	msg := []byte(`{"event":"x","room":`)
	ping := []byte(`{"event":"$ping","id":"after-bad"}`)
	f := append(append(hdr(0x81, uint64(len(msg))), msg...), append(hdr(0x81, uint64(len(ping))), ping...)...)
	_ = nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
	if _, err := nc.Write(f); err != nil {
		return false, "write failed: " + err.Error()
	}
	var bad, pong bool
	r := read(nc, got, 3*time.Second, func(r *reply) bool {
		t := r.texts[len(r.texts)-1]
		bad = bad || bytes.Contains(t, []byte(`"$error"`)) && bytes.Contains(t, []byte(`bad_request`))
		pong = pong || bytes.Contains(t, []byte(`"$pong"`)) && bytes.Contains(t, []byte(`after-bad`))
		return bad && pong
	})
	_, _ = nc.Write(append(hdr(0x88, 2), 0x03, 0xE8))
	switch {
	case bad && pong:
		return true, "bad_request, then $pong"
	case bad:
		return false, "bad_request, then " + r.saw()
	}
	return false, r.saw()
}

// joinStorm sends 300 $join frames at once: the server must limit them
// (rate_limited or too_many_rooms, or 1008 for a client that keeps on).
func (a *attacker) joinStorm() (bool, string) {
	nc, got, err := a.upgraded("", 0)
	if err != nil {
		return false, "upgrade failed: " + err.Error()
	}
	defer nc.Close()
	a.n++
	var f []byte
	for i := range 300 {
		j := []byte(`{"event":"$join","room":"storm-` + strconv.Itoa(a.id) + "-" + strconv.Itoa(a.n) + "-" + strconv.Itoa(i) + `"}`)
		f = append(append(f, hdr(0x81, uint64(len(j)))...), j...)
	}
	_ = nc.SetWriteDeadline(time.Now().Add(3 * time.Second))
	_, _ = nc.Write(f)
	var limited, joined int
	r := read(nc, got, 2*time.Second, func(r *reply) bool {
		t := r.texts[len(r.texts)-1]
		switch {
		case bytes.Contains(t, []byte(`"$joined"`)):
			joined++
		case bytes.Contains(t, []byte(`rate_limited`)), bytes.Contains(t, []byte(`too_many_rooms`)):
			limited++
		}
		return joined+limited >= 300
	})
	_, _ = nc.Write(append(hdr(0x88, 2), 0x03, 0xE8))
	saw := fmt.Sprintf("%d joined, %d limited", joined, limited)
	if r.code != 0 {
		saw += ", close " + strconv.Itoa(int(r.code))
	}
	return limited > 0 || r.code == 1008, saw
}

// badResume asks to resume a random token: resumed:false, reason
// "unknown" (or a refusal for too many failed resumes).
func (a *attacker) badResume() (bool, string) {
	var tok [24]byte
	_, _ = rand.Read(tok[:])
	nc, got, err := a.upgraded("/ws?resume="+base64.RawURLEncoding.EncodeToString(tok[:])+"&last_seq=5", 0)
	if err != nil {
		s := err.Error()
		return strings.Contains(s, " 429 ") || strings.Contains(s, " 403 "), "refused: " + s
	}
	defer nc.Close()
	var welcome []byte
	r := read(nc, got, 3*time.Second, func(r *reply) bool {
		welcome = r.texts[0]
		return true
	})
	_, _ = nc.Write(append(hdr(0x88, 2), 0x03, 0xE8))
	if welcome == nil {
		return false, r.saw()
	}
	reason := load.Str(welcome, `"reason":`)
	resumed := bytes.Contains(welcome, []byte(`"resumed":true`))
	return !resumed && reason == "unknown", fmt.Sprintf("resumed=%v reason=%q", resumed, reason)
}
