package hold

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/bench/serve"
)

// TestRunHoldsUntilInputEnds runs a hold against roomloop on 127.0.0.1:0:
// it reports every connection held once all have joined, the server
// counts them, and they close once the input ends.
func TestRunHoldsUntilInputEnds(t *testing.T) {
	s, err := serve.Start(serve.Config{Impl: serve.Roomloop, Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Addr: s.Addr(), Conns: 150, RoomSize: 40, RoomPrefix: "t-", Dialers: 8}, inR, outW)
		_ = outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "HELD 150\n", line)
	require.NoError(t, inW.Close())
	require.NoError(t, <-done)
}

// TestStartFails checks that a process that never holds is reported.
func TestStartFails(t *testing.T) {
	p, err := Start("/bin/true", Config{Addr: "127.0.0.1:1", Conns: 1})
	require.NoError(t, err)
	_, err = p.Held(context.Background())
	assert.Error(t, err)
	assert.NoError(t, p.Stop())
}
