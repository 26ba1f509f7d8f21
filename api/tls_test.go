package api_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/selfsigned"
)

// TestTLS: with Options.TLSConfig the server speaks wss:// to a real TLS
// client, serves its HTTP handler over https:// on the same port, drops a
// client that does not speak TLS, and an established TLS connection holds
// no goroutine.
func TestTLS(t *testing.T) {
	cert, err := selfsigned.New()
	require.NoError(t, err)
	serverTLS, clientTLS := cert.Server, cert.Client
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			http.Error(w, "the handler was not told of TLS", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "secure page")
	})
	srv, _ := newQuietServer(t, &api.Options{TLSConfig: serverTLS, HTTPHandler: mux})
	require.NoError(t, srv.Start("127.0.0.1:0"))
	addr := srv.Addr().String()
	d := websocket.Dialer{TLSClientConfig: clientTLS, HandshakeTimeout: wait}
	dialTLS := func() *client {
		ws, resp, err := d.Dial("wss://"+addr+"/ws", http.Header{"Origin": {"https://" + addr}})
		require.NoError(t, err)
		_ = resp.Body.Close()
		c := &client{t: t, ws: ws}
		t.Cleanup(func() { _ = ws.Close() })
		w := c.expect("$welcome")
		var wp frame.WelcomePayload
		w.payload(t, &wp)
		c.id = wp.Session
		return c
	}
	a, b := dialTLS(), dialTLS()
	a.join("secure")
	b.join("secure")
	a.expectDiff("secure", []string{b.id}, nil)
	big := strings.Repeat("x", 40_000) // more than one TLS record each way
	b.send(map[string]any{"event": "chat", "room": "secure", "payload": big})
	m := a.expect("chat")
	assert.Equal(t, `"`+big+`"`, string(m.Payload))

	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}, Timeout: wait}
	resp, err := hc.Get("https://" + addr + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "secure page", string(body))
	hc.CloseIdleConnections()

	// A client that does not speak TLS is dropped; others go on.
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, _ = io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(wait)))
	_, err = io.ReadAll(nc)
	require.NoError(t, err, "the connection ends (EOF) rather than hanging")
	_ = nc.Close()
	a.ping()

	before := settleGoroutines(t)
	for range 30 {
		dialTLS().ping()
	}
	after := settleGoroutines(t)
	assert.Less(t, after-before, 10, "goroutines: %d before 30 TLS connections, %d after", before, after)
	// 32 WebSockets, the page's connection(s) and the plain client all came
	// in by TLS.
	acc := srv.Stats().Accepted
	assert.GreaterOrEqual(t, acc.TLS, uint64(34))
	assert.Zero(t, acc.Listener+acc.HTTP)
}
