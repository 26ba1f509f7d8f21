package frame

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/deflate"
)

func TestOutgoingBody(t *testing.T) {
	f := Frame{Event: "chat", Room: "lobby", From: "s-1", Kind: JSONPayload, Payload: []byte(`{"t":1}`)}
	o := NewOutgoing(f)
	assert.False(t, o.Control())
	assert.Equal(t, f, *o.Frame())

	for _, c := range []Codec{JSON, Binary} {
		b1 := o.Body(c)
		b2 := o.Body(c)
		require.NotEmpty(t, b1)
		assert.Equal(t, c.AppendBody(nil, &f), b1)
		assert.Same(t, &b1[0], &b2[0], "%s: repeated Body calls share one slice", c.Name())
		assert.Equal(t, len(b1), cap(b1), "appending to a shared body must copy")
	}
	assert.NotEqual(t, o.Body(JSON), o.Body(Binary))
}

func TestOutgoingControl(t *testing.T) {
	assert.True(t, NewOutgoing(Frame{Event: "$ack", ID: "c1"}).Control())
	assert.False(t, NewOutgoing(Frame{Event: "ack"}).Control())
}

func TestOutgoingBodyConcurrent(t *testing.T) {
	o := NewOutgoing(Frame{Event: "chat", Room: "lobby", From: "s-1", Kind: BytesPayload, Payload: []byte{1, 2, 3}})
	const goroutines = 32
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		got   [goroutines][2][]byte
	)
	for i := range goroutines {
		wg.Go(func() {
			<-start
			for k, c := range []Codec{JSON, Binary} {
				b := o.Body(c)
				msg := c.AppendMessage(nil, uint64(i+1), b)
				_, err := c.Decode(msg, DefaultLimits())
				assert.NoError(t, err)
				got[i][k] = b
			}
		})
	}
	close(start)
	wg.Wait()
	for k, c := range []Codec{JSON, Binary} {
		want := o.Body(c)
		for i := range goroutines {
			assert.Same(t, &want[0], &got[i][k][0], "goroutine %d, %s", i, c.Name())
		}
	}
}

// otherCodec is a Codec with an ID outside Outgoing's cache.
type otherCodec struct{ Codec }

func (otherCodec) ID() int { return 7 }

func TestOutgoingForeignCodec(t *testing.T) {
	o := NewOutgoing(Frame{Event: "e"})
	c := otherCodec{JSON}
	assert.Equal(t, `,"event":"e"}`, string(o.Body(c)))
	assert.Equal(t, `,"event":"e"}`, string(o.Body(JSON)))
}

func TestOutgoingDeflatedOnce(t *testing.T) {
	o := NewOutgoing(Frame{Event: "chat", Room: "lobby", From: "s-1", Kind: JSONPayload,
		Payload: []byte(`{"text":"` + strings.Repeat("hello hello ", 40) + `"}`)})
	before := deflate.Compressions()
	const goroutines = 32
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		got   [goroutines][]byte
	)
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got[i] = o.Deflated(JSON)
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, uint64(1), deflate.Compressions()-before, "racing callers compress once")
	for i := range got {
		assert.Same(t, &got[0][0], &got[i][0])
	}
	out, err := deflate.Inflate(nil, got[0], 1<<20)
	require.NoError(t, err)
	assert.Equal(t, o.Body(JSON), out)
	assert.Less(t, len(got[0]), len(o.Body(JSON))/2)
}
