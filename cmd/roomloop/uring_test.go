package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/roomloop/roomloop/internal/wstest"
	"github.com/roomloop/roomloop/loop"
)

// TestURingWritesFlag: ROOMLOOP_URING_WRITES is the flag's own variable
// (not refused as unknown), and a server with -uring-writes serves.
func TestURingWritesFlag(t *testing.T) {
	t.Setenv(loop.URingEnv, "true")
	assert.Contains(t, printedConfig(t)["uring-writes"], "true")

	b := startControlled(t, "-uring-writes", "-admin-addr", "")
	ws, _, _ := wstest.Dial(t, "ws://"+b.addr+"/ws", nil)
	wstest.Send(t, ws, map[string]any{"event": "$join", "room": "r", "id": "j"})
	assert.Equal(t, "j", wstest.Next(t, ws, "$joined").ID)
}
