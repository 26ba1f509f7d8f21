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
}

// WriteJSON writes f to dir/name, creating dir.
func WriteJSON(dir, name string, f File) (string, error) {
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
