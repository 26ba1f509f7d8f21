// Package scenario holds the benchmark scenarios. Each drives one running
// server (the Target) with the load generator and returns named metrics;
// the runner calls each against both implementations.
package scenario

import (
	"context"
	"crypto/tls"
	"math"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/bench/serve"
)

// Target is the server under test, in its own process.
type Target interface {
	Addr() string
	// Sample reads the server process's RSS, threads and CPU from /proc.
	Sample() (procstat.Sample, error)
	// Stats asks the server for its runtime stats (after a GC).
	Stats() (serve.Stats, error)
	// StatsFreed is Stats after the server returned its free memory to
	// the OS.
	StatsFreed() (serve.Stats, error)
}

// Metric is one measured number.
type Metric struct {
	Name  string  `json:"name"`
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
}

// Result is what one scenario run measured.
type Result struct {
	Metrics []Metric `json:"metrics"`
	// Spread is how events spread over time, for a scenario that reports
	// it (reconnect); nil for the others.
	Spread *Spread `json:"spread,omitempty"`
}

// add appends a metric; a value that is not finite (a rate over a CPU
// time too small to measure) is left out.
func (r *Result) add(name, unit string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	r.Metrics = append(r.Metrics, Metric{name, unit, v})
}

// Func runs a scenario against t.
type Func func(ctx context.Context, t Target, p Params) (Result, error)

// Names lists the scenarios in the order "all" runs them.
func Names() []string {
	return []string{"idle", "broadcast", "echo", "connect", "slowconsumer", "resume", "reconnect", "resume-load", APIPublishName, BroadcastJSONName, ClusterFanoutName, ClusterPairsName, ClusterIdleName, ClusterResumeName, ClusterHoldName}
}

// ServerArgs returns the extra server flags scenario name needs: resume
// and reconnect run roomloop with session resumption on (the baseline
// ignores it), resume-load with api's default options, api-publish with
// the HTTP API served, cluster-resume with resumption on and its nodes
// keeping drained sessions for ClusterResumeHandoverWait.
func ServerArgs(name string) []string {
	switch name {
	case APIPublishName:
		return []string{"-api"}
	case "resume", "reconnect":
		return []string{"-resume"}
	case "resume-load":
		return []string{"-defaults"}
	case ClusterResumeName:
		return []string{"-resume", "-handover-wait", ClusterResumeHandoverWait}
	}
	return nil
}

// Variants returns what scenario name compares instead of the two
// implementations: reconnect runs roomloop only, once with the Go
// client's jitter on and once with it off (Params.Variant says which);
// resume-load runs roomloop only, with its default options;
// cluster-fanout, cluster-pairs and cluster-idle run roomloop only, as a
// cluster of ClusterNodes nodes and as one node (Nodes); cluster-resume
// and cluster-hold as a cluster only. nil: the scenario runs against serve.Impls.
func Variants(name string) []string {
	switch name {
	case "reconnect":
		return []string{VariantJitter, VariantNoJitter}
	case "resume-load":
		return []string{VariantDefaults}
	case ClusterFanoutName, ClusterPairsName, ClusterIdleName:
		return []string{VariantCluster, VariantSingle}
	case ClusterResumeName, ClusterHoldName:
		return []string{VariantCluster}
	}
	return nil
}

// Calibration is a parameter of a scenario that is derived from the
// baseline's own result in the same invocation: the runner runs the
// scenario once against the baseline with the parameters as given, reads
// Metric, and calls Apply before the measured rounds.
type Calibration struct {
	Metric string
	// Needed reports whether p still lacks the parameter.
	Needed func(p Params) bool
	Apply  func(p *Params, v float64)
}

// CalibrationFor returns scenario name's calibration, if it has one:
// echo's fixed-rate phase runs at EchoRateFraction (default one half) of
// the baseline's closed-loop round trips/s.
func CalibrationFor(name string) (Calibration, bool) {
	if name != "echo" {
		return Calibration{}, false
	}
	return Calibration{
		Metric: "round trips/s",
		Needed: func(p Params) bool { return p.EchoRate == 0 && p.EchoRateFraction > 0 },
		Apply:  func(p *Params, v float64) { p.EchoRate = math.Round(v * p.EchoRateFraction) },
	}, true
}

// ByName returns the scenario called name.
func ByName(name string) (Func, bool) {
	switch name {
	case "idle":
		return Idle, true
	case "broadcast":
		return Broadcast, true
	case "echo":
		return Echo, true
	case "connect":
		return Connect, true
	case "slowconsumer":
		return SlowConsumer, true
	case "resume":
		return Resume, true
	case "reconnect":
		return Reconnect, true
	case "resume-load":
		return ResumeLoad, true
	case APIPublishName:
		return APIPublish, true
	case BroadcastJSONName:
		return BroadcastJSON, true
	case ClusterFanoutName:
		return ClusterFanout, true
	case ClusterPairsName:
		return ClusterPairs, true
	case ClusterIdleName:
		return ClusterIdle, true
	case ClusterResumeName:
		return ClusterResume, true
	case ClusterHoldName:
		return ClusterHold, true
	}
	return nil, false
}

// TLSTarget is a Target that may serve wss:// only (serve.RoomloopTLS).
type TLSTarget interface {
	TLS() bool
}

// newPool starts a load pool for t with handler h; over TLS when t says
// so. The clients do not verify the server's certificate: it is the
// benchmark's own, self-signed, made when the server started.
func newPool(t Target, h func(*load.Conn, *load.Msg)) (*load.Pool, error) {
	return load.New(poolConfig(t, h))
}

// poolConfig is the configuration newPool starts a pool with.
func poolConfig(t Target, h func(*load.Conn, *load.Msg)) load.Config {
	cfg := load.Config{Addr: t.Addr(), Handler: h, Centrifuge: speaksCentrifuge(t)}
	if tt, ok := t.(TLSTarget); ok && tt.TLS() {
		cfg.TLS = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	return cfg
}

// closePool closes p and reports the protocol errors its clients saw as
// metrics, so that a server that loses or garbles frames shows in the
// table.
func closePool(p *load.Pool, r *Result) {
	_ = p.Close(5 * time.Second)
	st := p.Stats()
	r.add("client-seen protocol errors (malformed + seq gaps)", "count", float64(st.Malformed.Load()+st.SeqErrors.Load()))
}

// serverCPU returns the server's CPU seconds so far.
func serverCPU(t Target) (float64, error) {
	s, err := t.Sample()
	return s.CPU, err
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sendJoins sends each connection a $join of room(i), i its index (room
// names here need no JSON escaping).
func sendJoins(conns []*load.Conn, room func(i int) string) error {
	for i, c := range conns {
		if err := c.Send([]byte(`{"event":"$join","room":"` + room(i) + `"}`)); err != nil {
			return err
		}
	}
	return nil
}
