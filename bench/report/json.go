package report

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/roomloop/roomloop/bench/runner"
)

// File is what WriteJSON stores: how the run was made and every round.
type File struct {
	Command string         `json:"command"`
	Machine Machine        `json:"machine"`
	Rounds  []runner.Round `json:"rounds"`
	// WaysIn summarizes the rounds of roomloop's ways in, when the run
	// had them (WaysIn(Rounds)).
	WaysIn []WaysInRow `json:"ways_in,omitempty"`
	// OnOff summarizes roomloop's rounds with metrics off and on, when
	// the run had them (OnOff(Rounds)).
	OnOff []OnOffRow `json:"metrics_on_off,omitempty"`
	// Compression summarizes broadcast-json, when the run had it
	// (CompressionSummary(Rounds)).
	Compression *Compression `json:"compression,omitempty"`
}

// WriteJSON writes f (a File, or any other report) as indented JSON to
// dir/name, creating dir, and returns the path.
func WriteJSON(dir, name string, f any) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}
