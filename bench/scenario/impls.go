package scenario

import "github.com/roomloop/roomloop/bench/serve"

// Impls returns the implementations scenario name runs against when it
// has no variants (Variants), in their default order: broadcast also runs
// roomloop with its metrics on (serve.RoomloopMetrics), so that the
// report can compare metrics on and off in the same run; api-publish runs
// roomloop only, since the baseline has no HTTP API; broadcast-json runs
// both with permessage-deflate on and off, roomloop's compressed run
// first; the others run serve.Impls.
func Impls(name string) []string {
	switch name {
	case "broadcast":
		return []string{serve.Roomloop, serve.RoomloopMetrics, serve.Baseline}
	case BroadcastJSONName:
		return []string{serve.RoomloopDeflate, serve.Roomloop, serve.BaselineDeflate, serve.Baseline}
	case APIPublishName:
		return []string{serve.Roomloop}
	}
	impls := serve.Impls()
	return impls[:]
}

// AdminTarget is a Target that serves roomloop's HTTP API on an admin
// address (the server child with -api, or a roomloop binary).
type AdminTarget interface {
	// AdminAddr returns the admin address; "" when it serves no API.
	AdminAddr() string
	// APIKey returns the API's bearer key.
	APIKey() string
}
