package wsproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validHead is the RFC 6455 section 1.3 example, with a few extras.
const validHead = "GET /ws?room=1 HTTP/1.1\r\n" +
	"Host: server.example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: keep-alive, Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: http://example.com\r\n" +
	"Sec-WebSocket-Protocol: chat, superchat\r\n" +
	"Sec-WebSocket-Protocol: v2.roomloop\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

// head builds a request head from a request line and header lines.
func head(line string, headers ...string) string {
	return line + "\r\n" + strings.Join(append(headers, ""), "\r\n") + "\r\n"
}

// std are the headers of a valid request, to be combined with others.
var std = []string{
	"Host: h",
	"Upgrade: websocket",
	"Connection: Upgrade",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	"Sec-WebSocket-Version: 13",
}

// without returns std minus the headers whose name starts with prefix.
func without(prefix string, extra ...string) []string {
	var out []string
	for _, h := range std {
		if !strings.HasPrefix(h, prefix) {
			out = append(out, h)
		}
	}
	return append(out, extra...)
}

func TestParseUpgradeValid(t *testing.T) {
	n, err := HeadEnd([]byte(validHead+"\x81\x80trailing frame bytes"), DefaultHeadLimits())
	require.NoError(t, err)
	require.Equal(t, len(validHead), n)

	u, err := ParseUpgrade([]byte(validHead), "/ws")
	require.NoError(t, err)
	assert.Equal(t, "dGhlIHNhbXBsZSBub25jZQ==", u.Key)
	assert.Equal(t, []string{"chat", "superchat", "v2.roomloop"}, u.Protocols)
	assert.Equal(t, "http://example.com", u.Origin)
	assert.Equal(t, "server.example.com", u.Request.Host)
	assert.Equal(t, "room=1", u.Request.URL.RawQuery)
	assert.Equal(t, "/ws", u.Request.URL.Path)
	assert.Empty(t, u.Request.RemoteAddr)
	body, err := io.ReadAll(u.Request.Body)
	require.NoError(t, err)
	assert.Empty(t, body)

	// The RFC 6455 section 1.3 example (the brief's "s3pPLMBiTxaQ9kTZ0Kq4sX2lQo="
	// is not the RFC's value; SHA-1 gives the one below).
	assert.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", AcceptKey(u.Key))
	assert.Equal(t, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"+
		"Sec-WebSocket-Protocol: chat\r\n\r\n",
		string(AppendSwitching(nil, u.Key, "chat")))
	assert.Equal(t, "x"+"HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		string(AppendSwitching([]byte("x"), u.Key, "")))
	// A hostile protocol cannot inject lines.
	sw := string(AppendSwitching(nil, u.Key, "a\r\nSet-Cookie: x"))
	assert.Equal(t, 6, strings.Count(sw, "\r\n"))
	assert.NotContains(t, sw, "\nSet-Cookie")

	// Variations that are still valid.
	for _, h := range []string{
		head("GET /ws HTTP/1.1", std...),
		head("GET /ws HTTP/1.1", without("Upgrade", "Upgrade: h2c, WebSocket")...),
		head("GET /ws HTTP/1.1", without("Connection", "Connection: keep-alive", "connection: UPGRADE")...),
		head("GET http://h/ws HTTP/1.1", std...),
		head("GET /ws HTTP/1.1", append(std, "Content-Length: 0", "Sec-WebSocket-Protocol: ,, a ,")...),
		head("GET /ws HTTP/1.1", append(std, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99")...),
	} {
		_, err := ParseUpgrade([]byte(h), "/ws")
		assert.NoError(t, err, h)
	}
}

func TestParseUpgradeInvalid(t *testing.T) {
	tests := []struct {
		name   string
		head   string
		status int
		header http.Header
	}{
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, nil},
		{"empty", "\r\n", 400, nil},
		{"no request line", "\r\n\r\n", 400, nil},
		{"bad request line", head("GET /ws", std...), 400, nil},
		{"HTTP/1.0", head("GET /ws HTTP/1.0", std...), 400, nil},
		{"HTTP/0.9", head("GET /ws HTTP/0.9", std...), 400, nil},
		{"HTTP/2.0", head("GET /ws HTTP/2.0", std...), 400, nil},
		{"missing host", head("GET /ws HTTP/1.1", without("Host")...), 400, nil},
		{"duplicate host", head("GET /ws HTTP/1.1", append(std, "Host: evil")...), 400, nil},
		{"header without colon", head("GET /ws HTTP/1.1", append(std, "NoColon")...), 400, nil},
		{"CR in header value", head("GET /ws HTTP/1.1", append(std, "X: a\rb")...), 400, nil},
		{"path mismatch", head("GET /other HTTP/1.1", std...), 404, nil},
		{"path prefix", head("GET /ws/x HTTP/1.1", std...), 404, nil},
		{"POST", head("POST /ws HTTP/1.1", std...), 405, http.Header{"Allow": {"GET"}}},
		{"HEAD", head("HEAD /ws HTTP/1.1", std...), 405, http.Header{"Allow": {"GET"}}},
		{"body content-length", head("GET /ws HTTP/1.1", append(std, "Content-Length: 5")...), 400, nil},
		{"body chunked", head("GET /ws HTTP/1.1", append(std, "Transfer-Encoding: chunked")...), 400, nil},
		{"bad transfer-encoding", head("GET /ws HTTP/1.1", append(std, "Transfer-Encoding: gzip")...), 400, nil},
		{"plain GET", head("GET /ws HTTP/1.1", "Host: h"), 400, nil},
		{"missing upgrade", head("GET /ws HTTP/1.1", without("Upgrade")...), 400, nil},
		{"upgrade h2c", head("GET /ws HTTP/1.1", without("Upgrade", "Upgrade: h2c")...), 400, nil},
		{"upgrade websocketx", head("GET /ws HTTP/1.1", without("Upgrade", "Upgrade: websocketx")...), 400, nil},
		{"missing connection", head("GET /ws HTTP/1.1", without("Connection")...), 400, nil},
		{"connection close", head("GET /ws HTTP/1.1", without("Connection", "Connection: close")...), 400, nil},
		{"version 12", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 12")...), 426, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"version missing", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Version")...), 426, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"version list", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8")...), 426, http.Header{"Sec-Websocket-Version": {"13"}}},
		{"version duplicated", head("GET /ws HTTP/1.1", append(std, "Sec-WebSocket-Version: 13")...), 400, nil},
		{"key missing", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Key")...), 400, nil},
		{"key duplicated", head("GET /ws HTTP/1.1", append(std, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")...), 400, nil},
		{"key empty", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key:")...), 400, nil},
		{"key not base64", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==")...), 400, nil},
		{"key 15 bytes", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA")...), 400, nil},
		{"key 17 bytes", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=")...), 400, nil},
		{"key non-canonical", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==")...), 400, nil},
		{"key url alphabet", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ-_")...), 400, nil},
		{"key two in one line", head("GET /ws HTTP/1.1", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ==")...), 400, nil},
		{"origin duplicated", head("GET /ws HTTP/1.1", append(std, "Origin: https://a", "Origin: https://b")...), 400, nil},
		{"protocol not a token", head("GET /ws HTTP/1.1", append(std, "Sec-WebSocket-Protocol: chat, a b")...), 400, nil},
		{"protocol 33 entries", head("GET /ws HTTP/1.1", append(std, "Sec-WebSocket-Protocol: "+strings.Repeat("p,", 33))...), 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := ParseUpgrade([]byte(tc.head), "/ws")
			require.Error(t, err)
			assert.Nil(t, u)
			var he *HTTPError
			require.True(t, errors.As(err, &he))
			assert.Equal(t, tc.status, he.Status, he.Reason)
			assert.Equal(t, tc.header, he.Header)
			assert.NotEmpty(t, he.Reason)
			checkResponse(t, he)
		})
	}
}

// checkResponse requires AppendHTTPError(e) to be a well-formed response.
func checkResponse(t *testing.T, e *HTTPError) *http.Response {
	t.Helper()
	out := AppendHTTPError(nil, e)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
	require.NoError(t, err, "%q", out)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, e.Reason+"\n", string(body))
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.True(t, resp.Close)
	return resp
}

func TestAppendHTTPError(t *testing.T) {
	e := &HTTPError{Status: 426, Reason: "unsupported WebSocket version (13 required)",
		Header: http.Header{"Sec-Websocket-Version": {"13"}}}
	assert.Equal(t, "HTTP/1.1 426 Upgrade Required\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n"+
		"Content-Length: 44\r\n"+
		"Connection: close\r\n"+
		"Sec-Websocket-Version: 13\r\n"+
		"\r\n"+
		"unsupported WebSocket version (13 required)\n", string(AppendHTTPError(nil, e)))
	assert.Equal(t, "wsproto: HTTP 426 Upgrade Required: unsupported WebSocket version (13 required)", e.Error())

	// Injection attempts are neutralised.
	e = &HTTPError{Status: 403, Reason: "no\r\n\r\nHTTP/1.1 200 OK", Header: http.Header{
		"X-Ok":           {"a\r\nSet-Cookie: evil=1", "b\x00c"},
		"Bad Key":        {"v"},
		"Evil\r\nHeader": {"v"},
		"Content-Length": {"0"},
		"connection":     {"keep-alive"},
	}}
	resp := checkResponse(t, e)
	assert.Equal(t, 403, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, []string{"a  Set-Cookie: evil=1", "b c"}, resp.Header.Values("X-Ok"))
	assert.Len(t, resp.Header, 3) // Content-Type, Content-Length, X-Ok (Connection: close became resp.Close)
	assert.Equal(t, 1, bytes.Count(AppendHTTPError(nil, e), []byte("\r\nConnection:")))

	// Odd statuses.
	resp = checkResponse(t, &HTTPError{Status: 42, Reason: ""})
	assert.Equal(t, 500, resp.StatusCode)
	resp = checkResponse(t, &HTTPError{Status: 599, Reason: "x"})
	assert.Equal(t, 599, resp.StatusCode)
}

func TestHeadEndSplit(t *testing.T) {
	lim := DefaultHeadLimits()
	assert.Equal(t, HeadLimits{MaxBytes: 8192, MaxHeaders: 64}, lim)
	h := []byte(validHead + "extra")
	for i := 0; i <= len(h); i++ {
		n, err := HeadEnd(h[:i], lim)
		require.NoError(t, err, "i=%d", i)
		if i < len(validHead) {
			require.Equal(t, -1, n, "i=%d", i)
		} else {
			require.Equal(t, len(validHead), n, "i=%d", i)
		}
	}
	// The zero HeadLimits means the defaults.
	n, err := HeadEnd([]byte(validHead), HeadLimits{})
	require.NoError(t, err)
	assert.Equal(t, len(validHead), n)
}

func TestHeadEndLimits(t *testing.T) {
	lim := DefaultHeadLimits()
	is431 := func(err error) bool {
		var he *HTTPError
		return errors.As(err, &he) && he.Status == 431
	}

	// A 64 KiB head in one header line: fine up to 8 KiB, then 431.
	big := []byte("GET /ws HTTP/1.1\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n")
	for _, i := range []int{100, 8191, 8192, 8193, 9000, len(big)} {
		n, err := HeadEnd(big[:i], lim)
		if i <= 8192 {
			require.NoError(t, err, "i=%d", i)
			require.Equal(t, -1, n)
		} else {
			require.True(t, is431(err), "i=%d: %v", i, err)
			checkResponse(t, err.(*HTTPError))
		}
	}
	// A complete head of exactly MaxBytes is accepted; one byte more is not.
	exact := "GET /ws HTTP/1.1\r\nX: "
	exact += strings.Repeat("a", 8192-len(exact)-4) + "\r\n\r\n"
	require.Len(t, exact, 8192)
	n, err := HeadEnd([]byte(exact), lim)
	require.NoError(t, err)
	assert.Equal(t, 8192, n)
	over := exact[:20] + "a" + exact[20:]
	_, err = HeadEnd([]byte(over), lim)
	assert.True(t, is431(err))

	// 2,000 headers: 431 as soon as the 65th header line is seen.
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\n")
	for range 2000 {
		b.WriteString("A: b\r\n")
	}
	b.WriteString("\r\n")
	_, err = HeadEnd([]byte(b.String()), lim)
	assert.True(t, is431(err))
	_, err = HeadEnd([]byte(b.String()[:18+65*6]), lim)
	assert.True(t, is431(err), "65 header lines")
	n, err = HeadEnd([]byte(b.String()[:18+64*6]+"\r\n"), lim)
	require.NoError(t, err, "64 header lines")
	assert.Equal(t, 18+64*6+2, n)

	// Bare LF is refused at once.
	_, err = HeadEnd([]byte("GET /ws HTTP/1.1\nHost: h\n\n"), lim)
	var he *HTTPError
	require.True(t, errors.As(err, &he))
	assert.Equal(t, 400, he.Status)

	// Custom limits.
	_, err = HeadEnd([]byte(validHead), HeadLimits{MaxBytes: 64})
	assert.True(t, is431(err))
	_, err = HeadEnd([]byte(validHead), HeadLimits{MaxHeaders: 3})
	assert.True(t, is431(err))
}

func TestProtocolListLinear(t *testing.T) {
	// 4 KiB of subprotocol offers in shapes that are quadratic for naive
	// parsers: each must be parsed in time linear in its length. Each shape
	// is timed at 4 KiB and at 256 B in the same test, so a loaded machine
	// slows both alike: linear parsing makes the ratio at most 16, a
	// quadratic one about 256.
	shapes := []struct {
		name string
		list func(n int) string
		want int
	}{
		{"too many", func(n int) string { return strings.Repeat("a,", n/2) }, 400},
		{"leading spaces", func(n int) string { return strings.Repeat(" ", n-6) + "a" }, 101},
		{"only empty elements", func(n int) string { return strings.Repeat(",", n) }, 101},
		{"empty elements with spaces", func(n int) string { return strings.Repeat(", \t", n/3) + "x" }, 101},
		{"one long token", func(n int) string { return strings.Repeat("x", n) }, 101},
		{"32 long tokens", func(n int) string { return strings.Repeat(strings.Repeat("p", n/32-2)+",", 32) }, 101},
		{"not a token", func(n int) string { return strings.Repeat("a ", n/2) }, 400},
	}
	const large, small = 4096, 256
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			parse := func(n int) time.Duration {
				h := head("GET /ws HTTP/1.1", append(std, "Sec-WebSocket-Protocol: "+sh.list(n))...)
				end, err := HeadEnd([]byte(h), DefaultHeadLimits())
				require.NoError(t, err)
				require.Equal(t, len(h), end)
				start := time.Now()
				for range 10 {
					u, err := ParseUpgrade([]byte(h), "/ws")
					if sh.want == 101 {
						require.NoError(t, err)
						require.LessOrEqual(t, len(u.Protocols), 32)
					} else {
						require.Error(t, err)
						assert.Equal(t, sh.want, err.(*HTTPError).Status)
					}
				}
				return time.Since(start)
			}
			// The fastest of several rounds of each: a pause on a busy
			// machine only lengthens a round.
			best := func(n int) time.Duration {
				d := parse(n)
				for range 6 {
					d = min(d, parse(n))
				}
				return max(d, time.Microsecond)
			}
			tSmall, tLarge := best(small), best(large)
			ratio := float64(tLarge) / float64(tSmall)
			t.Logf("10 parses: %v at %d B, %v at %d B (ratio %.1f)", tSmall, small, tLarge, large, ratio)
			// Guards quadratic parsing: 16x the length costs about 256x the
			// time then, against at most 16x for a linear parser.
			assert.Less(t, ratio, 64.0, "a 16x longer list took %.0fx as long", ratio)
		})
	}
}
