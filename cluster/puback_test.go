package cluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPubAckError reads JetStream's answers to a publish as they come on
// the wire: stored, de-duplicated, refused, and neither.
func TestPubAckError(t *testing.T) {
	for _, ok := range []string{
		`{"stream":"ROOMS","seq":42}`,
		`{"stream":"ROOMS","seq":42,"duplicate":true}`,
		`{"stream":"error-log","seq":7}`, // "error" in a stream's name
	} {
		assert.NoError(t, pubAckError([]byte(ok)), ok)
	}
	for ans, want := range map[string]string{
		`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"ROOMS","seq":0}`: "maximum messages exceeded (10077)",
		`{"stream":"ROOMS"}`: "without a position",
		`not json`:           "unreadable",
		``:                   "unreadable",
	} {
		err := pubAckError([]byte(ans))
		if assert.Error(t, err, ans) {
			assert.Contains(t, err.Error(), want, ans)
		}
	}
}
