package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// scriptConn is one connection of a scripted server: the script sends
// what it likes and sees what the client sent.
type scriptConn struct {
	ws  *websocket.Conn
	ctx context.Context

	mu  sync.Mutex
	got []wire
}

// wire is a client frame as a scripted server reads it.
type wire struct {
	Event string `json:"event"`
	Room  string `json:"room"`
	ID    string `json:"id"`
}

// put sends one text message.
func (sc *scriptConn) put(format string, args ...any) {
	_ = sc.ws.Write(sc.ctx, websocket.MessageText, []byte(fmt.Sprintf(format, args...)))
}

// await waits for the first client frame, from the i-th on, for which ok
// holds, and returns its index; -1 if the connection or the test ends.
func (sc *scriptConn) await(from int, ok func(wire) bool) (wire, int) {
	for sc.ctx.Err() == nil {
		sc.mu.Lock()
		for i := from; i < len(sc.got); i++ {
			if ok(sc.got[i]) {
				w := sc.got[i]
				sc.mu.Unlock()
				return w, i
			}
		}
		sc.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	return wire{}, -1
}

func event(name string) func(wire) bool { return func(w wire) bool { return w.Event == name } }

// scripted runs a roomloop.json server whose k-th connection is played by
// script (k from 0), and returns its URL. Each connection reads what the
// client sends in the background; the connection stays open after the
// script returns, until the client closes it or the test ends.
func scripted(t *testing.T, script func(k int, sc *scriptConn)) string {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int32
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"roomloop.json"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		sc := &scriptConn{ws: ws, ctx: cctx}
		go func() {
			defer ccancel()
			for {
				_, b, err := ws.Read(cctx)
				if err != nil {
					return
				}
				var f wire
				_ = json.Unmarshal(b, &f)
				sc.mu.Lock()
				sc.got = append(sc.got, f)
				sc.mu.Unlock()
			}
		}()
		script(int(n.Add(1)-1), sc)
		<-cctx.Done()
	}))
	t.Cleanup(func() { cancel(); srv.CloseClientConnections(); wg.Wait(); srv.Close() })
	return "ws" + srv.URL[len("http"):] + "/ws"
}

// welcomeFrame is a $welcome of session (resume token session+".k").
func welcomeFrame(session string, resumed bool, lastSeq int, reason string) string {
	return fmt.Sprintf(`{"event":"$welcome","payload":{"session":%q,"resume":%q,"heartbeat_ms":25000,"resumed":%t,"last_seq":%d,"reason":%q}}`,
		session, session+".k", resumed, lastSeq, reason)
}
