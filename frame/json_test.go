package frame

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJSONDecodeValid(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want Frame
	}{
		{
			name: "protocol example",
			msg:  `{"event":"chat","room":"lobby","id":"c-17","payload":{"text":"hi"}}`,
			want: Frame{Event: "chat", Room: "lobby", ID: "c-17", Kind: JSONPayload, Payload: []byte(`{"text":"hi"}`)},
		},
		{
			name: "event only",
			msg:  `{"event":"$ping"}`,
			want: Frame{Event: "$ping"},
		},
		{
			name: "whitespace everywhere, payload kept verbatim",
			msg:  " \t\r\n{ \"event\" : \"a\" ,\n\"payload\" : [ 1 , { \"k\" : null } ] } \n",
			want: Frame{Event: "a", Kind: JSONPayload, Payload: []byte(`[ 1 , { "k" : null } ]`)},
		},
		{
			name: "payload null stays null",
			msg:  `{"event":"a","payload":null}`,
			want: Frame{Event: "a", Kind: JSONPayload, Payload: []byte(`null`)},
		},
		{
			name: "payload string with escapes is raw text",
			msg:  `{"event":"a","payload":"\u00e9\n\ud800"}`,
			want: Frame{Event: "a", Kind: JSONPayload, Payload: []byte(`"\u00e9\n\ud800"`)},
		},
		{
			name: "payload number",
			msg:  `{"event":"a","payload":-12.5e+3}`,
			want: Frame{Event: "a", Kind: JSONPayload, Payload: []byte(`-12.5e+3`)},
		},
		{
			name: "seq and from from the client are ignored",
			msg:  `{"seq":99,"from":"someone","event":"a","to":"s-1"}`,
			want: Frame{Event: "a", To: "s-1"},
		},
		{
			name: "unknown members are ignored",
			msg:  `{"event":"a","x":{"deep":[1,true,false,null,"s"]},"y":[],"z":{},"w":0}`,
			want: Frame{Event: "a"},
		},
		{
			name: "bin decodes to bytes",
			msg:  `{"event":"a","bin":"AAEC/w=="}`,
			want: Frame{Event: "a", Kind: BytesPayload, Payload: []byte{0, 1, 2, 0xff}},
		},
		{
			name: "empty bin is no payload",
			msg:  `{"event":"a","bin":""}`,
			want: Frame{Event: "a"},
		},
		{
			name: "string escapes",
			msg:  `{"event":"a","room":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/ ok"}`,
			want: Frame{Event: "a", Room: "café 😀 \"q\" \\ / ok"},
		},
		{
			name: "escaped member name",
			msg:  `{"\u0065vent":"a"}`,
			want: Frame{Event: "a"},
		},
		{
			name: "fields exactly at their limits",
			msg: `{"event":"` + strings.Repeat("e", 64) + `","room":"` + strings.Repeat("r", 128) +
				`","id":"` + strings.Repeat("i", 64) + `"}`,
			want: Frame{Event: strings.Repeat("e", 64), Room: strings.Repeat("r", 128), ID: strings.Repeat("i", 64)},
		},
		{
			name: "payload nested exactly maxDepth levels",
			msg:  `{"event":"a","payload":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
			want: Frame{Event: "a", Kind: JSONPayload, Payload: []byte(strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth))},
		},
		{
			name: "non-ASCII and U+00A0 are not control characters",
			msg:  "{\"event\":\"a\",\"room\":\"\u00a0日本\"}",
			want: Frame{Event: "a", Room: "\u00a0日本"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JSON.Decode([]byte(tt.msg), DefaultLimits())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestJSONDecodeRejects(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		msg   string
		field string
	}{
		{"empty message", ``, ""},
		{"only whitespace", " \n", ""},
		{"array", `[]`, ""},
		{"string", `"event"`, ""},
		{"null", `null`, ""},
		{"byte order mark", "\ufeff{\"event\":\"a\"}", ""},
		{"trailing data", `{"event":"a"} x`, ""},
		{"two objects", `{"event":"a"}{"event":"b"}`, ""},
		{"trailing comma", `{"event":"a",}`, ""},
		{"truncated", `{"event":"a"`, ""},
		{"truncated string", `{"event":"a`, ""},
		{"unquoted name", `{event:"a"}`, ""},
		{"single quotes", `{"event":'a'}`, ""},
		{"missing colon", `{"event" "a"}`, ""},
		{"raw control character in string", "{\"event\":\"a\x01\"}", ""},
		{"invalid escape", `{"event":"\x41"}`, ""},
		{"short unicode escape", `{"event":"\u12"}`, ""},
		{"leading zero", `{"event":"a","payload":01}`, ""},
		{"bare minus", `{"event":"a","payload":-}`, ""},
		{"dot without digits", `{"event":"a","payload":1.}`, ""},
		{"exponent without digits", `{"event":"a","payload":1e}`, ""},
		{"leading dot", `{"event":"a","payload":.5}`, ""},
		{"bad literal", `{"event":"a","payload":tru}`, ""},
		{"unclosed payload", `{"event":"a","payload":[1,2}`, ""},
		{"payload missing", `{"event":"a","payload":}`, ""},
		{"bad seq number", `{"event":"a","seq":1x}`, ""},
		{"64 KiB of [", strings.Repeat("[", 64<<10), ""},
		{"room is a number", `{"room":5,"event":"a"}`, "room"},
		{"event is a boolean", `{"event":true}`, "event"},
		{"id is null", `{"event":"a","id":null}`, "id"},
		{"to is an array", `{"event":"a","to":[]}`, "to"},
		{"from is a number", `{"event":"a","from":1}`, "from"},
		{"seq is a string", `{"event":"a","seq":"1"}`, "seq"},
		{"bin is a number", `{"event":"a","bin":1}`, "bin"},
		{"duplicate room", `{"event":"a","room":"x","room":"y"}`, "room"},
		{"duplicate event", `{"event":"a","event":"a"}`, "event"},
		{"duplicate payload", `{"event":"a","payload":1,"payload":1}`, "payload"},
		{"duplicate from", `{"event":"a","from":"x","from":"x"}`, "from"},
		{"duplicate escaped name", `{"event":"a","r\u006fom":"x","room":"y"}`, "room"},
		{"duplicate unknown member", `{"event":"a","x":1,"x":2}`, ""},
		{"duplicate escaped unknown member", `{"event":"a","x":1,"\u0078":2}`, ""},
		{"payload and bin", `{"event":"a","payload":1,"bin":"AA=="}`, "bin"},
		{"bin and payload", `{"event":"a","bin":"AA==","payload":1}`, "bin"},
		{"payload null and empty bin", `{"event":"a","payload":null,"bin":""}`, "bin"},
		{"bin not base64", `{"event":"a","bin":"!!!!"}`, "bin"},
		{"bin unpadded", `{"event":"a","bin":"AA"}`, "bin"},
		{"bin wrong length", `{"event":"a","bin":"AAA"}`, "bin"},
		{"bin url alphabet", `{"event":"a","bin":"_-8="}`, "bin"},
		{"bin non-canonical padding bits", `{"event":"a","bin":"AB=="}`, "bin"},
		{"bin non-canonical one pad", `{"event":"a","bin":"AAB="}`, "bin"},
		{"bin with line break", `{"event":"a","bin":"AA==\n"}`, "bin"},
		{"no members", `{}`, "event"},
		{"empty event", `{"event":""}`, "event"},
		{"no event", `{"room":"r"}`, "event"},
		{"room and to", `{"event":"a","room":"r","to":"s"}`, "to"},
		{"event over limit", `{"event":"` + long(65) + `"}`, "event"},
		{"room over limit", `{"event":"a","room":"` + long(129) + `"}`, "room"},
		{"to over limit", `{"event":"a","to":"` + long(65) + `"}`, "to"},
		{"id over limit", `{"event":"a","id":"` + long(65) + `"}`, "id"},
		{"escapes count decoded bytes", `{"event":"a","id":"` + strings.Repeat(`\u00e9`, 33) + `"}`, "id"},
		{"invalid UTF-8 in room", "{\"event\":\"a\",\"room\":\"\xff\"}", "room"},
		{"overlong UTF-8 in event", "{\"event\":\"\xc0\xaf\"}", "event"},
		{"lone surrogate escape in id", `{"event":"a","id":"\ud800"}`, "id"},
		{"reversed surrogates in id", `{"event":"a","id":"\udc00\ud800"}`, "id"},
		{"escaped NUL in event", `{"event":"a\u0000"}`, "event"},
		{"escaped newline in room", `{"event":"a","room":"a\nb"}`, "room"},
		{"escaped DEL in to", `{"event":"a","to":"\u007f"}`, "to"},
		{"escaped C1 in id", `{"event":"a","id":"\u0085"}`, "id"},
		{"raw DEL in room", "{\"event\":\"a\",\"room\":\"\x7f\"}", "room"},
		{"raw C1 in room", "{\"event\":\"a\",\"room\":\"\u009f\"}", "room"},
		{"payload too deep", `{"event":"a","payload":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, "payload"},
		{"payload 64 KiB of [", `{"event":"a","payload":` + strings.Repeat("[", 64<<10), "payload"},
		{"payload objects too deep", `{"event":"a","payload":` + strings.Repeat(`{"a":`, maxDepth+1) + `1` + strings.Repeat("}", maxDepth+1) + `}`, "payload"},
		{"unknown member too deep", `{"event":"a","x":` + strings.Repeat("[", 200), ""},
		{"payload invalid UTF-8", "{\"event\":\"a\",\"payload\":\"\xff\"}", "payload"},
		{"ignored from invalid UTF-8", "{\"event\":\"a\",\"from\":\"\xff\"}", "from"},
		{"unknown member value invalid UTF-8", "{\"event\":\"a\",\"x\":\"\xfe\"}", ""},
		{"unknown member name invalid UTF-8", "{\"event\":\"a\",\"\xfe\":1}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := JSON.Decode([]byte(tt.msg), DefaultLimits())
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tt.field, de.Field, "reason: %s", de.Reason)
			assert.NotEmpty(t, de.Reason)
			assert.Equal(t, Frame{}, f)
		})
	}
}

func TestJSONDecodeEchoesValidIDAndRoom(t *testing.T) {
	tests := []struct {
		name            string
		msg             string
		field, id, room string
	}{
		{"empty event", `{"event":"","id":"c1","room":"r"}`, "event", "c1", "r"},
		{"room over limit", `{"id":"c1","event":"a","room":"` + strings.Repeat("r", 129) + `"}`, "room", "c1", ""},
		{"id over limit", `{"event":"a","room":"r","id":"` + strings.Repeat("i", 65) + `"}`, "id", "", "r"},
		{"room and to", `{"event":"a","room":"r","to":"s","id":"c2"}`, "to", "c2", "r"},
		{"wrong type after id", `{"id":"c3","room":"r","event":1}`, "event", "c3", "r"},
		{"duplicate id is not echoed", `{"event":"a","id":"c1","id":"c2","room":"r"}`, "id", "", "r"},
		{"duplicate room is not echoed", `{"event":"a","id":"c1","room":"r","room":"q"}`, "room", "c1", ""},
		{"bad bin", `{"event":"a","id":"c4","bin":"?"}`, "bin", "c4", ""},
		{"payload too deep", `{"event":"a","id":"c5","payload":` + strings.Repeat("[", 200), "payload", "", ""},
		{"syntax error echoes nothing", `{"id":"c1","room":"r","event":"a",}`, "", "", ""},
		{"trailing data echoes nothing", `{"id":"c1","room":"r","event":"a"}]`, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := JSON.Decode([]byte(tt.msg), DefaultLimits())
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tt.field, de.Field, "reason: %s", de.Reason)
			assert.Equal(t, tt.id, de.ID)
			assert.Equal(t, tt.room, de.Room)
		})
	}
}

func TestJSONDecodeLimits(t *testing.T) {
	msg := []byte(`{"event":"abcd","room":"abcd","id":"abcd"}`)
	_, err := JSON.Decode(msg, Limits{MaxEvent: 4, MaxRoom: 4, MaxTo: 4, MaxID: 4})
	require.NoError(t, err)

	for _, tt := range []struct {
		lim   Limits
		field string
	}{
		{Limits{MaxEvent: 3, MaxRoom: 4, MaxTo: 4, MaxID: 4}, "event"},
		{Limits{MaxEvent: 4, MaxRoom: 3, MaxTo: 4, MaxID: 4}, "room"},
		{Limits{MaxEvent: 4, MaxRoom: 4, MaxTo: 4, MaxID: 3}, "id"},
	} {
		_, err := JSON.Decode(msg, tt.lim)
		var de *DecodeError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, tt.field, de.Field)
		assert.Contains(t, de.Reason, "4 bytes, limit 3")
	}

	// Zero limits mean the defaults.
	_, err = JSON.Decode([]byte(`{"event":"`+strings.Repeat("e", 64)+`"}`), Limits{})
	require.NoError(t, err)
	_, err = JSON.Decode([]byte(`{"event":"`+strings.Repeat("e", 65)+`"}`), Limits{})
	require.Error(t, err)
}

func TestJSONDecodeDoesNotAlias(t *testing.T) {
	msg := []byte(`{"event":"chat","room":"lobby","to":"","id":"c-1","payload":{"a":[1,2,3]}}`)
	got, err := JSON.Decode(msg, DefaultLimits())
	require.NoError(t, err)
	want := Frame{Event: "chat", Room: "lobby", ID: "c-1", Kind: JSONPayload, Payload: []byte(`{"a":[1,2,3]}`)}
	for i := range msg {
		msg[i] = 'X'
	}
	assert.Equal(t, want, got)
}

func TestJSONAppendMessage(t *testing.T) {
	f := Frame{Event: "chat", Room: "lobby", From: "s-9f3a", ID: "", Kind: JSONPayload, Payload: []byte(`{"text":"hi"}`)}
	body := JSON.AppendBody(nil, &f)
	assert.Equal(t, `,"event":"chat","room":"lobby","from":"s-9f3a","payload":{"text":"hi"}}`, string(body))
	assert.Equal(t, `{"seq":42,"event":"chat","room":"lobby","from":"s-9f3a","payload":{"text":"hi"}}`,
		string(JSON.AppendMessage(nil, 42, body)))
	assert.Equal(t, `{"event":"chat","room":"lobby","from":"s-9f3a","payload":{"text":"hi"}}`,
		string(JSON.AppendMessage(nil, 0, body)))
	assert.Equal(t, `prefix{"seq":1,"event"`, string(JSON.AppendMessage([]byte("prefix"), 1, body))[:len(`prefix{"seq":1,"event"`)])

	all := Frame{Event: "$ack", Room: "r", To: "t", From: "f", ID: "i"}
	assert.Equal(t, `{"seq":18446744073709551615,"event":"$ack","room":"r","to":"t","from":"f","id":"i"}`,
		string(JSON.AppendMessage(nil, ^uint64(0), JSON.AppendBody(nil, &all))))
}

func TestJSONAppendMessageWithoutMembers(t *testing.T) {
	body := JSON.AppendBody(nil, &Frame{})
	assert.Equal(t, `}`, string(body))
	assert.Equal(t, `{}`, string(JSON.AppendMessage(nil, 0, body)))
	assert.Equal(t, `{"seq":3}`, string(JSON.AppendMessage(nil, 3, body)))
	assert.Equal(t, `{}`, string(JSON.AppendMessage(nil, 0, nil)))
	assert.Equal(t, `{"seq":3}`, string(JSON.AppendMessage(nil, 3, nil)))
}

func TestJSONMessageLen(t *testing.T) {
	bodies := [][]byte{nil, []byte(`}`), JSON.AppendBody(nil, &Frame{Event: "e", Kind: JSONPayload, Payload: []byte(`1`)})}
	for _, body := range bodies {
		for _, seq := range []uint64{0, 1, 9, 10, 99, 100, 1 << 32, ^uint64(0)} {
			assert.Len(t, JSON.AppendMessage(nil, seq, body), JSON.MessageLen(seq, body), "seq %d body %q", seq, body)
		}
	}
}

func TestJSONStringEscaping(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"", `""`},
		{`q"b\s`, `"q\"b\\s"`},
		{"\n\r\t\x00\x1f\b\f", `"\n\r\t\u0000\u001f\u0008\u000c"`},
		{"<html>&\u2028\x7f", "\"<html>&\u2028\x7f\""},
		{"日本", `"日本"`},
		{"bad\xffutf8\xc0", `"bad\ufffdutf8\ufffd"`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(appendString(nil, tt.in)), "input %q", tt.in)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	frames := []Frame{
		{Event: "chat", Room: "lobby", ID: "c-1", Kind: JSONPayload, Payload: []byte(`{"text":"hi \"there\"","n":[1,2.5,-3e2],"ok":true}`)},
		{Event: "dm", To: "s-1", Kind: JSONPayload, Payload: []byte(`null`)},
		{Event: "bytes", Room: "r", Kind: BytesPayload, Payload: []byte{0, 1, 2, 250, 251}},
		{Event: "$join", Room: "caf\u00e9 \"😀\" \\ /"},
		{Event: "$ack", ID: "c-2"},
	}
	for _, f := range frames {
		body := JSON.AppendBody(nil, &f)
		for _, seq := range []uint64{0, 7} {
			got, err := JSON.Decode(JSON.AppendMessage(nil, seq, body), DefaultLimits())
			require.NoError(t, err)
			assert.Equal(t, f, got)
		}
	}
}
