package cutproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// echoServer echoes lines until the connection ends.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

func TestForwardCutBlackhole(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	p, err := Start(echoServer(t))
	require.NoError(t, err)
	defer p.Close()

	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	_, err = c.Write([]byte("hello\n"))
	require.NoError(t, err)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "hello\n", line)
	assert.Equal(t, 1, p.Open())

	assert.Equal(t, 1, p.Cut())
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = r.ReadString('\n')
	require.Error(t, err, "a cut connection must end for the client")
	require.Eventually(t, func() bool { return p.Open() == 0 }, 10*time.Second, 5*time.Millisecond)

	// Blackhole: the connection stays open, but nothing comes back.
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c2.Close()
	require.Eventually(t, func() bool { return p.Open() == 1 }, 10*time.Second, 5*time.Millisecond)
	p.Blackhole()
	_, err = c2.Write([]byte("lost\n"))
	require.NoError(t, err)
	_ = c2.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = c2.Read(make([]byte, 8))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "a blackholed link reads nothing and does not end")
	assert.Equal(t, 2, p.Accepted())

	// Refuse: new connections are reset at once.
	p.Refuse(true)
	c3, err := net.Dial("tcp", p.Addr())
	if err == nil { // the reset may also come before Dial returns
		defer c3.Close()
		_ = c3.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c3.Read(make([]byte, 1))
	}
	require.Error(t, err)
	assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "a refused connection ends at once")
	assert.Equal(t, 2, p.Accepted())
}
