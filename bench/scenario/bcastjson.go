package scenario

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
	"github.com/roomloop/roomloop/bench/serve"
)

// BroadcastJSONName is the scenario of realistic JSON chat messages into
// one room, with permessage-deflate and without.
const BroadcastJSONName = "broadcast-json"

// The ends of the names of broadcast-json's per-phase metrics (each
// metric is named "<phase>: <end>"), which the report compares across
// the implementations.
const (
	MetricJSONWire = "bytes on the wire per delivery"
	MetricJSONCPU  = "server CPU per 1M deliveries"
	MetricJSONRate = "deliveries/s"
)

// jsonRoom is broadcast-json's room; jsonMessages, how many distinct
// chat messages it cycles through.
const (
	jsonRoom     = "chat"
	jsonMessages = 512
)

// BroadcastJSON fills one room with JSONMembers connections, all of
// which offer permessage-deflate (as browsers do); the server compresses
// or not as it is configured (serve.Deflates). The clients inflate each
// distinct compressed body once (load.Config.InflateCache), so that the
// load generator's one core limits a compressing server less; with
// JSONInflateEach, every message on its own. The first Publishers
// members publish chat messages of 200 B to 1 KB of JSON (chatMessages)
// in two phases of Duration each: (a) JSONWindow messages in flight (a
// message is sent once fewer than JSONWindow earlier ones are still due
// to a member), the most the server and the load generator sustain
// together; (b) JSONRate messages/s at a fixed pace (an open loop), the
// same offered load for every server. Each phase reports deliveries/s,
// server CPU per million deliveries, bytes on the wire per delivery
// (everything the clients' sockets read, frame headers included), the
// messages' size once inflated, the share of deliveries that came
// compressed, and frames per write. Also the server's RSS per
// connection with every member joined and after both phases, and heap
// per connection after them (after a GC, against the readings before
// connecting).
func BroadcastJSON(ctx context.Context, t Target, p Params) (r Result, err error) {
	members := p.JSONMembers
	if members < 2 {
		return r, fmt.Errorf("%s needs 2 members or more, not %d", BroadcastJSONName, members)
	}
	impl := implOf(t)
	s0, err := t.Stats()
	if err != nil {
		return r, err
	}
	j := &jsonRun{t: t, members: members, win: newWindow(max(p.JSONWindow, 1), int64(members-1))}
	var joined atomic.Int64
	cfg := poolConfig(t, func(c *load.Conn, m *load.Msg) {
		switch string(m.Event) {
		case "$joined":
			joined.Add(1)
		case "say":
			j.raw.Add(int64(len(m.Raw)))
			j.win.deliver(load.Int(m.Payload, `"k":`))
		}
	})
	cfg.Deflate, cfg.InflateCache, cfg.NoSeq = true, !p.JSONInflateEach, impl == serve.BaselineDeflate
	pool, err := load.New(cfg)
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	conns, err := pool.OpenN(ctx, members, p.Dialers)
	if err != nil {
		return r, err
	}
	j.st = pool.Stats()
	negotiated := j.st.Deflate.Load()
	r.add("connections with permessage-deflate", "count", float64(negotiated))
	if impl != "" && serve.Deflates(impl) != (negotiated == int64(members)) {
		return r, fmt.Errorf("%s: %d of %d connections negotiated permessage-deflate", impl, negotiated, members)
	}
	if err := sendJoins(conns, func(_ int) string { return jsonRoom }); err != nil {
		return r, err
	}
	if err := load.WaitFor(ctx, "joined", joined.Load, int64(members), 60*time.Second); err != nil {
		return r, err
	}
	s1, err := t.Stats()
	if err != nil {
		return r, err
	}
	n := float64(members)
	r.add("server RSS per connection, all joined", "KiB", (float64(s1.RSS)-float64(s0.RSS))/n/1024)
	j.head, j.tails = chatMessages(jsonRoom, jsonMessages)
	j.pubs = conns[:min(max(p.Publishers, 1), len(conns))]

	window := strconv.Itoa(max(p.JSONWindow, 1)) + " in flight"
	err = j.phase(ctx, &r, window, func() error {
		for start := time.Now(); time.Since(start) < p.Duration; {
			if err := j.win.waitDone(ctx, j.sent-int64(max(p.JSONWindow, 1))+1, 20*time.Second); err != nil {
				return err
			}
			if err := j.send(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if k := int(p.JSONRate * p.Duration.Seconds()); k > 0 {
		rate := "fixed " + strconv.FormatFloat(p.JSONRate, 'g', 4, 64) + " msg/s"
		err = j.phase(ctx, &r, rate, func() error {
			return paced(ctx, p.JSONRate, k, func(int) error { return j.send() })
		})
		if err != nil {
			return r, err
		}
	}
	s2, err := t.Stats()
	if err != nil {
		return r, err
	}
	if k := j.win.bad.Load(); k > 0 {
		return r, fmt.Errorf("%d deliveries without a message number", k)
	}
	r.add("server RSS per connection after the flood", "KiB", (float64(s2.RSS)-float64(s0.RSS))/n/1024)
	r.add("server heap in use per connection after the flood", "KiB", (float64(s2.HeapInuse)-float64(s0.HeapInuse))/n/1024)
	return r, nil
}

// jsonRun is one broadcast-json run: its room's members, publishers,
// messages and counts.
type jsonRun struct {
	t       Target
	members int
	win     *window
	st      *load.Stats
	raw     atomic.Int64 // bytes of the chat messages received, inflated
	pubs    []*load.Conn
	head    string
	tails   []string
	sent    int64 // messages sent; only the publishing goroutine touches it
}

// send publishes message number j.sent from the next publisher, stamped
// with the time.
func (j *jsonRun) send() error {
	k := j.sent
	msg := j.head + strconv.FormatInt(k, 10) + `,"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + j.tails[k%int64(len(j.tails))]
	j.sent++
	return j.pubs[k%int64(len(j.pubs))].Send([]byte(msg))
}

// phase runs publish, waits until every message it sent has reached
// every member, and adds the phase's metrics, named "<name>: …", to r.
// The server's stats (which collect its garbage) are read outside the
// CPU measurement.
func (j *jsonRun) phase(ctx context.Context, r *Result, name string, publish func() error) error {
	w0, err := j.t.Stats()
	if err != nil {
		return err
	}
	cpu0, err := serverCPU(j.t)
	if err != nil {
		return err
	}
	first, wire0, infl0, raw0 := j.sent, j.st.WireBytes.Load(), j.st.Inflated.Load(), j.raw.Load()
	start := time.Now()
	if err := publish(); err != nil {
		return err
	}
	if err := j.win.waitDone(ctx, j.sent, 20*time.Second); err != nil {
		return err
	}
	el := time.Since(start)
	cpu1, err := serverCPU(j.t)
	if err != nil {
		return err
	}
	w1, err := j.t.Stats()
	if err != nil {
		return err
	}
	deliveries := float64((j.sent - first) * int64(j.members-1))
	compressed := j.st.Inflated.Load() - infl0
	if impl := implOf(j.t); serve.Deflates(impl) && compressed == 0 {
		return fmt.Errorf("%s: %s negotiated permessage-deflate but compressed no delivery", name, impl)
	}
	r.add(name+": messages published", "count", float64(j.sent-first))
	r.add(name+": "+MetricJSONRate, "1/s", deliveries/el.Seconds())
	r.add(name+": "+MetricJSONCPU, "s", (cpu1-cpu0)*1e6/deliveries)
	r.add(name+": "+MetricJSONWire, "B", float64(j.st.WireBytes.Load()-wire0)/deliveries)
	r.add(name+": message bytes per delivery, inflated", "B", float64(j.raw.Load()-raw0)/deliveries)
	r.add(name+": deliveries that came compressed", "%", 100*float64(compressed)/deliveries)
	r.add(name+": frames per write", "frames", framesPerWrite(w0, w1))
	return nil
}

// implOf returns the implementation t runs; "" when it does not say.
func implOf(t Target) string {
	if it, ok := t.(ImplTarget); ok {
		return it.Impl()
	}
	return ""
}
