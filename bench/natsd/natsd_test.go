package natsd

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunServesJetStreamUntilInputEnds starts Run on 127.0.0.1 port 0,
// reads its LISTEN line, creates a memory stream through the address,
// and checks that closing the input stops the server and removes the
// temporary store directory.
func TestRunServesJetStreamUntilInputEnds(t *testing.T) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), Config{}, inR, outW) }()

	line, err := bufio.NewReader(outR).ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "LISTEN 127.0.0.1:"), line)
	addr := strings.TrimSpace(strings.TrimPrefix(line, "LISTEN "))

	nc, err := nats.Connect("nats://" + addr)
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.MemoryStorage})
	require.NoError(t, err)
	_, err = js.Publish(ctx, "t.x", []byte("hi"))
	require.NoError(t, err)
	nc.Close()

	require.NoError(t, inW.Close())
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop when its input ended")
	}
	_, err = nats.Connect("nats://"+addr, nats.Timeout(time.Second))
	assert.Error(t, err, "NATS still accepts after Run returned")
}

// TestStartRemovesItsStoreDir checks that stopping a server Start made
// removes the temporary store directory, and leaves a given one.
func TestStartRemovesItsStoreDir(t *testing.T) {
	s, stop, err := Start(Config{})
	require.NoError(t, err)
	tmp := filepath.Dir(s.StoreDir())
	require.DirExists(t, tmp)
	stop()
	assert.NoDirExists(t, tmp)

	given := t.TempDir()
	s, stop, err = Start(Config{Addr: "127.0.0.1:0", Dir: given})
	require.NoError(t, err)
	assert.Equal(t, given, filepath.Dir(s.StoreDir()))
	stop()
	assert.DirExists(t, given)
}

// TestStartRejectsABadAddress checks the address is validated.
func TestStartRejectsABadAddress(t *testing.T) {
	_, _, err := Start(Config{Addr: "127.0.0.1"})
	assert.Error(t, err)
	_, _, err = Start(Config{Addr: "127.0.0.1:x"})
	assert.Error(t, err)
}
