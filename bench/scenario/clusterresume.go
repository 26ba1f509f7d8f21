package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// Cluster-resume's sizes: room members, how long the node may take to
// drain and exit, and the bound on each wait.
const (
	crRoom     = 100
	crExitWait = 60 * time.Second
	crWait     = 90 * time.Second
)

// ClusterResumeHandoverWait is the -handover-wait cluster-resume's nodes
// run with: how long the drained node keeps its sessions.
const ClusterResumeHandoverWait = "30s"

// ClusterResume measures a mass resume after a drain. ClusterResumeConns
// sessions connect to the first node and join rooms of 100 (cold: dial,
// upgrade, $welcome, $join, $joined); one publisher per room, on the last
// node, sends ClusterResumeMissed messages into its room, and every
// member gets them. Then the first node gets SIGTERM: it drains (close
// 1001) and keeps the sessions for resumes elsewhere (-handover-wait).
// Right after the signal, each publisher sends ClusterResumeMissed more.
// Every client, at its close, resumes with its token and last seq on
// another node (session i on node 2 + i modulo the others), Dialers at a
// time. It reports the sessions back resumed and refused, the time from
// the signal until all are back (a $welcome with resumed:true, or a
// refused one's $joined after it joined again) and until every resumed
// one has every message, against the cold connect + join time of the
// same sessions. Exactness: each resumed session's messages must run on
// without a gap, repeat or reordering across the move, and its seq
// contiguous (the client's seq check continues from the last seq).
func ClusterResume(ctx context.Context, t Target, p Params) (r Result, err error) {
	addrs := nodeAddrs(t)
	term, ok := t.(NodeTerminator)
	if !ok || len(addrs) < 2 {
		return r, fmt.Errorf("%s: needs a cluster of 2 or more nodes", ClusterResumeName)
	}
	n, m := p.ClusterResumeConns, int64(p.ClusterResumeMissed)
	if n < 1 || m < 1 {
		return r, fmt.Errorf("%s: needs 1 or more sessions and messages (got %d, %d)", ClusterResumeName, n, m)
	}
	rooms := (n + crRoom - 1) / crRoom
	var drained atomic.Bool
	var joined, got, back, resumed, refused, complete, disorder, goingAway atomic.Int64
	next := make([]atomic.Int64, n)      // session i's next k, across its connections
	wasRefused := make([]atomic.Bool, n) // session i came back as a new session
	var clients atomic.Pointer[[]*load.Conn]
	closed := make(chan int, n) // sessions whose first connection ended after the drain began
	wake := make(chan struct{}, 1)
	var t0 atomic.Int64 // the signal's time, unix nanoseconds
	backAt := new(load.Hist)
	isBack := func() {
		backAt.Add(time.Duration(time.Now().UnixNano() - t0.Load()))
		back.Add(1)
		signal(wake)
	}
	join := func(i int) []byte { return []byte(`{"event":"$join","room":"cr-` + strconv.Itoa(i) + `"}`) }
	// Connections 0..n-1 are the sessions, on the first node until the
	// drain and then on the others; n+j is room j's publisher, on the last.
	pool, err := load.New(load.Config{
		Addr: addrs[0],
		AddrOf: func(i int) string {
			switch {
			case i >= n:
				return addrs[len(addrs)-1]
			case drained.Load():
				return addrs[1+i%(len(addrs)-1)]
			}
			return addrs[0]
		},
		OnWelcome: func(c *load.Conn, msg *load.Msg) {
			if !drained.Load() || c.Index >= n {
				return
			}
			if bytes.Contains(msg.Payload, []byte(`"resumed":true`)) {
				resumed.Add(1)
				isBack()
				return
			}
			refused.Add(1)
			wasRefused[c.Index].Store(true)
			_ = c.Send(join(c.Index / crRoom)) // a new session joins again
		},
		OnClose: func(c *load.Conn) {
			if c.Index < n && drained.Load() && (*clients.Load())[c.Index] == c {
				if c.CloseCode() == 1001 {
					goingAway.Add(1)
				}
				closed <- c.Index
			}
		},
		Handler: func(c *load.Conn, msg *load.Msg) {
			if c.Index >= n {
				if string(msg.Event) == "$joined" {
					joined.Add(1)
				}
				return
			}
			switch string(msg.Event) {
			case "$joined":
				if drained.Load() {
					isBack() // a refused session, back as a new one
				} else {
					joined.Add(1)
				}
			case "m":
				got.Add(1)
				if wasRefused[c.Index].Load() {
					return
				}
				if k := load.Int(msg.Payload, `"k":`); k != next[c.Index].Load() {
					disorder.Add(1)
				}
				if next[c.Index].Add(1) == 2*m {
					complete.Add(1)
				}
				signal(wake)
			}
		},
	})
	if err != nil {
		return r, err
	}
	defer closePool(pool, &r)

	start := time.Now()
	cs, err := pool.OpenN(ctx, n, p.Dialers)
	if err != nil {
		return r, err
	}
	clients.Store(&cs)
	for i, c := range cs {
		if err := c.Send(join(i / crRoom)); err != nil {
			return r, err
		}
	}
	if err := load.WaitFor(ctx, "joined", joined.Load, int64(n), crWait); err != nil {
		return r, err
	}
	cold := time.Since(start)
	pubs, err := pool.OpenEach(ctx, rooms, p.Dialers, func(j int) (*load.Conn, error) { return pool.Open(n + j) })
	if err != nil {
		return r, err
	}
	for j, c := range pubs {
		if err := c.Send(join(j)); err != nil {
			return r, err
		}
	}
	if err := load.WaitFor(ctx, "publishers joined", joined.Load, int64(n+rooms), crWait); err != nil {
		return r, err
	}
	sendAll := func(from int64) error {
		for k := from; k < from+m; k++ {
			for j, c := range pubs {
				if err := c.Send([]byte(`{"event":"m","room":"cr-` + strconv.Itoa(j) + `","payload":{"k":` + strconv.FormatInt(k, 10) + `}}`)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := sendAll(0); err != nil {
		return r, err
	}
	if err := waitWoken(ctx, wake, "messages before the drain", func() bool { return got.Load() >= int64(n)*m }, crWait); err != nil {
		return r, err
	}

	t0.Store(time.Now().UnixNano())
	drained.Store(true)
	exited := make(chan error, 1)
	go func() { exited <- term.TerminateNode(0, crExitWait) }()
	if err := sendAll(m); err != nil {
		return r, err
	}
	var dialErrs atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer func() { close(stop); wg.Wait() }()
	for range max(1, p.Dialers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case i := <-closed:
					old := cs[i]
					if _, err := pool.OpenResume(i, old.Token(), old.LastSeq()); err != nil {
						dialErrs.Add(1)
						firstErr.CompareAndSwap(nil, &err)
						back.Add(1) // counted, so the wait ends; reported below
					}
				case <-stop:
					return
				}
			}
		}()
	}
	if err := waitWoken(ctx, wake, "sessions back", func() bool { return back.Load() >= int64(n) }, crWait); err != nil {
		return r, fmt.Errorf("%w: %d back (%d resumed, %d refused)", err, back.Load(), resumed.Load(), refused.Load())
	}
	allBack := time.Since(time.Unix(0, t0.Load()))
	// Every session not refused has every message.
	all := func() bool {
		for i := range next {
			if !wasRefused[i].Load() && next[i].Load() < 2*m {
				return false
			}
		}
		return true
	}
	if err := waitWoken(ctx, wake, "resumed sessions' messages", all, crWait); err != nil {
		return r, fmt.Errorf("%w: %d sessions complete, %d resumed", err, complete.Load(), resumed.Load())
	}
	allIn := time.Since(time.Unix(0, t0.Load()))
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-ctx.Done():
		return r, ctx.Err()
	}
	exitTime := time.Since(time.Unix(0, t0.Load()))
	r.add("nodes", "count", float64(len(addrs)))
	r.add("sessions on the drained node", "count", float64(n))
	r.add("closed with 1001", "count", float64(goingAway.Load()))
	r.add("sessions resumed on another node", "count", float64(resumed.Load()))
	r.add("resumes refused", "count", float64(refused.Load()))
	r.add("resume dials failed", "count", float64(dialErrs.Load()))
	r.add("cold connect + join, all sessions", "s", cold.Seconds())
	r.add("SIGTERM to all back", "s", allBack.Seconds())
	r.add("SIGTERM to every resumed session with every message", "s", allIn.Seconds())
	r.add("SIGTERM to the first back", "s", backAt.Quantile(0).Seconds())
	r.add("SIGTERM to half back", "s", backAt.Quantile(0.5).Seconds())
	r.add("SIGTERM to 90% back", "s", backAt.Quantile(0.9).Seconds())
	r.add("SIGTERM to 99% back", "s", backAt.Quantile(0.99).Seconds())
	r.add("all back / cold connect", "ratio", allBack.Seconds()/cold.Seconds())
	r.add("sessions back per second", "1/s", float64(n)/allBack.Seconds())
	r.add("SIGTERM to the drained node's exit", "s", exitTime.Seconds())
	r.add("resumed sessions: messages lost, repeated or reordered", "count", float64(disorder.Load()))
	switch e := firstErr.Load(); {
	case e != nil:
		return r, fmt.Errorf("%d resume dials failed, the first: %w", dialErrs.Load(), *e)
	case disorder.Load() > 0:
		return r, fmt.Errorf("%d messages out of order or repeated", disorder.Load())
	case exitErr != nil:
		return r, errors.Join(errors.New("the drained node's exit"), exitErr)
	}
	return r, nil
}
