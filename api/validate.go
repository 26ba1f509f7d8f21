package api

import (
	"fmt"
	"time"
)

// The rule for numbers in Options (and the binary's flags): zero takes the
// field's default. A negative value means "no cap" or "off" on the fields
// whose documentation says so (MaxConnsPerIP, MaxPendingPerIP, MaxRooms,
// MaxMembersListed, PresenceMaxMembers, AcceptRate, and a Rate's
// PerSecond); on any other field it is an error. Validate applies it.

// Validate reports the first option that breaks the rule for numbers
// above, an AllowedOrigins entry that is not an origin (see
// ValidateOrigin), or a SlowConsumer policy that does not exist. New
// panics with this error: call Validate first to handle it.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	if err := validateEndpoints(o.Path, o.Endpoints); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxMessageSize", int64(o.MaxMessageSize)},
		{"MaxFramesPerMessage", int64(o.MaxFramesPerMessage)},
		{"CompressionMinSize", int64(o.CompressionMinSize)},
		{"MaxHeaderBytes", int64(o.MaxHeaderBytes)},
		{"MaxHeaders", int64(o.MaxHeaders)},
		{"MaxRoomsPerConn", int64(o.MaxRoomsPerConn)},
		{"QueueFrames", int64(o.QueueFrames)},
		{"QueueBytes", int64(o.QueueBytes)},
		{"ReplayFrames", int64(o.ReplayFrames)},
		{"ReplayBytes", int64(o.ReplayBytes)},
		{"DedupeWindow", int64(o.DedupeWindow)},
		{"SuspendedBytes", o.SuspendedBytes},
		{"Workers", int64(o.Workers)},
		{"MaxConns", int64(o.MaxConns)},
		{"AcceptBurst", int64(o.AcceptBurst)},
		{"Limits.MaxEvent", int64(o.Limits.MaxEvent)},
		{"Limits.MaxRoom", int64(o.Limits.MaxRoom)},
		{"Limits.MaxTo", int64(o.Limits.MaxTo)},
		{"Limits.MaxID", int64(o.Limits.MaxID)},
	} {
		if f.v < 0 {
			return fmt.Errorf("roomloop: option %s is %d: it must be 0 (the default) or positive", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"ResumeWindow", o.ResumeWindow},
		{"MessageTimeout", o.MessageTimeout},
		{"InboxTimeout", o.InboxTimeout},
		{"HeartbeatInterval", o.HeartbeatInterval},
		{"HeartbeatTimeout", o.HeartbeatTimeout},
		{"HandshakeTimeout", o.HandshakeTimeout},
		{"AuthTimeout", o.AuthTimeout},
		{"CloseTimeout", o.CloseTimeout},
		{"Tick", o.Tick},
		{"DrainSpread", o.DrainSpread},
		{"PresenceInterval", o.PresenceInterval},
	} {
		if f.v < 0 {
			return fmt.Errorf("roomloop: option %s is %v: it must be 0 (the default) or positive", f.name, f.v)
		}
	}
	for _, r := range []struct {
		name string
		r    Rate
	}{
		{"Join", o.RateLimits.Join}, {"Publish", o.RateLimits.Publish}, {"Direct", o.RateLimits.Direct},
		{"FanoutBytes", o.RateLimits.FanoutBytes}, {"Refusals", o.RateLimits.Refusals},
		{"FailuresPerIP", o.RateLimits.FailuresPerIP},
	} {
		if r.r.Burst < 0 || (r.r.PerSecond > 0 && r.r.Burst == 0) {
			return fmt.Errorf("roomloop: option RateLimits.%s has burst %d: a limited rate needs a positive burst", r.name, r.r.Burst)
		}
	}
	if o.SlowConsumer > Drop {
		return fmt.Errorf("roomloop: option SlowConsumer is %d: it must be Disconnect or Drop", o.SlowConsumer)
	}
	for _, a := range o.AllowedOrigins {
		if err := ValidateOrigin(a); err != nil {
			return fmt.Errorf("roomloop: option AllowedOrigins: %w", err)
		}
	}
	return nil
}
