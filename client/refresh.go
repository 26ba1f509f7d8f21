package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/roomloop/roomloop/frame"
)

// Credential refresh (docs/protocol.md, "Credential expiry"). When the
// server says in $welcome or $refreshed that the session's credential
// expires, and Options.Token is set, the refresher calls Token and sends
// the result with $refresh before then: once max(half the time left,
// all but the last 30 s) has passed. A failed attempt (the function's
// error, or the server's $error) is reported to OnError and tried again
// a few seconds later, while there is time. If the credential expires
// all the same, the server closes the connection with 4004 and the
// client reconnects as after any drop, calling Token again, and resumes.

// refreshRetry is the wait before another try after a failed refresh.
const refreshRetry = 5 * time.Second

// refreshLead returns how long after learning that the credential
// expires in left the client refreshes it.
func refreshLead(left time.Duration) time.Duration {
	return max(left/2, left-30*time.Second)
}

// expiresIn records that the credential expires in ms milliseconds from
// now (0: never) and wakes the refresher. c.mu must be held.
func (c *Client) expiresIn(ms int64) {
	if ms <= 0 {
		c.expiresAt, c.refreshAt = time.Time{}, time.Time{}
	} else {
		now, left := time.Now(), time.Duration(ms)*time.Millisecond
		c.expiresAt, c.refreshAt = now.Add(left), now.Add(refreshLead(left))
	}
	select {
	case c.refreshWake <- struct{}{}:
	default:
	}
}

// refresher refreshes the credential on time until the client closes.
// It runs only with Options.Token.
func (c *Client) refresher() {
	defer c.wg.Done()
	var t *time.Timer
	for {
		c.mu.Lock()
		at := c.refreshAt
		c.mu.Unlock()
		var fire <-chan time.Time
		if !at.IsZero() {
			t = time.NewTimer(time.Until(at))
			fire = t.C
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.refreshWake:
		case <-fire:
			c.refreshOnce()
		}
		if t != nil {
			t.Stop()
		}
	}
}

// refreshOnce calls Token and sends $refresh. On failure it schedules
// another try, unless the credential expires before it could matter.
// The $refreshed answer itself sets the next refresh (see expiresIn).
func (c *Client) refreshOnce() {
	c.mu.Lock()
	offline := c.link == nil
	if offline {
		c.refreshAt = time.Time{} // the next $welcome says when
	}
	c.mu.Unlock()
	if offline {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.HandshakeTimeout)
	defer cancel()
	err := c.sendRefresh(ctx)
	if err == nil || c.ctx.Err() != nil {
		return
	}
	c.report(err)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refreshAt.IsZero() || c.refreshAt.After(time.Now()) {
		return // a new $welcome or $refreshed came meanwhile
	}
	if next := time.Now().Add(refreshRetry); next.Before(c.expiresAt) {
		c.refreshAt = next
	} else {
		c.refreshAt = time.Time{} // too late: the server's 4004 and a reconnect follow
	}
}

// sendRefresh calls Token and waits for the server's answer to $refresh.
func (c *Client) sendRefresh(ctx context.Context) error {
	tok, err := c.token(ctx)
	if err != nil {
		return fmt.Errorf("roomloop: refreshing the credential: the token function failed: %w", err)
	}
	payload, _ := json.Marshal(frame.RefreshPayload{Token: tok})
	err = c.call(ctx, frame.Frame{Event: "$refresh", Kind: frame.JSONPayload, Payload: payload}, nil)
	if err != nil {
		return fmt.Errorf("roomloop: refreshing the credential: %w", err)
	}
	return nil
}
