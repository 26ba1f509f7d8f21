package main

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/api"
)

func TestRateFlags(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var rl api.RateLimits
	rateFlags(fs, &rl)
	assert.Equal(t, api.DefaultRateLimits().Publish, rl.Publish, "defaults without flags")
	require.NoError(t, fs.Parse([]string{"-rate-join=0.5:3", "-rate-direct=off"}))
	assert.Equal(t, api.Rate{PerSecond: 0.5, Burst: 3}, rl.Join)
	assert.Equal(t, api.Rate{PerSecond: -1}, rl.Direct)
	assert.Equal(t, "33554432:33554432", fs.Lookup("rate-fanout-bytes").Value.String())
	for _, bad := range []string{"10", "x:1", "10:0", "-1:5", "10:y"} {
		assert.Error(t, fs.Parse([]string{"-rate-publish=" + bad}), bad)
	}
}
