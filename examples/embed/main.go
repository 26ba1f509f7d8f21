// Command embed is a complete program that embeds a roomloop server: it
// authorizes clients by token, logs every application frame through a
// middleware, handles a "shout" event, and drains on SIGINT or SIGTERM.
//
//	go run ./examples/embed -addr 127.0.0.1:8080
//	websocat 'ws://127.0.0.1:8080/ws?token=demo-ada'
//	{"event":"$join","room":"lobby"}
//	{"event":"shout","room":"lobby","id":"1","payload":{"text":"hi"}}
//
// The tokens are demo values (demoTokens): replace checkToken with real
// verification before using any of this.
package main

import (
	"context"
	"errors"
	"flag"
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
// with your own verification.
func checkToken(token string) (userID string, err error) {
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
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, log); err != nil {
		log.Error("embed", "err", err)
		os.Exit(1)
	}
}

// run serves on addr until ctx ends, then drains.
func run(ctx context.Context, addr string, log *slog.Logger) error {
	srv := api.New(&api.Options{
		Logger: log,
		// Runs off the event loop, at most AuthTimeout (2s), before the
		// upgrade, and again on every resume.
		Authorize: func(r *http.Request) (api.Identity, error) {
			user, err := checkToken(r.URL.Query().Get("token"))
			if err != nil {
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
		// A refusal is answered $error forbidden with the error's text.
		CanJoin: func(c *api.Conn, room string) error {
			user, _ := c.Claims()["user"].(string)
			if strings.HasPrefix(room, "user:") && room != "user:"+user {
				return errors.New("another user's room")
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
		// default route, the handler sends to the whole room, sender included.
		srv.Broadcast(f.Room, api.Frame{Event: "shouted", Room: f.Room, From: c.ID(),
			Kind: f.Kind, Payload: f.Payload})
		return nil // → $ack to the sender if the frame had an id
	})

	if err := srv.Start(addr); err != nil {
		return err
	}
	log.Info("serving", "try", "ws://"+srv.Addr().String()+"/ws?token=demo-ada")

	<-ctx.Done()
	log.Info("draining", "sessions", srv.Stats().Sessions)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Every client gets its queued frames, then close 1001.
	return srv.Shutdown(sctx)
}
