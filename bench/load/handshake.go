package load

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/roomloop/roomloop/internal/wsproto"
)

// deflateOffer is the permessage-deflate offer (RFC 7692) of a client
// that asks for it (Config.Deflate): no context takeover either way, so
// that every message inflates on its own.
const deflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

// handshake sends the upgrade request for ws://host/path with
// subprotocol on nc, offering permessage-deflate when deflate is set,
// and reads the 101 response. It returns the bytes received after the
// response head (the start of the first frames) and whether the server
// accepted permessage-deflate. An acceptance that was not offered, or
// that keeps the server's context (no server_no_context_takeover in the
// answer to an offer that asked for it), fails.
func handshake(nc net.Conn, host, path, subprotocol string, deflate bool, timeout time.Duration) ([]byte, bool, error) {
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + subprotocol + "\r\n"
	if deflate {
		req += "Sec-WebSocket-Extensions: " + deflateOffer + "\r\n"
	}
	req += "\r\n"
	_ = nc.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = nc.SetDeadline(time.Time{}) }()
	if _, err := nc.Write([]byte(req)); err != nil {
		return nil, false, err
	}
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= 8192 {
				return nil, false, errors.New("load: upgrade response head too long")
			}
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			head := buf[:i+4]
			if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
				line, _, _ := bytes.Cut(head, []byte("\r\n"))
				return nil, false, fmt.Errorf("load: upgrade refused: %s", line)
			}
			if !bytes.Contains(head, []byte(wsproto.AcceptKey(key))) {
				return nil, false, errors.New("load: upgrade response without the right Sec-WebSocket-Accept")
			}
			accepted, err := deflateAccepted(head, deflate)
			if err != nil {
				return nil, false, err
			}
			return append([]byte(nil), buf[i+4:]...), accepted, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

// deflateAccepted reads the Sec-WebSocket-Extensions headers of a 101
// response head: whether they accept permessage-deflate, and an error
// for an extension that was not offered (offered: whether the request
// carried deflateOffer) or an acceptance that keeps the server's
// compression context.
func deflateAccepted(head []byte, offered bool) (bool, error) {
	accepted := false
	for _, line := range strings.Split(string(head), "\r\n")[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok || textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name)) != "Sec-Websocket-Extensions" {
			continue
		}
		for _, ext := range strings.Split(value, ",") {
			params := strings.Split(ext, ";")
			if strings.TrimSpace(params[0]) == "" {
				continue
			}
			if !offered || !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") {
				return false, fmt.Errorf("load: server accepted an extension not offered: %s", strings.TrimSpace(ext))
			}
			takeover := true
			for _, p := range params[1:] {
				if strings.EqualFold(strings.TrimSpace(p), "server_no_context_takeover") {
					takeover = false
				}
			}
			if takeover {
				return false, errors.New("load: server accepted permessage-deflate without server_no_context_takeover")
			}
			accepted = true
		}
	}
	return accepted, nil
}
