package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// centrifugeDir is the centrifuge comparator's module, relative to the
// repository root.
const centrifugeDir = "bench/centrifuge"

// buildCentrifuge builds the centrifuge comparator (module
// bench/centrifuge, under the current directory, which must be the
// repository root) into a new temporary directory, and returns the
// binary's path and a function that removes it.
func buildCentrifuge() (bin string, cleanup func(), err error) {
	if _, err := os.Stat(filepath.Join(centrifugeDir, "go.mod")); err != nil {
		return "", nil, fmt.Errorf("-centrifuge builds ./%s: run from the repository root, or give -centrifuge-bin: %w", centrifugeDir, err)
	}
	dir, err := os.MkdirTemp("", "roomloop-bench-centrifuge-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { _ = os.RemoveAll(dir) }
	bin = filepath.Join(dir, "roomloop-bench-centrifuge")
	fmt.Fprintf(os.Stderr, "building %s (go build in ./%s)\n", bin, centrifugeDir)
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = centrifugeDir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building the centrifuge comparator: %w", err)
	}
	return bin, cleanup, nil
}
