package load

import (
	"compress/flate"
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/bench/serve"
)

// gorillaServer serves one message script on every upgrade at /ws of a
// listener on 127.0.0.1:0: gorilla's permessage-deflate (negotiated when
// the client offers it), a write buffer small enough
// that long messages go out fragmented, and per message whether it is
// written compressed. It returns the address.
func gorillaServer(t *testing.T, script []string, zipped []bool) string {
	t.Helper()
	up := websocket.Upgrader{EnableCompression: true, WriteBufferSize: 256, Subprotocols: []string{"roomloop.json"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		for i, m := range script {
			c.EnableWriteCompression(zipped[i])
			if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				return
			}
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}

// TestPoolDeflateGorilla: against gorilla's permessage-deflate, a pool
// that offers it inflates every compressed message, fragmented ones
// included, mixed with uncompressed ones, in order and byte for byte,
// and counts the bytes on the wire; a pool that does not offer it gets
// the same messages uncompressed.
func TestPoolDeflateGorilla(t *testing.T) {
	script := []string{`{"event":"$welcome","payload":{"session":"s-1"}}`}
	zipped := []bool{true}
	words := strings.Fields("deploy the release tomorrow merge branch coffee lunch review latency fixed broken")
	r := rand.New(rand.NewPCG(3, 4))
	raw, plain := 0, 0 // bytes of every message, of the uncompressed ones
	for i := 1; i <= 20; i++ {
		var b strings.Builder
		for b.Len() < 28*i*i { // up to 11 KB
			b.WriteString(words[r.IntN(len(words))] + " ")
		}
		text := b.String()
		m := `{"seq":` + strconv.Itoa(i) + `,"event":"say","room":"chat","payload":{"k":` + strconv.Itoa(i) + `,"text":"` + text + `"}}`
		script, zipped = append(script, m), append(zipped, i%5 != 0) // every fifth plain
		raw += len(m)
		if i%5 == 0 {
			plain += len(m)
		}
	}
	// Compressed, the longest messages still span many 256-byte frames.
	require.Greater(t, len(compressMsg(t, flate.BestSpeed, []byte(script[19]))), 4*256)
	for _, offer := range []bool{true, false} {
		t.Run("offer="+strconv.FormatBool(offer), func(t *testing.T) {
			addr := gorillaServer(t, script, zipped)
			var mu sync.Mutex
			var got []string
			done := make(chan struct{})
			p, err := New(Config{Addr: addr, Deflate: offer, Handler: func(c *Conn, m *Msg) {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, string(m.Raw))
				if len(got) == len(script)-1 {
					close(done)
				}
			}})
			require.NoError(t, err)
			defer func() { _ = p.Close(5 * time.Second) }()
			c, err := p.Open(0)
			require.NoError(t, err)
			assert.Equal(t, offer, c.Deflate())
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("messages did not all arrive")
			}
			mu.Lock()
			assert.Equal(t, script[1:], got)
			mu.Unlock()
			st := p.Stats()
			assert.Zero(t, st.Malformed.Load())
			assert.Zero(t, st.SeqErrors.Load())
			assert.Equal(t, "s-1", c.Session())
			if offer {
				assert.Equal(t, int64(1), st.Deflate.Load())
				assert.Equal(t, int64(1+16), st.Inflated.Load(), "the welcome and 16 of 20 messages came compressed")
				assert.Less(t, st.WireBytes.Load(), int64(plain+(raw-plain)/2), "text of a few words shrinks on the wire")
			} else {
				assert.Zero(t, st.Deflate.Load())
				assert.Zero(t, st.Inflated.Load())
				assert.Greater(t, st.WireBytes.Load(), int64(raw))
			}
		})
	}
}

// TestPoolDeflateServers: a broadcast of a chat message reaches every
// other member intact from roomloop with compression (numbered, its seq
// in a stored block before the shared compressed body), from the
// baseline with gorilla's compression (PreparedMessage, no seq), and
// from roomloop without it (the offer declined); each with the inflate
// cache on and off.
func TestPoolDeflateServers(t *testing.T) {
	text := strings.Repeat("latency numbers look good, thanks for the review ", 12)
	for _, tc := range []struct {
		impl  string
		cache bool
	}{{serve.RoomloopDeflate, false}, {serve.RoomloopDeflate, true}, {serve.BaselineDeflate, false}, {serve.BaselineDeflate, true}, {serve.Roomloop, true}} {
		impl := tc.impl
		t.Run(impl+"/cache="+strconv.FormatBool(tc.cache), func(t *testing.T) {
			srv, err := serve.Start(serve.Config{Impl: impl, Addr: "127.0.0.1:0"})
			require.NoError(t, err)
			defer func() { _ = srv.Close() }()
			const n = 12
			var mu sync.Mutex
			joined, said := 0, 0
			allJoined, allSaid := make(chan struct{}), make(chan struct{})
			cfg := Config{Addr: srv.Addr(), Deflate: true, InflateCache: tc.cache, NoSeq: impl == serve.BaselineDeflate}
			cfg.Handler = func(c *Conn, m *Msg) {
				mu.Lock()
				defer mu.Unlock()
				switch string(m.Event) {
				case "$joined":
					if joined++; joined == n {
						close(allJoined)
					}
				case "say":
					if Str(m.Payload, `"text":`) == text && Int(m.Payload, `"k":`) == 3 {
						if said++; said == 2*(n-1) {
							close(allSaid)
						}
					}
				}
			}
			p, err := New(cfg)
			require.NoError(t, err)
			defer func() { _ = p.Close(5 * time.Second) }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			conns, err := p.OpenN(ctx, n, 4)
			require.NoError(t, err)
			for _, c := range conns {
				assert.Equal(t, serve.Deflates(impl), c.Deflate())
				require.NoError(t, c.Send([]byte(`{"event":"$join","room":"chat"}`)))
			}
			wait(t, ctx, allJoined)
			inflated0, misses0 := p.Stats().Inflated.Load(), p.zcache.inflated()
			for range 2 {
				require.NoError(t, conns[0].Send([]byte(`{"event":"say","room":"chat","payload":{"k":3,"text":"`+text+`"}}`)))
			}
			wait(t, ctx, allSaid)
			st := p.Stats()
			assert.Zero(t, st.Malformed.Load())
			assert.Zero(t, st.SeqErrors.Load())
			if serve.Deflates(impl) {
				assert.Equal(t, int64(n), st.Deflate.Load())
				assert.Equal(t, int64(2*(n-1)), st.Inflated.Load()-inflated0, "every broadcast delivery came compressed")
				if tc.cache {
					assert.Equal(t, int64(1), p.zcache.inflated()-misses0, "the two broadcasts' body inflated once, not per member")
				}
			} else {
				assert.Zero(t, st.Deflate.Load())
				assert.Zero(t, st.Inflated.Load())
			}
		})
	}
}

// wait waits for ch to close, failing the test when ctx ends first.
func wait(t *testing.T, ctx context.Context, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
}
