package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRateLimitDefaults(t *testing.T) {
	rl := (&Options{RateLimits: RateLimits{Join: Rate{PerSecond: 1, Burst: 2}}}).withDefaults().RateLimits
	d := DefaultRateLimits()
	assert.Equal(t, Rate{PerSecond: 1, Burst: 2}, rl.Join, "a set rate is kept")
	assert.Equal(t, d.Publish, rl.Publish)
	assert.Equal(t, d.Direct, rl.Direct)
	assert.Equal(t, d.FanoutBytes, rl.FanoutBytes)
	assert.Equal(t, d.Refusals, rl.Refusals)
	assert.Equal(t, d.FailuresPerIP, rl.FailuresPerIP)
	assert.Nil(t, Rate{PerSecond: -1}.limiter(), "a negative rate is no limit")
	assert.Equal(t, NoRateLimits(), NoRateLimits().withDefaults(), "NoRateLimits() stays off")
}
