package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeConfig writes a config file named name in a fresh folder.
func writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// printedConfig runs roomloop -print-config with args and returns its
// lines by key: "value  # source".
func printedConfig(t *testing.T, args ...string) map[string]string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"-print-config"}, args...), &stdout, &stderr, nil)
	require.NoError(t, err, "stderr: %s", stderr.String())
	assert.Equal(t, 0, exitCode(err, &stderr))
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		require.True(t, ok, "line %q", line)
		got[k] = v
	}
	return got
}

// refused runs roomloop with args and checks it is refused with exit
// status 2 and want on stderr.
func refused(t *testing.T, want string, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr, nil)
	require.Error(t, err, "%q", args)
	var ue *usageError
	assert.True(t, errors.As(err, &ue), "%v is not a usage error", err)
	assert.Equal(t, 2, exitCode(err, &stderr))
	assert.Contains(t, stderr.String(), want)
	assert.Empty(t, stdout.String())
}

// TestConfigPrecedence: flags beat the environment, which beats the
// file, which beats the defaults; YAML and TOML alike.
func TestConfigPrecedence(t *testing.T) {
	for name, text := range map[string]string{
		"c.yaml": "queue-frames: 11\nqueue-bytes: 22222\nreplay-frames: 33\nheartbeat: 7s\nno-presence: true\nallowed-origins: [https://a.example, https://b.example]\n",
		"c.toml": "queue-frames = 11\nqueue-bytes = 22222\nreplay-frames = 33\nheartbeat = \"7s\"\nno-presence = true\nallowed-origins = [\"https://a.example\", \"https://b.example\"]\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := writeConfig(t, name, text)
			t.Setenv("ROOMLOOP_QUEUE_FRAMES", "44")
			t.Setenv("ROOMLOOP_QUEUE_BYTES", "55555")
			got := printedConfig(t, "-config", p, "-queue-frames", "66")
			assert.Equal(t, "66  # flag", got["queue-frames"])                       // flag > env > file
			assert.Equal(t, "55555  # env ROOMLOOP_QUEUE_BYTES", got["queue-bytes"]) // env > file
			assert.Equal(t, "33  # file "+p, got["replay-frames"])                   // file > default
			assert.Equal(t, "7s  # file "+p, got["heartbeat"])
			assert.Equal(t, "true  # file "+p, got["no-presence"])
			assert.Equal(t, `"https://a.example,https://b.example"  # file `+p, got["allowed-origins"])
			assert.Equal(t, "256  # default", got["max-pending-per-ip"])
		})
	}
}

// TestConfigFromEnvironment: ROOMLOOP_CONFIG names the file, and the file
// then takes effect in the running server (no-demo: / is 404).
func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("ROOMLOOP_CONFIG", writeConfig(t, "c.yml", "no-demo: true\n"))
	addr, _ := startBinary(t)
	resp, _ := get(t, "http://"+addr+"/", nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestConfigRefusals: unknown keys and variables, and bad values, are
// refused at startup with exit status 2, naming them.
func TestConfigRefusals(t *testing.T) {
	refused(t, "unknown key(s) queue-frame, tls.cert", "-config",
		writeConfig(t, "c.yaml", "queue-frame: 1\ntls:\n  cert: x.pem\n"))
	refused(t, "unknown key(s) config", "-config", writeConfig(t, "c.toml", "config = \"other.toml\"\n"))
	refused(t, `config file `, "-config", writeConfig(t, "c.yaml", "heartbeat: 25\n"))
	refused(t, `heartbeat: invalid value "25"`, "-config", writeConfig(t, "c.yaml", "heartbeat: 25\n"))
	refused(t, `queue-frames: invalid value "lots"`, "-config", writeConfig(t, "c.toml", "queue-frames = \"lots\"\n"))
	refused(t, `want a .yaml, .yml or .toml file`, "-config", writeConfig(t, "c.json", "{}"))
	refused(t, `-queue-frames is -5: it must be 0 or positive (from file `, "-config", writeConfig(t, "c.yaml", "queue-frames: -5\n"))
	t.Setenv("ROOMLOOP_SLOW_CONSUMER", "wait")
	refused(t, `-slow-consumer: "wait" is neither disconnect nor drop (from env ROOMLOOP_SLOW_CONSUMER)`)
	os.Unsetenv("ROOMLOOP_SLOW_CONSUMER")
	refused(t, `-config: `, "-config", filepath.Join(t.TempDir(), "missing.yaml"))

	t.Setenv("ROOMLOOP_HEARTBEAT", "soon")
	refused(t, `ROOMLOOP_HEARTBEAT: invalid value "soon" for -heartbeat`)
	t.Setenv("ROOMLOOP_HEARTBEAT", "")
	refused(t, `ROOMLOOP_HEARTBEAT: invalid value "" for -heartbeat`)
	os.Unsetenv("ROOMLOOP_HEARTBEAT")

	t.Setenv("ROOMLOOP_QUEUE_FRAME", "1")
	t.Setenv("ROOMLOOP_PRINT_CONFIG", "true")
	refused(t, "unknown environment variable(s) ROOMLOOP_PRINT_CONFIG, ROOMLOOP_QUEUE_FRAME")
}

// TestConfigReservedEnv: the variables the repository's tests and
// benchmarks read are not configuration and are ignored.
func TestConfigReservedEnv(t *testing.T) {
	for _, v := range []string{"ROOMLOOP_BROWSER_REQUIRED", "ROOMLOOP_FLOOD_CUTS", "ROOMLOOP_BENCH_PINNED", "ROOMLOOP_BIN"} {
		t.Setenv(v, "1")
	}
	got := printedConfig(t)
	assert.Equal(t, "1024  # default", got["queue-frames"])
}

// TestConfigEnvNamesKnown: every ROOMLOOP_ variable the repository's
// tests, benchmarks and scripts read is reserved (or configuration), so
// that setting it never stops the server.
func TestConfigEnvNamesKnown(t *testing.T) {
	re := regexp.MustCompile(`ROOMLOOP_[A-Z0-9_]*[A-Z0-9]`)
	flags := map[string]bool{secretEnv: true, "ROOMLOOP_CONFIG": true}
	for k := range printedConfig(t) {
		flags[envName(k)] = true
	}
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Base(p) == "config_test.go" || !strings.HasSuffix(p, "_test.go") && !strings.HasSuffix(p, ".sh") && filepath.Base(p) != "run" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, v := range re.FindAllString(string(b), -1) {
			if !flags[v] && !reservedEnv(v) && !strings.HasPrefix(v, "ROOMLOOP_TEST_") {
				t.Errorf("%s reads %s: add it to envReserved in config.go (or the server refuses it)", p, v)
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// TestPrintConfigMasksSecrets: -print-config shows where the API key came
// from but never the key, nor the JWT secret.
func TestPrintConfigMasksSecrets(t *testing.T) {
	t.Setenv(apiKeyEnv, "env-api-key-0123456789")
	t.Setenv(secretEnv, "jwt-secret-0123456789-0123456789-0123456789")
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-print-config"}, &stdout, &stderr, nil), stderr.String())
	out := stdout.String()
	assert.NotContains(t, out, "env-api-key-0123456789")
	assert.NotContains(t, out, "jwt-secret-0123456789")
	assert.Contains(t, out, "\napi-key: \"********\"  # env ROOMLOOP_API_KEY\n")
	assert.Contains(t, out, "# ROOMLOOP_JWT_SECRET: \"********\"")

	p := writeConfig(t, "c.yaml", "api-key: file-api-key-0123456789\n")
	os.Unsetenv(apiKeyEnv)
	stdout.Reset()
	require.NoError(t, run(context.Background(), []string{"-print-config", "-config", p}, &stdout, &stderr, nil), stderr.String())
	assert.NotContains(t, stdout.String(), "file-api-key-0123456789")
	assert.Contains(t, stdout.String(), "\napi-key: \"********\"  # file "+p+"\n")
}

// TestAPIKeyLayers: -api-key-file on the command line beats
// ROOMLOOP_API_KEY (as before the config file); ROOMLOOP_API_KEY beats
// the file's api-key-file.
func TestAPIKeyLayers(t *testing.T) {
	keyFile := writeConfig(t, "key", "k-from-file\n")
	t.Setenv(apiKeyEnv, "k-from-env")
	got := printedConfig(t, "-api-key-file", keyFile)
	assert.Equal(t, `""  # default`, got["api-key"])
	assert.Equal(t, `"`+keyFile+`"  # flag`, got["api-key-file"])

	got = printedConfig(t, "-config", writeConfig(t, "c.yaml", "api-key-file: "+keyFile+"\n"))
	assert.Equal(t, `"********"  # env ROOMLOOP_API_KEY`, got["api-key"])
	assert.Equal(t, `""  # default`, got["api-key-file"])
}
