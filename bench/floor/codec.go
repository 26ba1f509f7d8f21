package floor

import (
	"encoding/json"
	"strconv"
)

// joinRoom returns the room of a {"event":"$join","room":…} message.
func joinRoom(data []byte) (string, bool) {
	var f struct {
		Event string `json:"event"`
		Room  string `json:"room"`
	}
	if json.Unmarshal(data, &f) != nil || f.Event != "$join" || f.Room == "" {
		return "", false
	}
	return f.Room, true
}

// joinedFrame encodes $joined for room with seq and the member count.
func joinedFrame(seq uint64, room string, count int) []byte {
	b := append([]byte(`{"seq":`), strconv.FormatUint(seq, 10)...)
	b = append(b, `,"event":"$joined","room":`...)
	q, _ := json.Marshal(room) // a string always encodes
	b = append(b, q...)
	b = append(b, `,"payload":{"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	return append(b, `}}`...)
}
