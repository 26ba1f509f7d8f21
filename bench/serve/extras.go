package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/httpapi"
	"github.com/roomloop/roomloop/internal/metrics"
)

// APIKey is the bearer key of the HTTP API that a server started with
// Config.API serves.
const APIKey = "roomloop-bench"

// ScrapeInterval is how often a RoomloopMetrics server scrapes its own
// metrics, as a Prometheus server would.
const ScrapeInterval = time.Second

// extras are what a roomloop server may run beside roomloop: the HTTP API
// on an admin listener (Config.API) and, for RoomloopMetrics, the
// Prometheus metrics with a scraper. A nil *extras runs nothing.
type extras struct {
	hs   *http.Server
	ln   net.Listener
	stop chan struct{} // closed to stop the scraper
	done sync.WaitGroup
}

// startExtras starts what cfg asks for beside srv, whose client frames
// are validated by lim; nil when it asks for nothing.
func startExtras(cfg Config, srv *api.Server, lim frame.Limits) (*extras, error) {
	on := cfg.Impl == RoomloopMetrics
	if !on && !cfg.API {
		return nil, nil
	}
	e := &extras{}
	var observe func(string, int)
	if on {
		met := metrics.New(srv)
		observe = met.ObserveAPI
		e.stop = make(chan struct{})
		e.done.Go(func() { scrape(met.Handler(), e.stop) })
	}
	if cfg.API {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			_ = e.close()
			return nil, err
		}
		mux := http.NewServeMux()
		mux.Handle("/api/", httpapi.New(srv, httpapi.Options{APIKey: APIKey, Limits: lim, Observe: observe}))
		e.ln, e.hs = ln, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = e.hs.Serve(ln) }()
	}
	return e, nil
}

// scrape serves h's GET /metrics every ScrapeInterval into a writer that
// discards the body, until stop is closed: the cost of collecting and
// encoding every series, as a Prometheus scrape pays it, without the
// socket.
func scrape(h http.Handler, stop <-chan struct{}) {
	tick := time.NewTicker(ScrapeInterval)
	defer tick.Stop()
	req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			h.ServeHTTP(&discard{header: http.Header{}}, req)
		}
	}
}

// discard is an http.ResponseWriter that keeps nothing.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// adminAddr returns the admin listener's address; "" without one.
func (e *extras) adminAddr() string {
	if e == nil || e.ln == nil {
		return ""
	}
	return e.ln.Addr().String()
}

// close stops the admin listener and the scraper.
func (e *extras) close() error {
	if e == nil {
		return nil
	}
	var err error
	if e.hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err = e.hs.Shutdown(ctx); errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	if e.stop != nil {
		close(e.stop)
		e.done.Wait()
	}
	return err
}
