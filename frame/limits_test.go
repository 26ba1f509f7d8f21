package frame

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDefaultLimits(t *testing.T) {
	assert.Equal(t, Limits{MaxEvent: 64, MaxRoom: 128, MaxTo: 64, MaxID: 64}, DefaultLimits())
	assert.Equal(t, DefaultLimits(), Limits{}.WithDefaults())
	assert.Equal(t, Limits{MaxEvent: 1, MaxRoom: 128, MaxTo: 2, MaxID: 64},
		Limits{MaxEvent: 1, MaxRoom: -5, MaxTo: 2}.WithDefaults())
}

func TestCheckField(t *testing.T) {
	assert.Nil(t, checkField("room", nil, 4))
	assert.Nil(t, checkField("room", []byte("abcd"), 4))
	assert.Nil(t, checkField("room", []byte("é"), 2))
	assert.Nil(t, checkField("room", []byte("\u00a0\ufffd"), 10))
	assert.Equal(t, &DecodeError{Field: "room", Reason: "room is 5 bytes, limit 4"}, checkField("room", []byte("abcde"), 4))
	assert.Equal(t, &DecodeError{Field: "id", Reason: "id contains control character U+0000"}, checkField("id", []byte{0}, 4))
	assert.Equal(t, &DecodeError{Field: "id", Reason: "id contains control character U+007F"}, checkField("id", []byte{0x7f}, 4))
	assert.Equal(t, &DecodeError{Field: "id", Reason: "id contains control character U+009F"}, checkField("id", []byte("\u009f"), 4))
	assert.Equal(t, &DecodeError{Field: "to", Reason: "to is not valid UTF-8"}, checkField("to", []byte{0xe2, 0x82}, 4))
}

func TestDecodeErrorError(t *testing.T) {
	assert.Equal(t, "frame: bad room: room is 200 bytes, limit 128",
		(&DecodeError{Field: "room", Reason: "room is 200 bytes, limit 128"}).Error())
	assert.Equal(t, "frame: message is empty", (&DecodeError{Reason: "message is empty"}).Error())
}

func TestPayloadKindString(t *testing.T) {
	assert.Equal(t, "none", NoPayload.String())
	assert.Equal(t, "json", JSONPayload.String())
	assert.Equal(t, "bytes", BytesPayload.String())
	assert.Equal(t, "invalid", PayloadKind(9).String())
}
