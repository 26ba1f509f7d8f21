package api

import (
	"encoding/binary"
	"errors"
	"slices"

	"github.com/roomloop/roomloop/frame"
)

// The records nodes exchange through a Broker (docs/cluster.md, "Records").
// A room record is one byte of type, then its fields; a request to a
// node is one byte of operation, then its fields. Strings are a uvarint
// length and the bytes; a frame's payload runs to the end.

// Room record types.
const (
	recFrame byte = 'f' // a frame for the room's members
	recJoin  byte = 'j' // a session joined: its id and home node
	recLeave byte = 'l' // a session left
)

// Request operations, and the status byte that starts an answer.
const (
	opSend  byte = 's' // queue a frame for a session
	opKick  byte = 'k' // end a session
	opJoin  byte = 'j' // put a session into a room
	opLeave byte = 'L' // take a session out of a room
	opWho   byte = 'w' // have you the session? (answered OK and 1 if connected, 0 if suspended)

	// A user's sessions on the node that is asked: the answer lists their
	// ids, or counts those a frame was queued for or that were ended.
	opSessionsOf byte = 'u'
	opSendUser   byte = 'U'
	opKickUser   byte = 'K'

	answerOK      byte = 0
	answerNoSuch  byte = 1 // no such session
	answerRefused byte = 2 // refused; the message follows
)

// Frame record flags.
const (
	flagEcho byte = 1 // the sender hears its own frame
)

// errBadRecord is a record this version cannot read.
var errBadRecord = errors.New("api: malformed cluster record")

// recordWriter builds a record.
type recordWriter struct{ b []byte }

func (w *recordWriter) byte(v byte) { w.b = append(w.b, v) }

func (w *recordWriter) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *recordWriter) strs(ss []string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

// frame writes f's fields and payload: it must come last.
func (w *recordWriter) frame(f *frame.Frame) {
	w.byte(byte(f.Kind))
	for _, s := range [...]string{f.Event, f.Room, f.To, f.From, f.ID, f.Ref} {
		w.str(s)
	}
	w.b = append(w.b, f.Payload...)
}

// recordReader reads a record; the first failure sticks in err.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errBadRecord
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *recordReader) str() string {
	if r.err != nil {
		return ""
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || n > uint64(len(r.b)-k) {
		r.err = errBadRecord
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

func (r *recordReader) strs() []string {
	n, k := binary.Uvarint(r.b)
	if r.err != nil || k <= 0 || n > uint64(len(r.b)) {
		r.err = errBadRecord
		return nil
	}
	r.b = r.b[k:]
	ss := make([]string, 0, n)
	for range n {
		ss = append(ss, r.str())
	}
	return ss
}

func (r *recordReader) frame() frame.Frame {
	var f frame.Frame
	f.Kind = frame.PayloadKind(r.byte())
	for _, p := range [...]*string{&f.Event, &f.Room, &f.To, &f.From, &f.ID, &f.Ref} {
		*p = r.str()
	}
	if r.err == nil && len(r.b) > 0 {
		f.Payload = append([]byte(nil), r.b...)
	}
	r.b = nil
	return f
}

// frameRecord is the room record of a frame for the room's members:
// except the sessions in exclude, and except the sender unless echo.
func frameRecord(f *frame.Frame, echo bool, exclude []string) []byte {
	w := recordWriter{b: make([]byte, 0, 32+len(f.Payload))}
	w.byte(recFrame)
	var flags byte
	if echo {
		flags |= flagEcho
	}
	w.byte(flags)
	w.strs(exclude)
	w.frame(f)
	return w.b
}

// roomFrame is a frame record as read: the frame, whether its sender
// hears it, and the sessions it skips.
type roomFrame struct {
	f       frame.Frame
	echo    bool
	exclude []string
}

// readRoomFrame reads a frame record after its type byte; false when it
// is malformed or its frame is not fit to send.
func readRoomFrame(rd *recordReader) (roomFrame, bool) {
	flags := rd.byte()
	rf := roomFrame{exclude: rd.strs()}
	rf.f = rd.frame()
	rf.echo = flags&flagEcho != 0
	return rf, rd.err == nil && rf.f.Check() == nil
}

// skips reports whether session id does not get the frame.
func (rf *roomFrame) skips(id string) bool {
	return (id == rf.f.From && !rf.echo) || slices.Contains(rf.exclude, id)
}

// memberRecord is the room record of session id, at home, joining or
// leaving; a leave is reaped when another node published it for a node
// that went silent.
func memberRecord(typ byte, id, home string, reaped bool) []byte {
	w := recordWriter{}
	w.byte(typ)
	w.str(id)
	w.str(home)
	var flags byte
	if reaped {
		flags = 1
	}
	w.byte(flags)
	return w.b
}

// request builds a request for op on session id, with an argument and,
// for opSend, the frame.
func request(op byte, id, arg string, f *frame.Frame) []byte {
	w := recordWriter{}
	w.byte(op)
	w.str(id)
	w.str(arg)
	if f != nil {
		w.frame(f)
	}
	return w.b
}
