package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Configuration comes in layers, one precedence: flags > environment >
// config file > defaults. Each key is a flag's name: "queue-frames: 2048"
// in the file, ROOMLOOP_QUEUE_FRAMES=2048 in the environment. A value from
// the environment or the file goes through the flag's own parsing
// (fs.Set), so it is checked exactly as strictly as the flag, and then
// through the same validation. README.md, section "Configuration", and
// docs/deploy.md explain it.

// envPrefix starts every environment variable roomloop reads.
const envPrefix = "ROOMLOOP_"

// envReserved are ROOMLOOP_ variables that are not configuration: the
// repository's tests, benchmarks and scripts read them (a trailing "*"
// matches any rest). The server ignores them; any other unknown ROOMLOOP_
// variable is refused at startup, so that a typo is not silently ignored.
var envReserved = []string{
	"ROOMLOOP_BIN",
	"ROOMLOOP_BROWSER_REQUIRED",
	"ROOMLOOP_NODE_REQUIRED",
	"ROOMLOOP_SCREENSHOT_DIR",
	"ROOMLOOP_MEASURE",
	"ROOMLOOP_SESSIONS",
	"ROOMLOOP_RESUME_CLIENTS",
	"ROOMLOOP_FLOOD_*",
	"ROOMLOOP_BENCH_*",
	"ROOMLOOP_TEST_*",
}

// cmdLineOnly are flags that neither the environment nor the file sets.
// -config may come from the environment (ROOMLOOP_CONFIG) but not from
// the file itself.
var cmdLineOnly = map[string]bool{"print-config": true}

// alternatives are flags that exclude each other: a layer's value for one
// is skipped when a higher layer has set the other (-api-key-file on the
// command line beats ROOMLOOP_API_KEY, as before the config file).
var alternatives = map[string]string{"api-key": "api-key-file", "api-key-file": "api-key"}

// secretFlags are masked by -print-config.
var secretFlags = map[string]bool{"api-key": true}

// urlFlags have a URL's password masked by -print-config.
var urlFlags = map[string]bool{"auth-url": true}

// envName is the environment variable of flag name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func reservedEnv(name string) bool {
	for _, r := range envReserved {
		if p, ok := strings.CutSuffix(r, "*"); ok && strings.HasPrefix(name, p) || name == r {
			return true
		}
	}
	return false
}

// sources says where each flag's value came from: "flag", "env NAME",
// "file PATH"; a flag not in it has its default.
type sources map[string]string

// layerConfig fills the flags not set on the command line from the
// environment (environ's ROOMLOOP_ variables), then those still unset from
// the file of -config (after the environment: ROOMLOOP_CONFIG names one
// too). It returns where each value came from.
func layerConfig(fs *flag.FlagSet, environ func() []string) (sources, error) {
	src := sources{}
	fs.Visit(func(f *flag.Flag) { src[f.Name] = "flag" })
	// higher holds the flags set by the layers above the one being
	// applied: within a layer, alternatives meet and exclude each other.
	higher := sources{}
	taken := func(name string) bool {
		_, a := higher[name]
		_, b := higher[alternatives[name]]
		return a || b
	}
	snapshot := func() {
		for k, v := range src {
			higher[k] = v
		}
	}
	snapshot()

	// The environment.
	byEnv := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if !cmdLineOnly[f.Name] {
			byEnv[envName(f.Name)] = f.Name
		}
	})
	ek := koanf.New(".")
	if err := ek.Load(env.Provider("", env.Opt{Prefix: envPrefix, EnvironFunc: environ}), nil); err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	vars := ek.Keys()
	var unknown []string
	for _, v := range vars {
		if _, ok := byEnv[v]; !ok && v != secretEnv && !reservedEnv(v) {
			unknown = append(unknown, v)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown environment variable(s) %s: roomloop reads %s plus a flag's name in upper case, dashes as underscores (e.g. ROOMLOOP_QUEUE_FRAMES), and %s",
			strings.Join(unknown, ", "), envPrefix, secretEnv)
	}
	for _, v := range vars {
		name, ok := byEnv[v]
		if !ok || taken(name) {
			continue
		}
		val := ek.String(v)
		if name == "api-key" {
			val = strings.TrimSpace(val)
		}
		if err := fs.Set(name, val); err != nil {
			return nil, fmt.Errorf("%s: invalid value %q for -%s: %v", v, val, name, err)
		}
		src[name] = "env " + v
	}

	// The file.
	snapshot()
	path := fs.Lookup("config").Value.String()
	if path == "" {
		return src, nil
	}
	var parser koanf.Parser
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		parser = yaml.Parser()
	case ".toml":
		parser = toml.Parser()
	default:
		return nil, fmt.Errorf("-config: %s: want a .yaml, .yml or .toml file", path)
	}
	fk := koanf.New(".")
	if err := fk.Load(file.Provider(path), parser); err != nil {
		return nil, fmt.Errorf("-config: %w", err)
	}
	all := fk.All()
	keys := make([]string, 0, len(all))
	unknown = unknown[:0]
	for k := range all {
		keys = append(keys, k)
		if fs.Lookup(k) == nil || cmdLineOnly[k] || k == "config" {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(keys)
	sort.Strings(unknown)
	if len(unknown) > 0 {
		return nil, fmt.Errorf("config file %s: unknown key(s) %s: the keys are the flags' names (roomloop -h), not nested", path, strings.Join(unknown, ", "))
	}
	for _, k := range keys {
		if taken(k) {
			continue
		}
		val, err := fileValue(all[k])
		if err != nil {
			return nil, fmt.Errorf("config file %s: %s: %v", path, k, err)
		}
		if err := fs.Set(k, val); err != nil {
			return nil, fmt.Errorf("config file %s: %s: invalid value %q: %v", path, k, val, err)
		}
		src[k] = "file " + path
	}
	return src, nil
}

// fileValue is v, as the parsers give it, in a flag's syntax: a list is
// comma-separated (for the repeatable flags).
func fileValue(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := fileValue(e)
			if err != nil {
				return "", err
			}
			if _, ok := e.([]any); ok {
				return "", errors.New("a list of lists")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	default:
		return "", fmt.Errorf("a %T is neither a string, a number, a boolean nor a list", v)
	}
}

// printConfig writes every flag's effective value and where it came from,
// as YAML a -config file accepts (less the masked secrets), sorted by name.
func printConfig(w io.Writer, fs *flag.FlagSet, src sources, getenv func(string) string) {
	fmt.Fprintln(w, "# roomloop effective configuration: key: value  # source (flag, env VAR, file PATH or default)")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || cmdLineOnly[f.Name] {
			return
		}
		s, ok := src[f.Name]
		if !ok {
			s = "default"
		}
		val := f.Value.String()
		switch {
		case secretFlags[f.Name] && val != "":
			val = `"********"`
		case urlFlags[f.Name] && val != "":
			if u, err := url.Parse(val); err == nil {
				val = strconv.Quote(u.Redacted())
			} else {
				val = `"********"`
			}
		default:
			if g, ok := f.Value.(flag.Getter); ok {
				if _, isStr := g.Get().(string); !isStr {
					break
				}
			}
			val = strconv.Quote(val)
		}
		fmt.Fprintf(w, "%s: %s  # %s\n", f.Name, val, s)
	})
	if c := fs.Lookup("config").Value.String(); c != "" {
		fmt.Fprintf(w, "# config: %s  # %s\n", c, src["config"])
	}
	if getenv(secretEnv) != "" {
		fmt.Fprintf(w, "# %s: \"********\"  # env (JWT HS256 secrets)\n", secretEnv)
	}
	if _, ok := src["api-key"]; !ok && getenv(apiKeyEnv) != "" {
		fmt.Fprintf(w, "# %s: \"********\"  # env, unused: -api-key-file is set\n", apiKeyEnv)
	}
}

// flagAtStart matches the flag an error message starts with.
var flagAtStart = regexp.MustCompile(`^-([a-z0-9-]+)`)

// usage is a usage error of err, noting where the flag it starts with
// got its value when that was not the command line: "-heartbeat: … (from
// file roomloop.yaml)".
func (s sources) usage(err error) error {
	if m := flagAtStart.FindStringSubmatch(err.Error()); m != nil {
		if from, ok := s[m[1]]; ok && from != "flag" {
			err = fmt.Errorf("%w (from %s)", err, from)
		}
	}
	return &usageError{err: err}
}
