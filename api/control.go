package api

import (
	"encoding/json"
	"time"

	"github.com/roomloop/roomloop/frame"
)

// Reserved events (docs/protocol.md).
const (
	evWelcome   = "$welcome"
	evJoin      = "$join"
	evJoined    = "$joined"
	evLeave     = "$leave"
	evLeft      = "$left"
	evPresence  = "$presence"
	evAck       = "$ack"
	evError     = "$error"
	evPing      = "$ping"
	evPong      = "$pong"
	evSeen      = "$seen"
	evRefresh   = "$refresh"
	evRefreshed = "$refreshed"
)

// controlFrame builds a server control frame with a JSON payload (nil: none).
func controlFrame(event, room, id string, payload any) *frame.Outgoing {
	return frame.NewOutgoing(controlOf(event, room, id, payload))
}

// sessionFrame is controlFrame for a frame about c itself ($joined,
// $left): its Ref carries c's id, for the wires that name the session in
// such frames (package wire; roomloop's own codecs do not write Ref).
func sessionFrame(c *Conn, event, room, id string, payload any) *frame.Outgoing {
	f := controlOf(event, room, id, payload)
	f.Ref = c.id
	return frame.NewOutgoing(f)
}

// controlOf builds a control frame with payload marshalled as JSON.
func controlOf(event, room, id string, payload any) frame.Frame {
	f := frame.Frame{Event: event, Room: room, ID: id}
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			panic("roomloop: control payload: " + err.Error()) // our own types: a bug
		}
		f.Kind, f.Payload = frame.JSONPayload, b
	}
	return f
}

// welcome builds the $welcome for c: resumed or not, the highest seq
// assigned so far, why a requested resume was refused, and when the
// session's credential expires (zero: never).
func (s *Server) welcome(c *Conn, resumed bool, last uint64, reason string, expires time.Time) *frame.Outgoing {
	p := frame.WelcomePayload{
		Session:            c.id,
		Resume:             c.token,
		HeartbeatMS:        s.opts.HeartbeatInterval.Milliseconds(),
		HeartbeatTimeoutMS: s.opts.HeartbeatTimeout.Milliseconds(),
		Resumed:            resumed,
		LastSeq:            last,
		Reason:             reason,
		ExpiresInMS:        msUntil(expires),
	}
	if !s.opts.DisableResume {
		p.ResumeWindowMS = s.opts.ResumeWindow.Milliseconds()
	}
	return controlFrame(evWelcome, "", "", p)
}

// sendError answers a refused client frame; id and room are echoed when
// they were valid.
func (c *Conn) sendError(id, room, code, message string) {
	_ = c.sendOut(controlFrame(evError, room, id, frame.ErrorPayload{Code: code, Message: message}))
}

// ack confirms an accepted application frame that carried an id.
func (c *Conn) ack(id string) {
	if id != "" {
		_ = c.sendOut(controlFrame(evAck, "", id, nil))
	}
}
