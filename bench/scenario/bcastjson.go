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

// The metrics of broadcast-json that the report compares across its
// implementations (report's compression table).
const (
	MetricJSONWire = "bytes on the wire per delivery"
	MetricJSONCPU  = "server CPU per 1M deliveries"
	MetricJSONRate = "deliveries/s"
	MetricJSONRSS  = "server RSS per connection, all joined"
)

// jsonRoom is broadcast-json's room; jsonMessages, how many distinct
// chat messages it cycles through.
const (
	jsonRoom     = "chat"
	jsonMessages = 512
)

// BroadcastJSON fills one room with JSONMembers connections, all of
// which offer permessage-deflate (as browsers do), and the first
// Publishers of which publish chat messages of 200 B to 1 KB of JSON
// (chatMessages), keeping JSONWindow messages in flight for Duration: a
// message is sent once fewer than JSONWindow earlier ones are still due
// to a member. The server compresses or not as it is configured
// (serve.Deflates). Reports deliveries/s, server CPU per million
// deliveries, bytes on the wire per delivery (everything the clients'
// sockets read, frame headers included) and the messages' inflated size,
// the share of deliveries that came compressed, frames per write, and
// the server's RSS per connection with every member joined and after the
// flood (after a GC, against the reading before connecting).
func BroadcastJSON(ctx context.Context, t Target, p Params) (r Result, err error) {
	members, inFlight := p.JSONMembers, max(p.JSONWindow, 1)
	if members < 2 {
		return r, fmt.Errorf("%s needs 2 members or more, not %d", BroadcastJSONName, members)
	}
	s0, err := t.Stats()
	if err != nil {
		return r, err
	}
	win := newWindow(inFlight, int64(members-1))
	var joined, rawBytes atomic.Int64
	cfg := poolConfig(t, func(c *load.Conn, m *load.Msg) {
		switch string(m.Event) {
		case "$joined":
			joined.Add(1)
		case "say":
			rawBytes.Add(int64(len(m.Raw)))
			win.deliver(load.Int(m.Payload, `"k":`))
		}
	})
	cfg.Deflate, cfg.NoSeq = true, implOf(t) == serve.BaselineDeflate
	pool, err := load.New(cfg)
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	conns, err := pool.OpenN(ctx, members, p.Dialers)
	if err != nil {
		return r, err
	}
	st := pool.Stats()
	r.add("connections with permessage-deflate", "count", float64(st.Deflate.Load()))
	if impl := implOf(t); impl != "" && serve.Deflates(impl) != (st.Deflate.Load() == int64(members)) {
		return r, fmt.Errorf("%s: %d of %d connections negotiated permessage-deflate", impl, st.Deflate.Load(), members)
	}
	for _, c := range conns {
		if err := c.Send([]byte(`{"event":"$join","room":"` + jsonRoom + `"}`)); err != nil {
			return r, err
		}
	}
	if err := load.WaitFor(ctx, "joined", joined.Load, int64(members), 60*time.Second); err != nil {
		return r, err
	}
	s1, err := t.Stats()
	if err != nil {
		return r, err
	}
	head, tails := chatMessages(jsonRoom, jsonMessages)
	pubs := conns[:min(max(p.Publishers, 1), len(conns))]
	cpu0, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	wire0, infl0, raw0 := st.WireBytes.Load(), st.Inflated.Load(), rawBytes.Load()
	start, sent := time.Now(), int64(0)
	for time.Since(start) < p.Duration {
		if err := win.waitDone(ctx, sent-int64(inFlight)+1, 20*time.Second); err != nil {
			return r, err
		}
		msg := head + strconv.FormatInt(sent, 10) + `,"t":` + strconv.FormatInt(time.Now().UnixNano(), 10) + tails[sent%jsonMessages]
		if err := pubs[sent%int64(len(pubs))].Send([]byte(msg)); err != nil {
			return r, err
		}
		sent++
	}
	if err := win.waitDone(ctx, sent, 20*time.Second); err != nil {
		return r, err
	}
	el := time.Since(start)
	cpu1, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	s2, err := t.Stats()
	if err != nil {
		return r, err
	}
	if n := win.bad.Load(); n > 0 {
		return r, fmt.Errorf("%d deliveries without a message number", n)
	}
	deliveries := float64(sent * int64(members-1))
	compressed := st.Inflated.Load() - infl0
	if serve.Deflates(implOf(t)) && compressed == 0 {
		return r, fmt.Errorf("%s negotiated permessage-deflate but compressed no delivery", implOf(t))
	}
	n := float64(members)
	r.add("messages published", "count", float64(sent))
	r.add(MetricJSONRate, "1/s", deliveries/el.Seconds())
	r.add(MetricJSONCPU, "s", (cpu1-cpu0)*1e6/deliveries)
	r.add(MetricJSONWire, "B", float64(st.WireBytes.Load()-wire0)/deliveries)
	r.add("message bytes per delivery, inflated", "B", float64(rawBytes.Load()-raw0)/deliveries)
	r.add("deliveries that came compressed", "%", 100*float64(compressed)/deliveries)
	r.add("frames per write", "frames", framesPerWrite(s1, s2))
	r.add(MetricJSONRSS, "KiB", (float64(s1.RSS)-float64(s0.RSS))/n/1024)
	r.add("server RSS per connection after the flood", "KiB", (float64(s2.RSS)-float64(s0.RSS))/n/1024)
	r.add("server heap in use per connection after the flood", "KiB", (float64(s2.HeapInuse)-float64(s0.HeapInuse))/n/1024)
	return r, nil
}

// implOf returns the implementation t runs; "" when it does not say.
func implOf(t Target) string {
	if it, ok := t.(ImplTarget); ok {
		return it.Impl()
	}
	return ""
}
