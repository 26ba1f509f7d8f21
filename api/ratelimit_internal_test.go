package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRateLimitDefaults(t *testing.T) {
	rl := (&Options{RateLimits: RateLimits{Join: Rate{PerSecond: 1, Burst: 2}}}).withDefaults().RateLimits
	assert.Equal(t, Rate{PerSecond: 1, Burst: 2}, rl.Join, "a set rate is kept")
	assert.Equal(t, DefaultPublishRate, rl.Publish)
	assert.Equal(t, DefaultDirectRate, rl.Direct)
	assert.Equal(t, DefaultFanoutBytesRate, rl.FanoutBytes)
	assert.Equal(t, DefaultRefusalsRate, rl.Refusals)
	assert.Equal(t, DefaultFailuresPerIP, rl.FailuresPerIP)
	assert.Nil(t, unlimited.limiter(), "a negative rate is no limit")
	assert.Equal(t, NoRateLimits, NoRateLimits.withDefaults(), "NoRateLimits stays off")
}
