// Package metrics exposes a roomloop server's counters to Prometheus: a
// Collector that reads api.Server.Stats at scrape time (the server counts
// with single atomic adds where its events happen; nothing Prometheus runs
// on the hot path), the HTTP API's request counter, and the Go runtime and
// process collectors, on a registry of their own. Every series is named
// roomloop_*, except the standard go_* and process_* ones. The series:
// docs/metrics.md.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roomloop/roomloop/api"
)

const ns = "roomloop"

// Metrics is a registry holding a server's metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
}

// New returns the metrics of srv: its collector, the HTTP API request
// counter (fed by ObserveAPI) and the Go and process collectors.
func New(srv *api.Server) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "api_requests_total",
		Help: "HTTP API requests by endpoint and status code.",
	}, []string{"endpoint", "code"})
	m.reg.MustRegister(NewCollector(srv), m.requests,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, to add more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveAPI counts one HTTP API request (httpapi.Options.Observe).
func (m *Metrics) ObserveAPI(endpoint string, status int) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Collector is a prometheus.Collector over a server's Stats.
type Collector struct {
	srv *api.Server
}

// NewCollector returns the collector of srv's Stats.
func NewCollector(srv *api.Server) *Collector { return &Collector{srv: srv} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

var (
	dConnections   = desc("connections_open", "Open TCP connections, upgraded or not.")
	dAccepted      = desc("connections_accepted_total", "Connections accepted, by the way they came in (listener, tls, http: ServeHTTP).", "way")
	dSessions      = desc("sessions_active", "Live sessions, connected or suspended.")
	dSuspended     = desc("sessions_suspended", "Sessions waiting for a resume.")
	dRooms         = desc("rooms", "Rooms with at least one member.")
	dQueued        = desc("queued_bytes", "Frame bytes held in queues and replay buffers.")
	dFramesOut     = desc("frames_written_total", "Frames written to clients (stream frames: application and roomloop control frames).")
	dWrites        = desc("writes_total", "Socket writes that carried frames; frames_written_total / writes_total is the coalescing.")
	dBytesOut      = desc("bytes_written_total", "Bytes written to clients' sockets (frames, pings and close frames).")
	dBytesIn       = desc("bytes_read_total", "Bytes read from clients' sockets (upgrade requests, frames with their headers, control frames).")
	dFramesIn      = desc("frames_read_total", "Client messages handed to the server.")
	dPauses        = desc("inbox_pauses_total", "Times reading a client was paused because 256 of its messages waited to be handled.")
	dStalls        = desc("inbox_stalls_total", "Clients closed with 1008 because their waiting messages saw none handled for InboxTimeout.")
	dSlow          = desc("slow_consumer_closes_total", "Connections closed with 4002 for a full queue.")
	dDropped       = desc("frames_dropped_total", "Frames dropped for full queues under the Drop policy.")
	dResumes       = desc("resumes_total", "Resume requests by outcome: resumed, or the reason refused (unknown, expired, gap, invalid).", "outcome")
	dRefusals      = desc("upgrade_refusals_total", "Refused WebSocket upgrades by HTTP status (0: other).", "status")
	dRateLimited   = desc("rate_limited_frames_total", "Frames refused by a rate limit, by bucket (join, publish, direct, fanout).", "kind")
	dPresence      = desc("presence_frames_total", "$presence diffs queued for clients (one per member of a room per diff).")
	dHandler       = desc("handler_duration_seconds", "Time to handle a client frame: its handler, or the default route (api.Options.Histograms).")
	dFanOut        = desc("room_fanout_recipients", "Recipients each frame sent to a room was queued for (api.Options.Histograms).")
	collectorDescs = []*prometheus.Desc{dConnections, dAccepted, dSessions, dSuspended, dRooms, dQueued,
		dFramesOut, dWrites, dBytesOut, dBytesIn, dFramesIn, dPauses, dStalls, dSlow, dDropped, dResumes, dRefusals, dRateLimited,
		dPresence, dHandler, dFanOut}
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range collectorDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one Stats snapshot per scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.srv.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(dConnections, float64(st.Connections))
	counter(dAccepted, st.Accepted.Listener, "listener")
	counter(dAccepted, st.Accepted.TLS, "tls")
	counter(dAccepted, st.Accepted.HTTP, "http")
	gauge(dSessions, float64(st.Sessions))
	gauge(dSuspended, float64(st.Suspended))
	gauge(dRooms, float64(st.Rooms))
	gauge(dQueued, float64(st.QueuedBytes))
	counter(dFramesOut, st.FramesWritten)
	counter(dWrites, st.Writes)
	counter(dBytesOut, st.BytesWritten)
	counter(dFramesIn, st.FramesRead)
	counter(dBytesIn, st.BytesRead)
	counter(dPauses, st.InboxPauses)
	counter(dStalls, st.InboxStalls)
	counter(dSlow, st.SlowConsumerCloses)
	counter(dDropped, st.FramesDropped)
	counter(dPresence, st.PresenceFrames)
	r := st.Resumes
	counter(dResumes, r.Resumed, "resumed")
	counter(dResumes, r.Unknown, "unknown")
	counter(dResumes, r.Expired, "expired")
	counter(dResumes, r.Gap, "gap")
	counter(dResumes, r.Invalid, "invalid")
	for status, n := range st.UpgradeRefusals {
		counter(dRefusals, n, strconv.Itoa(status))
	}
	l := st.RateLimited
	counter(dRateLimited, l.Join, "join")
	counter(dRateLimited, l.Publish, "publish")
	counter(dRateLimited, l.Direct, "direct")
	counter(dRateLimited, l.Fanout, "fanout")
	histogram(ch, dHandler, st.HandlerSeconds)
	histogram(ch, dFanOut, st.FanOut)
}

// histogram sends h as a Prometheus histogram (cumulative buckets); none
// when the server keeps no histograms.
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h api.Histogram) {
	if h.Bounds == nil {
		return
	}
	buckets := make(map[float64]uint64, len(h.Bounds))
	var cum uint64
	for i, b := range h.Bounds {
		cum += h.Counts[i]
		buckets[b] = cum
	}
	ch <- prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets)
}
