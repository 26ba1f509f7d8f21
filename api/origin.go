package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ValidateOrigin reports whether s is an origin as browsers send it in the
// Origin header, fit for Options.AllowedOrigins: scheme http or https, a
// host and an optional port, nothing else (no path, not even a trailing
// slash, no wildcard, no default port). The error says what is wrong and
// what a valid value looks like.
func ValidateOrigin(s string) error {
	if reason, example := checkOrigin(s); reason != "" {
		return fmt.Errorf("%q is not an origin (%s); write scheme://host[:port], e.g. %s", s, reason, example)
	}
	return nil
}

// originAllowed applies CheckOrigin, or the default: no Origin header,
// same origin as the Host, or an exact AllowedOrigins entry.
func (s *Server) originAllowed(r *http.Request) bool {
	if s.opts.CheckOrigin != nil {
		return s.opts.CheckOrigin(r)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, a := range s.opts.AllowedOrigins {
		if strings.EqualFold(a, origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// checkOrigin returns why s is not an origin, and an example of what was
// probably meant; an empty reason when s is one.
func checkOrigin(s string) (reason, example string) {
	const generic = "http://localhost:8000"
	if strings.EqualFold(s, "null") {
		return "null is what sandboxed pages and files send: allowing it lets any of them in", generic
	}
	if strings.Contains(s, "*") {
		return "no wildcards: list each origin", "https://app.example.com"
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		if r, _ := checkHostPort(s, "http"); r == "" {
			return "no scheme", "http://" + s
		}
		return "no scheme", generic
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		if r, ex := checkHostPort(rest, "https"); r == "" {
			return "the scheme must be http or https", "https://" + ex
		}
		return "the scheme must be http or https", generic
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		reason = "no path, not even a trailing slash"
		if rest[i] != '/' {
			reason = "no query or fragment"
		}
		if r, ex := checkHostPort(rest[:i], scheme); r == "" {
			return reason, scheme + "://" + ex
		}
		return reason, generic
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if r, ex := checkHostPort(rest[i+1:], scheme); r == "" {
			return "no user info", scheme + "://" + ex
		}
		return "no user info", generic
	}
	if r, ex := checkHostPort(rest, scheme); r != "" {
		if ex == "" {
			return r, generic
		}
		return r, scheme + "://" + ex
	}
	return "", ""
}

// checkHostPort returns why hp is not host[:port] as a browser writes it
// for scheme, and what it would write instead (empty if unclear).
func checkHostPort(hp, scheme string) (reason, example string) {
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") { // IPv6 literal
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "bad IPv6 address: no ']'", ""
		}
		a, err := netip.ParseAddr(hp[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "bad IPv6 address", ""
		}
		host, port = hp[:end+1], hp[end+1:]
		if port != "" && port[0] != ':' {
			return "bad port", ""
		}
		port = strings.TrimPrefix(port, ":")
		if port == "" && strings.HasSuffix(hp, ":") {
			return "empty port", host
		}
	} else {
		if strings.Count(hp, ":") > 1 {
			return "an IPv6 address must be in brackets", ""
		}
		var hasPort bool
		host, port, hasPort = strings.Cut(hp, ":")
		if r := checkHostname(host); r != "" {
			return r, ""
		}
		if hasPort && port == "" {
			return "empty port", host
		}
	}
	if port == "" {
		return "", host
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return "the port must be a number from 1 to 65535", ""
	}
	if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
		return "browsers leave out the default port :" + port, host
	}
	return "", host + ":" + port
}

// checkHostname returns why h is not a host name or IPv4 address as
// browsers send it: ASCII labels of letters, digits, '-' and '_',
// separated by dots (a final dot allowed).
func checkHostname(h string) string {
	if h == "" {
		return "no host"
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	for _, l := range labels {
		if l == "" {
			return "empty label in the host"
		}
		for _, c := range []byte(l) {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			case c >= 0x80:
				return "an international host name must be in its xn-- form, as browsers send it"
			default:
				return fmt.Sprintf("the host may hold only letters, digits, '-', '_' and '.', not %q", c)
			}
		}
	}
	return ""
}
