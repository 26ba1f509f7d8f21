package rooms

import "errors"

// ErrTooManyRooms is returned by Join when creating a new room would exceed
// Options.MaxRooms.
var ErrTooManyRooms = errors.New("rooms: room limit reached")
