package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/roomloop/roomloop/api"
)

// op runs one command on its JSON params and returns the status and
// result, or an error answer.
type op func(params []byte) (int, any, *apiError)

// ops are the POST endpoints, by name (also the batch methods, but batch).
func (h *Handler) ops() map[string]op {
	return map[string]op{
		"publish": h.publish,
		"send":    h.send,
		"kick":    h.kick,
		"join":    h.join,
		"leave":   h.leave,
		"batch":   h.batch,

		"send_user": h.sendUser,
		"kick_user": h.kickUser,
	}
}

// readBody reads r's body up to max bytes (more: 413).
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, *apiError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, errorf(http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is over %d bytes", max))
	case err != nil:
		return nil, badRequest("reading the body: " + err.Error())
	}
	return b, nil
}

// decode reads exactly one JSON object into v, refusing unknown fields.
func decode(b []byte, v any) *apiError {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return badRequest("bad JSON: " + err.Error())
	}
	if d.More() {
		return badRequest("bad JSON: more than one value")
	}
	return nil
}

func unescape(s string) (string, bool) {
	u, err := url.PathUnescape(s)
	return u, err == nil
}

// checkEvent validates an event name as a client frame's is (non-empty,
// at most Limits.MaxEvent bytes, UTF-8 without control characters) and
// refuses the '$' events, which belong to the protocol.
func (h *Handler) checkEvent(event string) *apiError {
	switch {
	case event == "":
		return badRequest("event is empty")
	case len(event) > h.opts.Limits.MaxEvent:
		return badRequest(fmt.Sprintf("event is over %d bytes", h.opts.Limits.MaxEvent))
	case strings.HasPrefix(event, "$"):
		return badRequest("events starting with '$' belong to the protocol")
	case !printable(event):
		return badRequest("event is not UTF-8 without control characters")
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func (h *Handler) checkRoom(room string) *apiError {
	if err := h.opts.Limits.CheckRoom(room); err != nil {
		return badRequest(err.Error())
	}
	return nil
}

func checkSession(id string) *apiError {
	if id == "" {
		return badRequest("session is empty")
	}
	return nil
}

// makeFrame is event with payload: none when absent, else the JSON value.
func makeFrame(event string, payload json.RawMessage) api.Frame {
	f := api.Frame{Event: event}
	if payload != nil {
		f.Kind, f.Payload = api.JSONPayload, payload
	}
	return f
}

type publishParams struct {
	Room           string          `json:"room"`
	Event          string          `json:"event"`
	Payload        json.RawMessage `json:"payload"`
	Exclude        []string        `json:"exclude"`
	IdempotencyKey string          `json:"idempotency_key"`
}

type publishResult struct {
	Delivered int  `json:"delivered"`
	Duplicate bool `json:"duplicate,omitempty"`
	// Incomplete: some nodes of a cluster did not answer (send_user);
	// Delivered counts what the others did.
	Incomplete bool `json:"incomplete,omitempty"`
}

// publish broadcasts to a room. With an idempotency key seen within the
// window it does nothing and answers the first answer with duplicate set.
func (h *Handler) publish(b []byte) (int, any, *apiError) {
	var p publishParams
	if e := decode(b, &p); e != nil {
		return 0, nil, e
	}
	if e := h.checkRoom(p.Room); e != nil {
		return 0, nil, e
	}
	if e := h.checkEvent(p.Event); e != nil {
		return 0, nil, e
	}
	apply := func() (int, any, *apiError) {
		n, err := h.srv.Broadcast(p.Room, makeFrame(p.Event, p.Payload), p.Exclude...)
		if err != nil {
			return 0, nil, fromServer(err)
		}
		return http.StatusOK, publishResult{Delivered: n}, nil
	}
	if p.IdempotencyKey == "" {
		return apply()
	}
	st, res, e, dup := h.seen.do(p.IdempotencyKey, apply)
	if dup {
		r := res.(publishResult)
		r.Duplicate = true
		res = r
	}
	return st, res, e
}

type sendParams struct {
	Session string          `json:"session"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

// send queues a frame for one session.
func (h *Handler) send(b []byte) (int, any, *apiError) {
	var p sendParams
	if e := decode(b, &p); e != nil {
		return 0, nil, e
	}
	if e := checkSession(p.Session); e != nil {
		return 0, nil, e
	}
	if e := h.checkEvent(p.Event); e != nil {
		return 0, nil, e
	}
	if err := h.srv.Send(p.Session, makeFrame(p.Event, p.Payload)); err != nil {
		return 0, nil, fromServer(err)
	}
	return http.StatusOK, publishResult{Delivered: 1}, nil
}

type kickParams struct {
	Session string `json:"session"`
	Reason  string `json:"reason"`
}

// kick ends a session with close 4001.
func (h *Handler) kick(b []byte) (int, any, *apiError) {
	var p kickParams
	if e := decode(b, &p); e != nil {
		return 0, nil, e
	}
	if e := checkSession(p.Session); e != nil {
		return 0, nil, e
	}
	if e := checkReason(p.Reason); e != nil {
		return 0, nil, e
	}
	if err := h.srv.Kick(p.Session, p.Reason); err != nil {
		return 0, nil, fromServer(err)
	}
	return http.StatusOK, struct{}{}, nil
}

type userParams struct {
	User    string          `json:"user"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

// sendUser queues a frame for every live session of a user, on every node
// of a cluster (api.Server.SendUser); delivered counts those it was
// queued for.
func (h *Handler) sendUser(b []byte) (int, any, *apiError) {
	var p userParams
	if e := decode(b, &p); e != nil {
		return 0, nil, e
	}
	if p.User == "" {
		return 0, nil, badRequest("user is empty")
	}
	if e := h.checkEvent(p.Event); e != nil {
		return 0, nil, e
	}
	n, err := h.srv.SendUser(p.User, makeFrame(p.Event, p.Payload))
	if err != nil && !errors.Is(err, api.ErrIncomplete) {
		return 0, nil, fromServer(err)
	}
	return http.StatusOK, publishResult{Delivered: n, Incomplete: err != nil}, nil
}

// kickResult answers kick_user; Incomplete as publishResult's.
type kickResult struct {
	Kicked     int  `json:"kicked"`
	Incomplete bool `json:"incomplete,omitempty"`
}

type kickUserParams struct {
	User   string `json:"user"`
	Reason string `json:"reason"`
}

// kickUser ends every live session of a user, on every node of a
// cluster (api.Server.KickUser); kicked counts them.
func (h *Handler) kickUser(b []byte) (int, any, *apiError) {
	var p kickUserParams
	if e := decode(b, &p); e != nil {
		return 0, nil, e
	}
	if p.User == "" {
		return 0, nil, badRequest("user is empty")
	}
	if e := checkReason(p.Reason); e != nil {
		return 0, nil, e
	}
	n, err := h.srv.KickUser(p.User, p.Reason)
	if err != nil && !errors.Is(err, api.ErrIncomplete) {
		return 0, nil, fromServer(err)
	}
	return http.StatusOK, kickResult{Kicked: n, Incomplete: err != nil}, nil
}

func checkReason(reason string) *apiError {
	if len(reason) > 123 || !utf8.ValidString(reason) {
		return badRequest("reason must be UTF-8 of at most 123 bytes (what a close frame holds)")
	}
	return nil
}

type roomParams struct {
	Session string `json:"session"`
	Room    string `json:"room"`
}

func (h *Handler) join(b []byte) (int, any, *apiError)  { return h.membership(b, h.srv.Join) }
func (h *Handler) leave(b []byte) (int, any, *apiError) { return h.membership(b, h.srv.Leave) }

// membership runs Join or Leave.
func (h *Handler) membership(b []byte, fn func(id, room string) error) (int, any, *apiError) {
	var p roomParams
	if e := decode(b, &p); e != nil {
		return 0, nil, e
	}
	if e := checkSession(p.Session); e != nil {
		return 0, nil, e
	}
	if e := h.checkRoom(p.Room); e != nil {
		return 0, nil, e
	}
	if err := fn(p.Session, p.Room); err != nil {
		return 0, nil, fromServer(err)
	}
	return http.StatusOK, struct{}{}, nil
}

// members lists up to limit (default DefaultMembersLimit) of room's
// session ids and its member count.
func (h *Handler) members(room, limit string) (int, any, *apiError) {
	if e := h.checkRoom(room); e != nil {
		return 0, nil, e
	}
	n := DefaultMembersLimit
	if limit != "" {
		var err error
		if n, err = strconv.Atoi(limit); err != nil || n < 0 {
			return 0, nil, badRequest("limit must be a whole number, 0 or more")
		}
	}
	ids, count := h.srv.Members(room, n)
	return http.StatusOK, map[string]any{"count": count, "members": nonNil(ids)}, nil
}

// statsJSON is api.Stats's load fields with snake_case names (the other
// counters are on /metrics).
type statsJSON struct {
	Connections   int    `json:"connections"`
	Sessions      int    `json:"sessions"`
	Suspended     int    `json:"suspended"`
	Rooms         int    `json:"rooms"`
	QueuedBytes   int64  `json:"queued_bytes"`
	Writes        uint64 `json:"writes"`
	FramesWritten uint64 `json:"frames_written"`
}

func stats(s api.Stats) statsJSON {
	return statsJSON{s.Connections, s.Sessions, s.Suspended, s.Rooms, s.QueuedBytes, s.Writes, s.FramesWritten}
}

type batchParams struct {
	Commands []struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	} `json:"commands"`
}

// batchReply is one command's answer in a batch.
type batchReply struct {
	Status int       `json:"status"`
	Result any       `json:"result,omitempty"`
	Error  *apiError `json:"error,omitempty"`
}

// batch runs up to MaxBatch commands in order, each answered on its own;
// the batch itself answers 200 once it parses.
func (h *Handler) batch(b []byte) (int, any, *apiError) {
	var p batchParams
	if e := decode(b, &p); e != nil {
		return 0, nil, e
	}
	if len(p.Commands) > h.opts.MaxBatch {
		return 0, nil, badRequest(fmt.Sprintf("more than %d commands", h.opts.MaxBatch))
	}
	ops := h.ops()
	replies := make([]batchReply, len(p.Commands))
	for i, c := range p.Commands {
		fn, ok := ops[c.Method]
		if !ok || c.Method == "batch" {
			e := badRequest(fmt.Sprintf("unknown method %q", c.Method))
			replies[i] = batchReply{Status: e.Status, Error: e}
			continue
		}
		st, res, e := fn(c.Params)
		if e != nil {
			st = e.Status
		}
		replies[i] = batchReply{Status: st, Result: res, Error: e}
	}
	return http.StatusOK, map[string][]batchReply{"replies": replies}, nil
}
