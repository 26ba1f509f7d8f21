package serve

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/selfsigned"
)

// httpServer is roomloop mounted at /ws on a net/http server
// (RoomloopHTTP): the upgrade is hijacked and handed to roomloop's event
// loop.
type httpServer struct {
	roomloopServer
	hs *http.Server
	ln net.Listener
}

// startRoomloopHTTP listens on cfg.Addr with net/http, whose mux sends
// /ws to an api.Server configured as Roomloop's.
func startRoomloopHTTP(cfg Config) (Server, error) {
	opts := roomloopOptions(cfg)
	s := api.New(opts.Options)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	ex, err := startExtras(cfg, s, opts.Limits)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", s)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	return httpServer{roomloopServer{s: s, hook: opts.hooks, ex: ex}, hs, ln}, nil
}

// Addr returns the HTTP listener's address.
func (h httpServer) Addr() string { return h.ln.Addr().String() }

// Close stops the HTTP server (hijacked connections are roomloop's by
// then), then drains roomloop.
func (h httpServer) Close() error {
	herr := h.hs.Close()
	if errors.Is(herr, http.ErrServerClosed) {
		herr = nil
	}
	return errors.Join(herr, h.roomloopServer.Close())
}

// selfSigned returns a server TLS configuration with a fresh self-signed
// certificate for 127.0.0.1 (RoomloopTLS).
func selfSigned() (*tls.Config, error) {
	cert, err := selfsigned.New()
	if err != nil {
		return nil, err
	}
	return cert.Server, nil
}
