package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/roomloop/roomloop/api"
)

// rateFlag reads an api.Rate as "PER_SECOND:BURST" (e.g. "100:200"), or
// "off" for no limit.
type rateFlag struct{ r *api.Rate }

func (f rateFlag) String() string {
	if f.r == nil {
		return ""
	}
	if f.r.PerSecond < 0 {
		return "off"
	}
	return strconv.FormatFloat(f.r.PerSecond, 'f', -1, 64) + ":" + strconv.Itoa(f.r.Burst)
}

func (f rateFlag) Set(s string) error {
	if s == "off" {
		*f.r = api.Rate{PerSecond: -1}
		return nil
	}
	rate, burst, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("%q: want PER_SECOND:BURST or off", s)
	}
	ps, err := strconv.ParseFloat(rate, 64)
	if err != nil || ps <= 0 {
		return fmt.Errorf("%q: the rate must be a positive number", s)
	}
	b, err := strconv.Atoi(burst)
	if err != nil || b <= 0 {
		return fmt.Errorf("%q: the burst must be a positive integer", s)
	}
	*f.r = api.Rate{PerSecond: ps, Burst: b}
	return nil
}

// rateFlags registers one flag per rate limit, starting from the defaults.
func rateFlags(fs *flag.FlagSet, rl *api.RateLimits) {
	*rl = api.DefaultRateLimits()
	const form = " (PER_SECOND:BURST, or off)"
	fs.Var(rateFlag{&rl.Join}, "rate-join", "$join frames per client"+form)
	fs.Var(rateFlag{&rl.Publish}, "rate-publish", "room and handler frames per client"+form)
	fs.Var(rateFlag{&rl.Direct}, "rate-direct", "direct messages per client"+form)
	fs.Var(rateFlag{&rl.FanoutBytes}, "rate-fanout-bytes", "bytes a client's room frames cost, size x recipients"+form)
	fs.Var(rateFlag{&rl.Refusals}, "rate-refusals", "rate_limited answers before a client is closed with 1008"+form)
	fs.Var(rateFlag{&rl.FailuresPerIP}, "rate-failures-per-ip", "upgrades Authorize refused, per address, before 429"+form)
}
