package scenario

import (
	"context"
	"time"
)

// Connect opens ConnectConns connections, Dialers at a time, and reports
// how fast the server upgrades them (counted until every $welcome).
func Connect(ctx context.Context, t Target, p Params) (r Result, err error) {
	pool, err := newPool(t, nil)
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)
	cpu0, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	start := time.Now()
	if _, err := pool.OpenN(ctx, p.ConnectConns, p.Dialers); err != nil {
		return r, err
	}
	el := time.Since(start)
	cpu1, err := serverCPU(t)
	if err != nil {
		return r, err
	}
	r.add("upgrades/s", "1/s", float64(p.ConnectConns)/el.Seconds())
	r.add("time to open all", "s", el.Seconds())
	r.add("server CPU per 1k upgrades", "ms", (cpu1-cpu0)*1e6/float64(p.ConnectConns))
	return r, nil
}
