package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHelp: -h, -help and --help print what roomloop is, then the flags,
// on stdout, and succeed.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{arg}, &stdout, &stderr, nil)
		require.NoError(t, err, arg)
		assert.Equal(t, 0, exitCode(err, &stderr), arg)
		out := stdout.String()
		assert.True(t, strings.HasPrefix(out, "roomloop is a room-based WebSocket server speaking the roomloop protocol\n"), "%s: %q", arg, out)
		assert.Contains(t, out, "docs/protocol.md", arg)
		for _, flag := range []string{"-addr", "-allowed-origins", "-log-level", "-drain-timeout", "-rate-join"} {
			assert.Contains(t, out, "\n  "+flag+" ", arg)
		}
		assert.Empty(t, stderr.String(), arg)
	}
}

// TestBadCommandLines: a bad flag, a bad value or a stray argument is
// exit status 2, with the error on stderr and nothing on stdout.
func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-queue-frames=x"}, `invalid value "x" for flag -queue-frames`},
		{[]string{"-rate-join=10"}, "want PER_SECOND:BURST or off"},
		{[]string{"-log-level=loud"}, `roomloop: -log-level: "loud" is not one of debug, info, warn, error`},
		{[]string{"-slow-consumer=wait"}, `roomloop: -slow-consumer: "wait" is neither disconnect nor drop`},
		{[]string{"-allowed-origins=localhost:8000"}, `roomloop: -allowed-origins: "localhost:8000" is not an origin (no scheme); write scheme://host[:port], e.g. http://localhost:8000`},
		{[]string{"-allowed-origins", "*"}, `roomloop: -allowed-origins: "*" is not an origin`},
		{[]string{"127.0.0.1:8080"}, `roomloop: unexpected argument "127.0.0.1:8080"`},
		{[]string{"-tick", "-1ms"}, `roomloop: -tick is -1ms: it must be 0 or positive`},
		{[]string{"-queue-frames", "-5"}, `roomloop: -queue-frames is -5: it must be 0 or positive`},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, &stdout, &stderr, nil)
		require.Error(t, err, "%q", tc.args)
		var ue *usageError
		assert.True(t, errors.As(err, &ue), "%q: %v is not a usage error", tc.args, err)
		assert.Equal(t, 2, exitCode(err, &stderr), "%q", tc.args)
		assert.Contains(t, stderr.String(), tc.want, "%q", tc.args)
		assert.Contains(t, stderr.String(), "Run 'roomloop -h' for the flags.", "%q", tc.args)
		assert.Empty(t, stdout.String(), "%q", tc.args)
	}
}

// TestBinaryExitStatus builds the command and runs it: -h exits 0 with the
// description first, a bad flag or origin exits 2.
func TestBinaryExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	bin := filepath.Join(t.TempDir(), "roomloop")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	stdout, err := exec.Command(bin, "-h").Output()
	require.NoError(t, err, "-h must exit 0")
	assert.True(t, strings.HasPrefix(string(stdout), "roomloop is a room-based WebSocket server"), "%q", stdout)
	assert.Contains(t, string(stdout), "-allowed-origins")

	for _, args := range [][]string{{"-bogus"}, {"-allowed-origins=https://app.example.com/"}} {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%q: %v", args, err)
		assert.Equal(t, 2, ee.ExitCode(), "%q: %s", args, stderr.String())
		assert.NotEmpty(t, stderr.String(), "%q", args)
	}
}
