// Package httpapi is roomloop's HTTP API for back ends: publish to a room,
// send to or kick a session or all sessions of a user, join and leave on a session's behalf, list
// rooms and members, read stats, and run a batch of these, as JSON over
// HTTP, authorized by a bearer API key. docs/http-api.md documents the
// endpoints. The binary serves it on its admin address under /api/.
package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// Defaults of Options' zero values.
const (
	DefaultMaxBody           = 1 << 20
	DefaultMaxBatch          = 1000
	DefaultIdempotencyWindow = 5 * time.Minute
	DefaultIdempotencyKeys   = 10000
	DefaultMembersLimit      = 1000
)

// Options configures the API. Zero values mean the defaults above.
type Options struct {
	// APIKey is the bearer key every request must carry. Empty disables
	// the API: every request gets 404 with code "disabled".
	APIKey string
	// Limits validates event and room names as the server's client frames
	// are validated; use the server's Options.Limits.
	Limits frame.Limits
	// Observe, when set, is called after every request with its endpoint
	// (an operation's name, "rooms", "stats", "members" or "unknown") and
	// the status answered: for request metrics.
	Observe func(endpoint string, status int)
	// MaxBody bounds a request body in bytes (over it: 413).
	MaxBody int64
	// MaxBatch bounds the commands of one batch (over it: 400).
	MaxBatch int
	// IdempotencyWindow is how long a publish's idempotency key is
	// remembered; IdempotencyKeys bounds how many are (the least recently
	// used is forgotten first).
	IdempotencyWindow time.Duration
	IdempotencyKeys   int
}

// Handler serves the API at paths starting with /api/. Make one with New.
type Handler struct {
	srv     *api.Server
	opts    Options
	keyHash [32]byte
	seen    *idemCache
}

// New returns the API over srv.
func New(srv *api.Server, opts Options) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.IdempotencyWindow <= 0 {
		opts.IdempotencyWindow = DefaultIdempotencyWindow
	}
	if opts.IdempotencyKeys <= 0 {
		opts.IdempotencyKeys = DefaultIdempotencyKeys
	}
	opts.Limits = opts.Limits.WithDefaults()
	return &Handler{
		srv:     srv,
		opts:    opts,
		keyHash: sha256.Sum256([]byte(opts.APIKey)),
		seen:    newIdemCache(opts.IdempotencyKeys, opts.IdempotencyWindow, time.Now),
	}
}

// apiError is an error answer: status and {"error":{"code","message"}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errorf(status int, code, message string) *apiError {
	return &apiError{Status: status, Code: code, Message: message}
}

func badRequest(message string) *apiError {
	return errorf(http.StatusBadRequest, api.CodeBadRequest, message)
}

// fromServer maps an api error to an answer.
func fromServer(err error) *apiError {
	switch {
	case errors.Is(err, api.ErrNoSuchSession), errors.Is(err, api.ErrClosed):
		return errorf(http.StatusNotFound, api.CodeNoSuchSession, "no such session")
	case errors.Is(err, api.ErrInvalidRoom), errors.Is(err, api.ErrInvalidFrame):
		return badRequest(strings.TrimPrefix(err.Error(), "roomloop: "))
	case errors.Is(err, api.ErrNotMember):
		return errorf(http.StatusConflict, api.CodeNotMember, "the session is not in that room")
	case errors.Is(err, api.ErrTooManyRooms):
		return errorf(http.StatusConflict, api.CodeTooManyRooms, "too many rooms")
	case errors.Is(err, api.ErrSlowConsumer), errors.Is(err, api.ErrDropped):
		return errorf(http.StatusConflict, api.CodeDropped, strings.TrimPrefix(err.Error(), "roomloop: "))
	case errors.Is(err, api.ErrServerClosed):
		return errorf(http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
	default:
		return errorf(http.StatusInternalServerError, api.CodeInternal, "internal error")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="roomloop"`)
	}
	writeJSON(w, e.Status, map[string]*apiError{"error": e})
}

// authorized reports whether r carries the API key, comparing in
// constant time (hashes, so that the length does not leak either).
func (h *Handler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(auth[len(prefix):]))
	return subtle.ConstantTimeCompare(got[:], h.keyHash[:]) == 1
}

// ServeHTTP checks, in this order: an API key is configured (else 404
// "disabled"), the bearer key (401), the path (404), the method (405),
// then for POST the content type (415), the body size (413) and its JSON
// (400), and runs the endpoint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.opts.Observe == nil {
		h.serve(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	h.serve(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	h.opts.Observe(h.endpoint(r.URL.EscapedPath()), sw.status)
}

// endpoint names the endpoint of path for Observe: an operation's name,
// "rooms", "stats", "members", or "unknown" (a bounded set).
func (h *Handler) endpoint(path string) string {
	if _, ok := membersPath(path); ok {
		return "members"
	}
	switch path {
	case "/api/rooms":
		return "rooms"
	case "/api/stats":
		return "stats"
	}
	if name, ok := strings.CutPrefix(path, "/api/"); ok {
		if _, ok := h.ops()[name]; ok {
			return name
		}
	}
	return "unknown"
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serve handles one request (see ServeHTTP).
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	if h.opts.APIKey == "" {
		writeError(w, errorf(http.StatusNotFound, "disabled", "the HTTP API is disabled: no API key configured"))
		return
	}
	if !h.authorized(r) {
		writeError(w, errorf(http.StatusUnauthorized, "unauthorized", "missing or wrong bearer API key"))
		return
	}
	path := r.URL.EscapedPath()
	if room, ok := membersPath(path); ok {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use GET"))
			return
		}
		st, res, e := h.members(room, r.URL.Query().Get("limit"))
		h.reply(w, st, res, e)
		return
	}
	switch path {
	case "/api/rooms", "/api/stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use GET"))
			return
		}
		if path == "/api/rooms" {
			h.reply(w, http.StatusOK, map[string][]string{"rooms": nonNil(h.srv.Rooms())}, nil)
		} else {
			h.reply(w, http.StatusOK, stats(h.srv.Stats()), nil)
		}
		return
	}
	name := strings.TrimPrefix(path, "/api/")
	op, ok := h.ops()[name]
	if !ok || name == path {
		writeError(w, errorf(http.StatusNotFound, "not_found", "no such endpoint"))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use POST"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json"))
		return
	}
	body, aerr := readBody(w, r, h.opts.MaxBody)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	st, res, e := op(body)
	h.reply(w, st, res, e)
}

// reply writes result with status, or the error.
func (h *Handler) reply(w http.ResponseWriter, status int, result any, e *apiError) {
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, status, result)
}

// membersPath returns ROOM of /api/rooms/ROOM/members, unescaped.
func membersPath(escaped string) (string, bool) {
	const prefix, suffix = "/api/rooms/", "/members"
	if !strings.HasPrefix(escaped, prefix) || !strings.HasSuffix(escaped, suffix) || len(escaped) <= len(prefix)+len(suffix) {
		return "", false
	}
	room := escaped[len(prefix) : len(escaped)-len(suffix)]
	if strings.Contains(room, "/") {
		return "", false // a room with '/' comes escaped as %2F
	}
	return unescape(room)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
