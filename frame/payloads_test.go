package frame

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPayloadsWire pins the JSON the server writes for each payload: member
// names and order as docs/protocol.md shows them.
func TestPayloadsWire(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"welcome", WelcomePayload{Session: "s-1", Resume: "s-1.x", ResumeWindowMS: 30000, HeartbeatMS: 25000, HeartbeatTimeoutMS: 60000, LastSeq: 7},
			`{"session":"s-1","resume":"s-1.x","resume_window_ms":30000,"heartbeat_ms":25000,"heartbeat_timeout_ms":60000,"resumed":false,"last_seq":7}`},
		{"welcome refused", WelcomePayload{Session: "s-2", Reason: "gap"},
			`{"session":"s-2","resume":"","resume_window_ms":0,"heartbeat_ms":0,"heartbeat_timeout_ms":0,"resumed":false,"last_seq":0,"reason":"gap"}`},
		{"joined", JoinedPayload{Count: 3, Members: []string{"a", "b"}, Truncated: true},
			`{"count":3,"members":["a","b"],"truncated":true}`},
		{"left", LeftPayload{Reason: "left"}, `{"reason":"left"}`},
		{"presence", PresencePayload{Joined: []string{"s-1"}, Left: []string{}}, `{"joined":["s-1"],"left":[]}`},
		{"seen", SeenPayload{Seq: 9}, `{"seq":9}`},
		{"error", ErrorPayload{Code: "not_member", Message: "not a member"}, `{"code":"not_member","message":"not a member"}`},
		{"dropped", DroppedPayload{ErrorPayload{"dropped", "m"}, 2, []string{"r"}},
			`{"code":"dropped","message":"m","count":2,"rooms":["r"]}`},
		{"dropped direct", DroppedPayload{ErrorPayload: ErrorPayload{Code: "dropped", Message: "m"}, Count: 1},
			`{"code":"dropped","message":"m","count":1,"rooms":null}`},
	} {
		b, err := json.Marshal(tc.v)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, string(b), tc.name)
	}
}

// TestDroppedPayloadDecodes: a client reads a dropped notice's error fields
// and its count and rooms in one value.
func TestDroppedPayloadDecodes(t *testing.T) {
	var p DroppedPayload
	require.NoError(t, json.Unmarshal([]byte(`{"code":"dropped","message":"m","count":4,"rooms":["a","b"]}`), &p))
	assert.Equal(t, DroppedPayload{ErrorPayload{"dropped", "m"}, 4, []string{"a", "b"}}, p)
}
