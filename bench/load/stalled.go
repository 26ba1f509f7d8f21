package load

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// Stalled is a client that joins a room and then never reads again. It is
// a plain blocking socket outside the pool's engine, so that nothing
// drains it.
type Stalled struct {
	nc net.Conn
}

// OpenStalled connects, upgrades, sends join (a whole client message),
// reads until the "$joined" answer, and from then on reads nothing.
func (p *Pool) OpenStalled(join []byte) (*Stalled, error) {
	nc, err := p.Dial(0)
	if err != nil {
		return nil, err
	}
	got, _, err := handshake(nc, p.cfg.Addr, p.cfg.Path, p.cfg.subprotocol(), false, p.cfg.Timeout)
	if err == nil {
		_, err = nc.Write(ClientFrame(join))
	}
	_ = nc.SetReadDeadline(time.Now().Add(p.cfg.Timeout))
	buf := make([]byte, 4096)
	for err == nil && !bytes.Contains(got, []byte(`"$joined"`)) {
		var n int
		n, err = nc.Read(buf)
		got = append(got, buf[:n]...)
	}
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Time{})
	return &Stalled{nc: nc}, nil
}

// Dropped drains what the server sent and reports whether the server has
// ended the connection within wait (EOF or reset), rather than still
// sending or idling.
func (s *Stalled) Dropped(wait time.Duration) bool {
	_ = s.nc.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, s.nc)
	return err == nil || !errors.Is(err, os.ErrDeadlineExceeded)
}

// Close closes the socket.
func (s *Stalled) Close() { _ = s.nc.Close() }

// ClientFrame returns msg as one masked text frame.
func ClientFrame(msg []byte) []byte {
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	return wsproto.AppendClientFrame(make([]byte, 0, len(msg)+14), true, wsproto.OpText, msg, mask)
}
