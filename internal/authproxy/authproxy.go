// Package authproxy authorizes roomloop connections by asking an HTTP
// backend: its Proxy gives an api.Options.Authorize, CanJoin and Refresh.
//
// For every upgrade request (resumes included) the Proxy POSTs a Request
// as JSON to the backend's URL and reads an Answer from its reply:
//
//   - 200 with a non-empty "user": accepted. "user" is api.Identity.User
//     (only the same user resumes a session), "rooms" are joined at
//     connect, and "allowed_rooms", when present, limits $join with the
//     same patterns as package jwtauth's: a room name, or a prefix and a
//     trailing "*" ("*" alone: any room; an empty array: none).
//     "expires_in" (seconds, optional) is when the credential expires
//     (api.Identity.Expires): the server then closes the connection with
//     4004 unless the client sends a fresh token with $refresh, which
//     the Proxy asks the backend about as well (Request.Refresh).
//   - 401 or 403: refused with that status, and as reason the first line
//     of the backend's plain-text body (tabs made spaces, other control
//     characters dropped, at
//     most MaxReasonBytes).
//   - anything else (a timeout, a connection error, a redirect, another
//     status, a body over MaxBodyBytes, bad JSON, 200 without a user):
//     503, never an accepted connection.
//
// The backend call ends with the upgrade request's context (its client
// going away, the server's AuthTimeout, shutdown) or after Timeout,
// whichever comes first. The request carries the client's token and
// cookies for the backend; they are never logged.
package authproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/internal/jwtauth"
)

// Defaults and bounds.
const (
	DefaultTimeout = 2 * time.Second
	MaxBodyBytes   = 64 << 10 // of the backend's answer
	MaxReasonBytes = 200      // of a 401/403 reason passed on
)

// ReasonUnavailable is the 503's reason when the backend fails.
const ReasonUnavailable = "authorization backend unavailable"

// The headers forwarded to the backend, when the client sent them.
var forwarded = []string{"Authorization", "Cookie", "Origin", "User-Agent", "X-Forwarded-For"}

// The query parameters kept out of Request.Query: the session's resume
// token and position are no business of the backend, and "token" is
// passed as Request.Token.
var dropped = []string{"resume", "last_seq", "token"}

// claimAllowedRooms is the Identity.Claims key holding "allowed_rooms".
const claimAllowedRooms = "allowed_rooms"

// Request is the JSON body POSTed to the backend.
type Request struct {
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	Query      map[string][]string `json:"query"`           // less resume, last_seq and token
	Token      string              `json:"token,omitempty"` // the "token" query parameter
	Headers    map[string]string   `json:"headers"`         // Authorization, Cookie, Origin, User-Agent, X-Forwarded-For
	RemoteAddr string              `json:"remote_addr"`     // the client's ip:port as the server sees it
	// Refresh marks a $refresh: a connected session (Session, of the
	// user the backend named before) presents a fresh Token. The other
	// fields are then empty.
	Refresh bool   `json:"refresh,omitempty"`
	Session string `json:"session,omitempty"`
}

// Answer is the backend's JSON answer with status 200.
type Answer struct {
	User         string    `json:"user"`
	Rooms        []string  `json:"rooms"`
	AllowedRooms *[]string `json:"allowed_rooms"` // nil: any room
	// ExpiresIn, in seconds, is how long the credential is good for
	// (api.Identity.Expires); 0 or absent: it does not expire.
	ExpiresIn int64 `json:"expires_in"`
}

// Config configures a Proxy.
type Config struct {
	URL     string        // http or https
	Timeout time.Duration // per backend call; 0: DefaultTimeout
	Client  *http.Client  // nil: one that does not follow redirects
	Logger  *slog.Logger  // backend failures, at warn; nil: discarded
}

// Proxy asks the backend.
type Proxy struct {
	url     string
	timeout time.Duration
	client  *http.Client
	log     *slog.Logger
}

// New returns a Proxy for cfg.URL, which must be an absolute http or
// https URL.
func New(cfg Config) (*Proxy, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return nil, fmt.Errorf("authproxy: URL does not parse: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("authproxy: URL %q is not an absolute http or https URL", u.Redacted())
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("authproxy: negative timeout")
	}
	p := &Proxy{url: cfg.URL, timeout: cfg.Timeout, client: cfg.Client, log: cfg.Logger}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	if p.client == nil {
		p.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return p, nil
}

// RequestOf returns what the backend is told about r.
func RequestOf(r *http.Request) Request {
	q := r.URL.Query()
	token := q.Get("token")
	for _, k := range dropped {
		q.Del(k)
	}
	h := map[string]string{}
	for _, name := range forwarded {
		if vs := r.Header.Values(name); len(vs) > 0 {
			sep := ", "
			if name == "Cookie" {
				sep = "; "
			}
			h[name] = strings.Join(vs, sep)
		}
	}
	return Request{Method: r.Method, Path: r.URL.Path, Query: q, Token: token, Headers: h, RemoteAddr: r.RemoteAddr}
}

// Authorize is an api.Options.Authorize: it asks the backend about r.
func (p *Proxy) Authorize(r *http.Request) (api.Identity, error) {
	id, err := p.ask(r.Context(), RequestOf(r))
	if err != nil {
		var ref *api.Refusal
		if errors.As(err, &ref) {
			return api.Identity{}, ref
		}
		p.log.Warn("authorization backend failed", "remote", r.RemoteAddr, "err", err)
		return api.Identity{}, &api.Refusal{Status: http.StatusServiceUnavailable, Reason: ReasonUnavailable}
	}
	return id, nil
}

// Refresh is an api.Options.Refresh: it asks the backend about a fresh
// token a connected session sends with $refresh (Request.Refresh). The
// server checks that the answer's user is the session's. A refusal (401,
// 403) is passed on with its reason; a backend failure is $error
// internal, and the session keeps its old expiry.
func (p *Proxy) Refresh(c *api.Conn, token string) (api.Identity, error) {
	id, err := p.ask(c.Context(), Request{Refresh: true, Session: c.ID(), Token: token})
	if err != nil {
		var ref *api.Refusal
		if errors.As(err, &ref) {
			return api.Identity{}, ref
		}
		p.log.Warn("authorization backend failed a refresh", "session", c.ID(), "err", err)
		return api.Identity{}, api.NewError(api.CodeInternal, ReasonUnavailable)
	}
	id.Rooms = nil // rooms are for connecting
	return id, nil
}

func (p *Proxy) ask(ctx context.Context, q Request) (api.Identity, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return api.Identity{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return api.Identity{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return api.Identity{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes+1))
	if err != nil {
		return api.Identity{}, fmt.Errorf("reading the answer: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return api.Identity{}, &api.Refusal{Status: resp.StatusCode, Reason: reasonOf(data, "unauthorized")}
	case http.StatusForbidden:
		return api.Identity{}, &api.Refusal{Status: resp.StatusCode, Reason: reasonOf(data, "forbidden")}
	default:
		return api.Identity{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	if len(data) > MaxBodyBytes {
		return api.Identity{}, fmt.Errorf("answer over %d bytes", MaxBodyBytes)
	}
	var a Answer
	if err := json.Unmarshal(data, &a); err != nil {
		return api.Identity{}, fmt.Errorf("answer: %w", err)
	}
	if a.User == "" {
		return api.Identity{}, errors.New("answer has no user")
	}
	if a.ExpiresIn < 0 {
		return api.Identity{}, errors.New("answer has a negative expires_in")
	}
	for _, room := range a.Rooms {
		if room == "" {
			return api.Identity{}, errors.New("answer has an empty room")
		}
	}
	claims := map[string]any{"user": a.User}
	if a.AllowedRooms != nil {
		claims[claimAllowedRooms] = append([]string{}, *a.AllowedRooms...)
	}
	id := api.Identity{User: a.User, Rooms: a.Rooms, Claims: claims}
	if a.ExpiresIn > 0 {
		id.Expires = time.Now().Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	return id, nil
}

// CanJoin is an api.Options.CanJoin: a client whose answer had
// "allowed_rooms" may join only the rooms they match.
func (p *Proxy) CanJoin(c *api.Conn, room string) error {
	patterns, limited := c.Claims()[claimAllowedRooms].([]string)
	if !limited || jwtauth.Allowed(patterns, room) {
		return nil
	}
	return api.NewError(api.CodeForbidden, "not allowed to join room "+room)
}

// reasonOf makes a backend's body a one-line reason of at most
// MaxReasonBytes, or def when nothing is left.
func reasonOf(body []byte, def string) string {
	s := strings.ToValidUTF8(string(body), "?")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > MaxReasonBytes {
		cut := MaxReasonBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	if s == "" {
		return def
	}
	return s
}
