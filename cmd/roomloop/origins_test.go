package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseOrigins(t *testing.T) {
	valid := []struct {
		flag string
		want []string
	}{
		{"", nil},
		{"  ", nil},
		{"https://app.example.com", []string{"https://app.example.com"}},
		{"http://localhost:8000", []string{"http://localhost:8000"}},
		{" https://a.example.com , http://127.0.0.1:3000 ", []string{"https://a.example.com", "http://127.0.0.1:3000"}},
		{"http://[::1]:8080,https://[2001:db8::1]", []string{"http://[::1]:8080", "https://[2001:db8::1]"}},
		{"HTTPS://App.Example.COM", []string{"HTTPS://App.Example.COM"}}, // compared case-insensitively
		{"https://example.com.", []string{"https://example.com."}},
		{"http://my_host:65535", []string{"http://my_host:65535"}},
		{"https://xn--bcher-kva.de", []string{"https://xn--bcher-kva.de"}},
	}
	for _, tc := range valid {
		got, err := parseOrigins(tc.flag)
		require.NoError(t, err, "%q", tc.flag)
		assert.Equal(t, tc.want, got, "%q", tc.flag)
	}

	const help = "; write scheme://host[:port], e.g. "
	invalid := []struct {
		flag string
		want string // the whole message
	}{
		{"*", `-allowed-origins: "*" is not an origin (no wildcards: list each origin)` + help + "https://app.example.com"},
		{"https://*.example.com", `-allowed-origins: "https://*.example.com" is not an origin (no wildcards: list each origin)` + help + "https://app.example.com"},
		{"localhost:8000", `-allowed-origins: "localhost:8000" is not an origin (no scheme)` + help + "http://localhost:8000"},
		{"app.example.com", `-allowed-origins: "app.example.com" is not an origin (no scheme)` + help + "http://app.example.com"},
		{"null", `-allowed-origins: "null" is not an origin (null is what sandboxed pages and files send: allowing it lets any of them in)` + help + "http://localhost:8000"},
		{"https://app.example.com/", `-allowed-origins: "https://app.example.com/" is not an origin (no path, not even a trailing slash)` + help + "https://app.example.com"},
		{"https://app.example.com/chat", `-allowed-origins: "https://app.example.com/chat" is not an origin (no path, not even a trailing slash)` + help + "https://app.example.com"},
		{"http://localhost:8000?x=1", `-allowed-origins: "http://localhost:8000?x=1" is not an origin (no query or fragment)` + help + "http://localhost:8000"},
		{"http://localhost#top", `-allowed-origins: "http://localhost#top" is not an origin (no query or fragment)` + help + "http://localhost"},
		{"https://user:pw@app.example.com", `-allowed-origins: "https://user:pw@app.example.com" is not an origin (no user info)` + help + "https://app.example.com"},
		{"ws://app.example.com", `-allowed-origins: "ws://app.example.com" is not an origin (the scheme must be http or https)` + help + "https://app.example.com"},
		{"https://app.example.com:443", `-allowed-origins: "https://app.example.com:443" is not an origin (browsers leave out the default port :443)` + help + "https://app.example.com"},
		{"http://app.example.com:80", `-allowed-origins: "http://app.example.com:80" is not an origin (browsers leave out the default port :80)` + help + "http://app.example.com"},
		{"http://localhost:", `-allowed-origins: "http://localhost:" is not an origin (empty port)` + help + "http://localhost"},
		{"http://localhost:0", `-allowed-origins: "http://localhost:0" is not an origin (the port must be a number from 1 to 65535)` + help + "http://localhost:8000"},
		{"http://localhost:65536", `-allowed-origins: "http://localhost:65536" is not an origin (the port must be a number from 1 to 65535)` + help + "http://localhost:8000"},
		{"http://localhost:08000", `-allowed-origins: "http://localhost:08000" is not an origin (the port must be a number from 1 to 65535)` + help + "http://localhost:8000"},
		{"http://localhost:x", `-allowed-origins: "http://localhost:x" is not an origin (the port must be a number from 1 to 65535)` + help + "http://localhost:8000"},
		{"http://", `-allowed-origins: "http://" is not an origin (no host)` + help + "http://localhost:8000"},
		{"http://::1", `-allowed-origins: "http://::1" is not an origin (an IPv6 address must be in brackets)` + help + "http://localhost:8000"},
		{"http://[::1", `-allowed-origins: "http://[::1" is not an origin (bad IPv6 address: no ']')` + help + "http://localhost:8000"},
		{"http://[1.2.3.4]", `-allowed-origins: "http://[1.2.3.4]" is not an origin (bad IPv6 address)` + help + "http://localhost:8000"},
		{"http://a..b", `-allowed-origins: "http://a..b" is not an origin (empty label in the host)` + help + "http://localhost:8000"},
		{"http://a b", `-allowed-origins: "http://a b" is not an origin (the host may hold only letters, digits, '-', '_' and '.', not ' ')` + help + "http://localhost:8000"},
		{"http://bücher.de", `-allowed-origins: "http://bücher.de" is not an origin (an international host name must be in its xn-- form, as browsers send it)` + help + "http://localhost:8000"},
		{"https://a.example.com,,https://b.example.com", `-allowed-origins: empty origin in "https://a.example.com,,https://b.example.com" (a stray comma?)` + help + "http://localhost:8000"},
		{"https://a.example.com,", `-allowed-origins: empty origin in "https://a.example.com," (a stray comma?)` + help + "http://localhost:8000"},
		{"https://a.example.com, localhost:3000", `-allowed-origins: "localhost:3000" is not an origin (no scheme)` + help + "http://localhost:3000"},
	}
	for _, tc := range invalid {
		got, err := parseOrigins(tc.flag)
		if assert.Error(t, err, "%q", tc.flag) {
			assert.Equal(t, tc.want, err.Error(), "%q", tc.flag)
		}
		assert.Nil(t, got, "%q", tc.flag)
	}
}
