package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/bench/report"
	"github.com/roomloop/roomloop/bench/runner"
	"github.com/roomloop/roomloop/bench/scenario"
	"github.com/roomloop/roomloop/bench/serve"
)

// TestMain lets the test binary serve as the benchmark's server child:
// the runner re-executes it with "server".
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "server" || os.Args[1] == "nats" || os.Args[1] == "hold") {
		os.Exit(dispatch(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestRunAllQuick runs every scenario once against its implementations
// with tiny sizes (broadcast also against roomloop with metrics on,
// api-publish against roomloop only, broadcast-json against roomloop and
// the baseline with permessage-deflate on and off, and cluster-fanout
// against three nodes on a NATS child and against one node), and idle also against roomloop's
// other ways in (ServeHTTP, TLS), and checks that each produced numbers,
// without errors. It asserts nothing about speed.
func TestRunAllQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := scenario.Params{
		IdleConns: 200, Members: 20, Publishers: 2, EchoConns: 10, ConnectConns: 40,
		SlowReaders: 10, SlowStalled: 2, Duration: 300 * time.Millisecond, Dialers: 8,
		LightRate: 20, LightMembers: 10, ResumeConns: 30, ResumeMissed: 5, EchoRateFraction: 0.5,
		Reconnects: 30, ResumeLoadConns: 20, ResumeLoadRate: 200, ResumeLoadFlood: time.Second, ResumeLoadCuts: 3,
		APIMembers: 20, APIClients: 4, JSONMembers: 20, JSONWindow: 4, JSONRate: 50, ClusterMembers: 60, ClusterInFlight: 4,
		PairRooms: 30, PairInFlight: 2, ClusterIdleConns: 120, ClusterResumeConns: 150, ClusterResumeMissed: 2, HoldConns: 500,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rounds, err := runner.Run(ctx, runner.Config{
		Exe: exe, ServerArgs: []string{"server"}, Scenarios: scenario.Names(),
		Rounds: 1, Params: p, Timeout: 30 * time.Second, WaysIn: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	metrics := map[string]map[string]float64{} // scenario/impl → metric → value
	for _, rd := range rounds {
		m := map[string]float64{}
		for _, x := range rd.Metrics {
			m[x.Name] = x.Value
		}
		key := rd.Scenario + "/" + rd.Column()
		metrics[key] = m
		if rd.Err != "" {
			t.Errorf("%s: %s", key, rd.Err)
		}
		if len(rd.Metrics) == 0 {
			t.Errorf("%s: no metrics", key)
		}
		got[key]++
	}
	for _, s := range scenario.Names() {
		cols := scenario.Variants(s)
		if cols == nil {
			cols = scenario.Impls(s)
		}
		for _, col := range cols {
			if got[s+"/"+col] != 1 {
				t.Errorf("%s/%s: %d rounds, want 1", s, col, got[s+"/"+col])
			}
		}
	}
	// idle ran through every way in, each with every connection joined
	// and no goroutine per connection; the report sets them side by side.
	for _, impl := range serve.WaysIn() {
		m := metrics["idle/"+impl]
		require.Contains(t, m, "server RSS per connection, free pages returned", impl)
		assert.Equal(t, float64(p.IdleConns), m["connections"], impl)
		assert.Less(t, m["server goroutines"], float64(p.IdleConns/2), impl)
		assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"], impl)
	}
	assert.Equal(t, 1, got["idle/"+serve.RoomloopHTTP], serve.RoomloopHTTP)
	assert.Equal(t, 1, got["idle/"+serve.RoomloopTLS], serve.RoomloopTLS)
	var md bytes.Buffer
	report.Markdown(&md, rounds)
	assert.Contains(t, md.String(), "### idle: roomloop's ways in")
	rows := report.WaysIn(rounds)
	require.NotEmpty(t, rows)
	for _, row := range rows {
		assert.Equal(t, "idle", row.Scenario)
	}
	// The echo rounds ran a fixed-rate phase at half the calibrated
	// baseline rate; the light-load broadcast phase ran for both.
	cal := metrics["echo (calibration)/"+serve.Baseline]["round trips/s"]
	require.Positive(t, cal, "calibration round")
	for _, impl := range serve.Impls() {
		assert.Contains(t, metrics["broadcast/"+impl], "light load 20 msg/s, 10 members: latency p50", impl)
		var fixed bool
		for name := range metrics["echo/"+impl] {
			fixed = fixed || strings.HasPrefix(name, "fixed rate "+strconv.FormatFloat(math.Round(cal/2), 'f', 0, 64)+"/s")
		}
		assert.True(t, fixed, "%s: no fixed-rate echo metrics in %v", impl, metrics["echo/"+impl])
	}
	// roomloop resumed every session with every missed message; the
	// baseline, which has no resumption, reconnected afresh.
	rl, bl := metrics["resume/"+serve.Roomloop], metrics["resume/"+serve.Baseline]
	assert.Equal(t, float64(p.ResumeConns), rl["clients resumed"])
	assert.Equal(t, 0.0, rl["resumes refused"])
	assert.Equal(t, float64(p.ResumeMissed), rl["missed messages recovered per client"])
	assert.Equal(t, 0.0, rl["resumed clients: missed messages lost, repeated or reordered"])
	assert.Equal(t, 0.0, bl["clients resumed"])
	assert.Equal(t, 0.0, bl["missed messages recovered per client"])
	// reconnect ran roomloop only, with jitter on and off: every client
	// got 1001 at the SIGTERM and came back to the new process with a new
	// session, and the report drew the spread.
	for _, v := range scenario.Variants("reconnect") {
		m := metrics["reconnect/"+v]
		n := float64(p.Reconnects)
		assert.Equal(t, n, m["clients dropped with close 1001"], v)
		assert.Equal(t, n, m["clients back with a gap, reason unknown"], v)
		assert.Equal(t, 0.0, m["clients back resumed (none can be)"], v)
		assert.Positive(t, m[scenario.MetricPeakAccepts], v)
	}
	for _, rd := range rounds {
		if rd.Scenario == "reconnect" {
			assert.Equal(t, serve.Roomloop, rd.Impl)
			require.NotNil(t, rd.Spread, rd.Variant)
		}
	}
	assert.Contains(t, md.String(), "### reconnect: spread over time")
	// resume-load cut every session and each cut came back with a
	// $welcome, resumed or refused; its row is in the report.
	m := metrics["resume-load/"+scenario.VariantDefaults]
	assert.Positive(t, m["cuts"])
	refused := m[scenario.MetricRLGap] + m[scenario.MetricRLExpired] + m[scenario.MetricRLUnknown] + m[scenario.MetricRLInvalid]
	assert.GreaterOrEqual(t, m[scenario.MetricRLResumes]+refused, m["cuts"])
	assert.Contains(t, md.String(), "### resume-load: row")
	// broadcast also ran roomloop with its metrics on and scraped, and the
	// report set it beside roomloop with them off.
	on := metrics["broadcast/"+serve.RoomloopMetrics]
	for _, name := range []string{"one-at-a-time: deliveries/s", "burst 16: deliveries/s"} {
		assert.Positive(t, on[name], name)
	}
	assert.Equal(t, 0.0, on["client-seen protocol errors (malformed + seq gaps)"])
	assert.Contains(t, md.String(), "### broadcast: roomloop with metrics off and on")
	assert.Contains(t, md.String(), "Deliveries/s with metrics on / off: one-at-a-time ")
	assert.Contains(t, md.String(), "Server CPU per delivery with metrics on / off: one-at-a-time ")
	onOff := report.OnOff(rounds)
	require.NotEmpty(t, onOff)
	for _, row := range onOff {
		assert.Equal(t, "broadcast", row.Scenario)
	}
	// api-publish published over the HTTP API, and every answered publish
	// reached every member.
	api := metrics[scenario.APIPublishName+"/"+serve.Roomloop]
	require.Positive(t, api["requests answered"])
	assert.Positive(t, api["requests/s"])
	assert.Equal(t, api["requests answered"]*float64(p.APIMembers), api["deliveries"])
	assert.Equal(t, 0.0, api["publishes that reached fewer than every member"])
	assert.Equal(t, 0.0, api["client-seen protocol errors (malformed + seq gaps)"])
	assert.Contains(t, md.String(), "### api-publish\n\n| metric | roomloop |")
	// broadcast-json ran with and without compression: every member of
	// the compressed servers negotiated it and got compressed chat
	// messages, smaller on the wire than the uncompressed servers sent
	// them; the report judged the goals.
	for _, impl := range scenario.Impls(scenario.BroadcastJSONName) {
		m := metrics[scenario.BroadcastJSONName+"/"+impl]
		assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"], impl)
		if serve.Deflates(impl) {
			assert.Equal(t, float64(p.JSONMembers), m["connections with permessage-deflate"], impl)
		} else {
			assert.Equal(t, 0.0, m["connections with permessage-deflate"], impl)
		}
		for _, phase := range []string{"4 in flight: ", "fixed 50 msg/s: "} {
			assert.Positive(t, m[phase+scenario.MetricJSONRate], impl+" "+phase)
			assert.Contains(t, m, phase+scenario.MetricJSONCPU, impl) // 0 where the server used less than a clock tick
			inflated := m[phase+"message bytes per delivery, inflated"]
			assert.True(t, inflated >= 200 && inflated <= 1100, "%s %s%v B per message", impl, phase, inflated)
			if serve.Deflates(impl) {
				assert.Positive(t, m[phase+"deliveries that came compressed"], impl+" "+phase)
				assert.Less(t, m[phase+scenario.MetricJSONWire], inflated, impl+" "+phase)
			} else {
				assert.Equal(t, 0.0, m[phase+"deliveries that came compressed"], impl+" "+phase)
				assert.Greater(t, m[phase+scenario.MetricJSONWire], inflated, impl+" "+phase)
			}
		}
	}
	assert.Contains(t, md.String(), "- fixed 50 msg/s: server CPU per delivery, roomloop compressed / roomloop uncompressed: ")
	c := report.CompressionSummary(rounds)
	require.NotNil(t, c)
	require.Len(t, c.Goals, 4, "two goals, two phases")
	// A ratio is judged wherever its denominator was measured: at quick
	// sizes a phase's server CPU can be under one clock tick.
	for _, row := range c.Rows {
		if !strings.HasSuffix(row.Metric, scenario.MetricJSONCPU) {
			continue
		}
		if row.Impls[serve.Roomloop].Median > 0 {
			assert.NotNil(t, row.Own, row.Metric)
		}
		if row.Impls[serve.BaselineDeflate].Median > 0 {
			assert.NotNil(t, row.Peer, row.Metric)
		}
	}
	// cluster-fanout ran against three nodes on a NATS child and against
	// one node; every member got every message once, in order.
	for v, nodes := range map[string]float64{scenario.VariantCluster: scenario.ClusterNodes, scenario.VariantSingle: 1} {
		m := metrics[scenario.ClusterFanoutName+"/"+v]
		assert.Equal(t, nodes, m["nodes"], v)
		assert.Equal(t, float64(p.ClusterMembers), m["members"], v)
		assert.Positive(t, m["deliveries/s"], v)
		assert.Equal(t, 0.0, m["deliveries out of order or repeated"], v)
		assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"], v)
	}
	assert.Contains(t, md.String(), "| metric | cluster | single | ratio cluster/single |")
	// cluster-pairs and cluster-idle ran against both too.
	for v, nodes := range map[string]float64{scenario.VariantCluster: scenario.ClusterNodes, scenario.VariantSingle: 1} {
		m := metrics[scenario.ClusterPairsName+"/"+v]
		assert.Equal(t, nodes, m["nodes"], v)
		assert.Positive(t, m["deliveries/s"], v)
		assert.Equal(t, 0.0, m["deliveries out of order or repeated"], v)
		assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"], v)
		m = metrics[scenario.ClusterIdleName+"/"+v]
		assert.Equal(t, nodes, m["nodes"], v)
		assert.Equal(t, float64(p.ClusterIdleConns), m["connections"], v)
		assert.Positive(t, m["roomloop heap in use per connection (all nodes)"], v)
	}
	// cluster-resume: every session on the drained node came back
	// resumed on another node, every message once and in order.
	m = metrics[scenario.ClusterResumeName+"/"+scenario.VariantCluster]
	n := float64(p.ClusterResumeConns)
	assert.Equal(t, n, m["closed with 1001"])
	assert.Equal(t, n, m["sessions resumed on another node"])
	assert.Equal(t, 0.0, m["resumes refused"])
	assert.Equal(t, 0.0, m["resumed sessions: messages lost, repeated or reordered"])
	assert.Equal(t, 0.0, m["client-seen protocol errors (malformed + seq gaps)"])
	// cluster-hold: five nodes, each with a hold process of its own,
	// held every connection.
	m = metrics[scenario.ClusterHoldName+"/"+scenario.VariantCluster]
	assert.Equal(t, float64(scenario.HoldNodes), m["nodes"])
	assert.Equal(t, float64(p.HoldConns), m["connections held (hold processes)"])
	assert.Equal(t, float64(p.HoldConns), m["connections held (nodes)"])
}

// TestScenarioList checks the scenario list and flag expansion.
func TestScenarioList(t *testing.T) {
	if got := scenarios("all"); len(got) != 15 || got[9] != scenario.BroadcastJSONName || got[10] != scenario.ClusterFanoutName || got[13] != scenario.ClusterResumeName {
		t.Fatalf("all = %v", got)
	}
	if got := scenarios("echo,,idle"); len(got) != 2 || got[0] != "echo" || got[1] != "idle" {
		t.Fatalf("list = %v", got)
	}
	for _, n := range scenario.Names() {
		if _, ok := scenario.ByName(n); !ok {
			t.Fatalf("%s not found", n)
		}
	}
}
