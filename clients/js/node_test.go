package jsclient_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roomloop/roomloop/clients/js"
)

// need returns the path of tool, or skips the test when it is missing
// (fails it when ROOMLOOP_NODE_REQUIRED=1).
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	msg := tool + " is not installed: the JavaScript client's tests need Node 20 or later and npm (Debian: apt-get install nodejs npm)"
	if os.Getenv("ROOMLOOP_NODE_REQUIRED") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// run runs name with args in dir and fails the test with its output if
// it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestNode runs the client's node tests (test.sh) against a binary built
// once here.
func TestNode(t *testing.T) {
	need(t, "node")
	bin := filepath.Join(t.TempDir(), "roomloop")
	run(t, "../..", nil, "go", "build", "-o", bin, "./cmd/roomloop")
	out := run(t, ".", []string{"ROOMLOOP_BIN=" + bin}, "bash", "test.sh")
	if !strings.Contains(out, "# fail 0") {
		t.Fatalf("node tests:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "# pass") || strings.HasPrefix(l, "# tests") {
			t.Log(l)
		}
	}
}

// TestSize checks that roomloop.js, minified and gzipped, stays within
// 8 KiB (size.sh; it installs esbuild with npm the first time).
func TestSize(t *testing.T) {
	need(t, "node")
	need(t, "npm")
	t.Log(strings.TrimSpace(run(t, ".", nil, "bash", "size.sh")))
}

// TestSource: the embedded module is the file.
func TestSource(t *testing.T) {
	b, err := os.ReadFile("roomloop.js")
	if err != nil {
		t.Fatal(err)
	}
	if jsclient.Source() != string(b) {
		t.Fatal("Source() differs from roomloop.js")
	}
	if !strings.Contains(jsclient.Source(), "export function connect(") {
		t.Fatal("Source() lacks connect")
	}
}
