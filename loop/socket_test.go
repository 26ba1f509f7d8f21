package loop

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type refuseAll struct{}

func (refuseAll) Upgrade(*Conn, *Upgrade) (string, error) {
	return "", &HTTPError{Status: 403, Reason: "no"}
}
func (refuseAll) Open(*Conn)                  {}
func (refuseAll) Message(*Conn, bool, []byte) {}
func (refuseAll) Closed(*Conn, CloseInfo)     {}

// TestDeferredDropFromNBIOCallback: nbio reports written bytes with its
// connection lock held; the drop that waited for them must not take that
// lock again there (it once deadlocked the goroutine that wrote, and with
// it Shutdown), and the connection must still end.
func TestDeferredDropFromNBIOCallback(t *testing.T) {
	e := New(Config{}, refuseAll{})
	require.NoError(t, e.Start("127.0.0.1:0"))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, e.Shutdown(ctx))
	}()
	nc, err := net.Dial("tcp", e.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	var c *Conn
	require.Eventually(t, func() bool {
		e.Each(func(x *Conn) { c = x })
		return c != nil
	}, 5*time.Second, time.Millisecond)

	// As after a close frame that nbio still held: 5 bytes outstanding.
	c.unsent.Store(5)
	c.dropWhenWritten()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.nc.Lock() // as nbio's flush holds it around onWrittenSize
		defer c.nc.Unlock()
		e.onWritten(c.nc, nil, 5)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("onWritten blocked on nbio's connection lock")
	}
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = nc.Read(make([]byte, 1))
	require.Error(t, err, "the connection ends once the bytes are written")
	require.Eventually(t, func() bool { return e.Conns() == 0 }, 5*time.Second, time.Millisecond)
}
