package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/centrifugal/centrifuge"
)

// server is a centrifuge node whose WebSocket handler is mounted at /ws
// on a net/http server.
type server struct {
	node *centrifuge.Node
	hs   *http.Server
	ln   net.Listener
}

// start listens on addr and serves centrifuge configured as a room
// server comparable to roomloop's benchmark setup: every connection is
// accepted anonymously, may subscribe to any channel (a room), publish
// into it, and call the "ping" RPC, which answers with no data (the
// echo scenario's $ping). No history, recovery, presence or join/leave
// messages (roomloop runs with presence and resumption off too). Every
// other setting is centrifuge's default: centrifuge.Config{} and
// centrifuge.WebsocketConfig{} (1 MB client queue, 128 channels per
// client, 64 KB message limit, 1 s write timeout, default WebSocket
// buffer sizes, app-level ping every 25 s with a 10 s pong timeout, up to
// 16 messages per frame, no write delay, no compression, no logging).
func start(addr string) (*server, error) {
	node, err := centrifuge.New(centrifuge.Config{})
	if err != nil {
		return nil, err
	}
	node.OnConnecting(func(context.Context, centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: ""}}, nil
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(_ centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{}, nil)
		})
		c.OnPublish(func(_ centrifuge.PublishEvent, cb centrifuge.PublishCallback) {
			cb(centrifuge.PublishReply{}, nil)
		})
		c.OnRPC(func(_ centrifuge.RPCEvent, cb centrifuge.RPCCallback) {
			cb(centrifuge.RPCReply{}, nil)
		})
	})
	if err := node.Run(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = node.Shutdown(context.Background())
		return nil, err
	}
	s := &server{node: node, hs: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

// Addr returns the listening address.
func (s *server) Addr() string { return s.ln.Addr().String() }

// Close stops accepting, disconnects every client and stops the node,
// waiting at most 5 seconds.
func (s *server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	herr := s.hs.Shutdown(ctx) // WebSocket connections are hijacked: not waited for
	return errors.Join(herr, s.node.Shutdown(ctx))
}
