package main

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/internal/wstest"
)

// TestClusterTwoBinaries: two binaries with -nats and -node-id share a
// room: a frame sent on one reaches a member on the other, and each
// $joined lists both.
func TestClusterTwoBinaries(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	a := startControlled(t, "-nats", ns.ClientURL(), "-node-id", "a", "-admin-addr", "")
	b := startControlled(t, "-nats", ns.ClientURL(), "-node-id", "b", "-admin-addr", "")
	wa, _, _ := wstest.Dial(t, "ws://"+a.addr+"/ws", nil)
	wb, _, _ := wstest.Dial(t, "ws://"+b.addr+"/ws", nil)
	ida, idb := wstest.WelcomeOf(t, wa).Session, wstest.WelcomeOf(t, wb).Session
	assert.Regexp(t, `\.a$`, ida, "a session id names its node")
	assert.Regexp(t, `\.b$`, idb)

	wstest.Send(t, wa, map[string]any{"event": "$join", "room": "r"})
	wstest.Next(t, wa, "$joined")
	wstest.Send(t, wb, map[string]any{"event": "$join", "room": "r"})
	var j frame.JoinedPayload
	require.NoError(t, json.Unmarshal(wstest.Next(t, wb, "$joined").Payload, &j))
	assert.ElementsMatch(t, []string{ida, idb}, j.Members)

	wstest.Send(t, wb, map[string]any{"event": "chat", "room": "r", "payload": map[string]string{"text": "hi"}})
	assert.JSONEq(t, `{"text":"hi"}`, string(wstest.Next(t, wa, "chat").Payload))
}

// TestClusterNATSUnreachable: -nats that cannot be reached is a clear
// error and no server, never a single node by mistake.
func TestClusterNATSUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, []string{"-addr", "127.0.0.1:0", "-admin-addr", "", "-nats", "nats://127.0.0.1:1", "-node-id", "a"},
		io.Discard, io.Discard, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connecting to NATS at nats://127.0.0.1:1")
}
