package load

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// handshake sends the upgrade request for ws://host/path with
// subprotocol on nc and reads the 101 response. It returns
// the bytes received after the response head (the start of the first
// frames).
func handshake(nc net.Conn, host, path, subprotocol string, timeout time.Duration) ([]byte, error) {
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + subprotocol + "\r\n\r\n"
	_ = nc.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = nc.SetDeadline(time.Time{}) }()
	if _, err := nc.Write([]byte(req)); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= 8192 {
				return nil, errors.New("load: upgrade response head too long")
			}
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			head := buf[:i+4]
			if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
				line, _, _ := bytes.Cut(head, []byte("\r\n"))
				return nil, fmt.Errorf("load: upgrade refused: %s", line)
			}
			if !bytes.Contains(head, []byte(wsproto.AcceptKey(key))) {
				return nil, errors.New("load: upgrade response without the right Sec-WebSocket-Accept")
			}
			return append([]byte(nil), buf[i+4:]...), nil
		}
		if err != nil {
			return nil, err
		}
	}
}
