package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/loop"
)

// TestURingWritesFlag: ROOMLOOP_URING_WRITES is the flag's own variable
// (not refused as unknown), and setURingWrites hands the choice to the
// loop through it, unsetting it when off.
func TestURingWritesFlag(t *testing.T) {
	t.Setenv(loop.URingEnv, "true")
	assert.Contains(t, printedConfig(t)["uring-writes"], "true")

	require.NoError(t, setURingWrites(false))
	_, set := os.LookupEnv(loop.URingEnv)
	assert.False(t, set)
	require.NoError(t, setURingWrites(true))
	assert.Equal(t, "1", os.Getenv(loop.URingEnv))
}
