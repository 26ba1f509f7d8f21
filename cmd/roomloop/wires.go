package main

import (
	"flag"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/wire/wspulse"
	"github.com/roomloop/roomloop/wire/wsrooms"
)

// wireConfig holds the flags of the other wire protocols the binary
// mounts beside roomloop's own (docs/compat.md).
type wireConfig struct {
	wsroomsPath              string
	wspulsePath, wspulseRoom string
}

// wireFlags defines the wire flags on fs.
func wireFlags(fs *flag.FlagSet) *wireConfig {
	w := &wireConfig{}
	fs.StringVar(&w.wsroomsPath, "wsrooms-path", "/wsrooms", `path of the wsrooms wire, for unchanged wsrooms.js clients ("": off)`)
	fs.StringVar(&w.wspulsePath, "wspulse-path", "/wspulse", `path of the wspulse wire, for unchanged wspulse clients ("": off)`)
	fs.StringVar(&w.wspulseRoom, "wspulse-default-room", "", `room of a wspulse connect request without ?room= ("": refuse it with 401)`)
	return w
}

// endpoints returns the wires to mount.
func (w *wireConfig) endpoints() []api.Endpoint {
	var eps []api.Endpoint
	if w.wsroomsPath != "" {
		eps = append(eps, api.Endpoint{Path: w.wsroomsPath, Wire: wsrooms.New(wsrooms.Options{})})
	}
	if w.wspulsePath != "" {
		eps = append(eps, api.Endpoint{Path: w.wspulsePath,
			Wire: wspulse.New(wspulse.Options{DefaultRoom: w.wspulseRoom})})
	}
	return eps
}
