package cluster

import "encoding/base64"

// Subjects (docs/cluster.md, "Subjects"). A room's name is base64url in
// its subjects, since names may hold '.', '*' and '>'.
const (
	roomPrefix      = "rl.room."  // the stream's subjects: records are published here
	livePrefix      = "rl.live."  // the stream republishes each stored record here
	snapshotPrefix  = "rl.psnap." // a node that begins holding a room asks the holders
	heartbeatPrefix = "rl.hb."    // each node's heartbeat
	requestPrefix   = "rl.node."  // requests to one node
	helloSubject    = "rl.hello"  // a starting node asks who is there
	byePrefix       = "rl.bye."   // a node that detaches says so
)

func roomToken(room string) string { return base64.RawURLEncoding.EncodeToString([]byte(room)) }

func roomSubject(room string) string     { return roomPrefix + roomToken(room) }
func liveSubject(room string) string     { return livePrefix + roomToken(room) }
func snapshotSubject(room string) string { return snapshotPrefix + roomToken(room) }
func requestSubject(node string) string  { return requestPrefix + node }
func byeSubject(node string) string      { return byePrefix + node }

// roomOfToken returns the room a subject token names.
func roomOfToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err == nil
}
