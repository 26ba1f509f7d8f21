// Command embed is a complete program that embeds a roomloop server: it
// authorizes clients by token, logs every application frame through a
// middleware, handles a "shout" and a "remind" event, and drains on SIGINT
// or SIGTERM.
//
//	go run ./examples/embed -addr 127.0.0.1:8080
//	websocat 'ws://127.0.0.1:8080/ws?token=demo-ada'
//	{"event":"$join","room":"lobby"}
//	{"event":"shout","room":"lobby","id":"1","payload":{"text":"hi"}}
//	{"event":"remind","id":"2","payload":{"text":"tea","after_ms":2000}}
//
// By default the server listens itself (Server.Start). With -mount it is
// an http.Handler on a net/http server instead, next to a page at "/"
// (Server.ServeHTTP): the upgrade is taken over by the event loop.
//
// The tokens are demo values (demoTokens): replace checkToken with real
// verification before using any of this.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/roomloop/roomloop/api"
)

// demoTokens maps demo tokens to user ids. STAND-IN for real token
// verification (a session store, a signed token checked against your
// keys): never ship a table like this.
var demoTokens = map[string]string{
	"demo-ada":   "ada",
	"demo-grace": "grace",
}

// checkToken returns the user id a token belongs to. STAND-IN: replace it
// with your own verification, and pass it ctx (Authorize's request
// context): it ends at AuthTimeout, when the client goes away, or at
// shutdown, so a slow token backend does not hold a worker for longer.
func checkToken(ctx context.Context, token string) (userID string, err error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	id, ok := demoTokens[token]
	if !ok {
		return "", errors.New("unknown token")
	}
	return id, nil
}

// logFrames is a middleware: it logs every application frame, handled or
// routed by default, with how long it took and how it was answered.
func logFrames(log *slog.Logger) api.Middleware {
	return func(next api.HandlerFunc) api.HandlerFunc {
		return func(c *api.Conn, f *api.Frame) error {
			start := time.Now()
			err := next(c, f)
			log.Info("frame", "session", c.ID(), "event", f.Event, "room", f.Room,
				"took", time.Since(start), "err", err)
			return err
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	mount := flag.Bool("mount", false, "serve through net/http (Server.ServeHTTP on a mux) instead of Server.Start")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *mount, log); err != nil {
		log.Error("embed", "err", err)
		os.Exit(1)
	}
}

// newServer configures the roomloop server: hooks, middleware, handlers.
func newServer(log *slog.Logger) *api.Server {
	srv := api.New(&api.Options{
		Logger: log,
		// Runs on the worker pool, before the upgrade and again on every
		// resume. Its request's context ends at AuthTimeout (2s; the
		// client then gets 503).
		Authorize: func(r *http.Request) (api.Identity, error) {
			user, err := checkToken(r.Context(), r.URL.Query().Get("token"))
			if err != nil {
				// Only a *Refusal's text reaches the client; any other
				// error is logged and answered 401 "unauthorized".
				return api.Identity{}, api.Unauthorized("bad token") // HTTP 401, body "bad token"
			}
			// User, not SessionID: each connection (each browser tab) gets
			// its own random session id, and only this user may resume it.
			return api.Identity{
				User:   user,
				Claims: map[string]any{"user": user},
				Rooms:  []string{"user:" + user}, // joined at connect, CanJoin not asked
			}, nil
		},
		// An *api.Error is sent as is; any other error is logged and
		// answered $error forbidden with a fixed text.
		CanJoin: func(c *api.Conn, room string) error {
			user, _ := c.Claims()["user"].(string)
			if strings.HasPrefix(room, "user:") && room != "user:"+user {
				return api.NewError(api.CodeForbidden, "another user's room")
			}
			return nil
		},
	})
	srv.Use(logFrames(log)) // around every application frame
	srv.Handle("shout", func(c *api.Conn, f *api.Frame) error {
		if f.Room == "" {
			return api.NewError(api.CodeBadRequest, "shout needs a room") // → $error bad_request
		}
		// The server has checked that the sender is in f.Room. Unlike the
		// default route, the handler sends to the whole room, sender
		// included.
		// The payload goes on as it came, with its kind (api.JSON builds
		// a frame from a Go value; see "remind").
		out := api.Frame{Event: "shouted", From: c.ID(), Kind: f.Kind, Payload: f.Payload}
		if _, err := srv.Broadcast(f.Room, out); err != nil {
			return err // logged; the client gets $error internal
		}
		return nil // → $ack to the sender if the frame had an id
	})
	srv.Handle("remind", func(c *api.Conn, f *api.Frame) error {
		var p struct {
			Text    string `json:"text"`
			AfterMS int    `json:"after_ms"`
		}
		if err := json.Unmarshal(f.Payload, &p); err != nil || p.AfterMS <= 0 || p.AfterMS > 60_000 {
			return api.NewError(api.CodeBadRequest, `remind needs {"text":…,"after_ms":1…60000}`)
		}
		reminder, err := api.JSON("reminder", map[string]string{"text": p.Text})
		if err != nil {
			return err
		}
		// Work that outlives the handler takes the session's context: it
		// ends when the session ends or the server shuts down.
		ctx := c.Context()
		go func() {
			select {
			case <-time.After(time.Duration(p.AfterMS) * time.Millisecond):
				_ = c.Send(reminder) // queued even while the session is suspended
			case <-ctx.Done():
			}
		}()
		return nil
	})
	return srv
}

// run serves on addr until ctx ends, then drains.
func run(ctx context.Context, addr string, mount bool, log *slog.Logger) error {
	srv := newServer(log)
	var hs *http.Server
	if mount {
		// roomloop as an http.Handler: the router picks the path, and the
		// upgrade is handed to the event loop (no goroutine per connection
		// afterwards). The same works on chi, gorilla/mux or gin.
		mux := http.NewServeMux()
		mux.Handle("/ws", srv)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "roomloop embed: connect a WebSocket to /ws?token=demo-ada")
		})
		hs = &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		errc := make(chan error, 1)
		go func() { errc <- hs.ListenAndServe() }()
		select {
		case err := <-errc:
			return err
		case <-time.After(100 * time.Millisecond): // listening
		}
		log.Info("serving through net/http", "try", "ws://"+addr+"/ws?token=demo-ada")
	} else {
		// roomloop listens itself. Options.HTTPHandler would serve pages
		// on this same port, Options.TLSConfig wss://.
		if err := srv.Start(addr); err != nil {
			return err
		}
		log.Info("serving", "try", "ws://"+srv.Addr().String()+"/ws?token=demo-ada")
	}

	<-ctx.Done()
	log.Info("draining", "sessions", srv.Stats().Sessions)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if hs != nil {
		// New requests stop here; connections already taken over belong
		// to the roomloop server, which drains them below.
		_ = hs.Shutdown(sctx)
	}
	// Every client gets its queued frames, then close 1001.
	return srv.Shutdown(sctx)
}
