package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/lesismal/nbio/logging"

	"github.com/roomloop/roomloop/bench/report"
	"github.com/roomloop/roomloop/bench/runner"
)

// pinnedEnv marks a run process that is already pinned by taskset.
const pinnedEnv = "ROOMLOOP_BENCH_PINNED"

// runMain runs the scenarios against both implementations and prints the
// tables. With -pin (the default on two or more cores) it re-executes
// itself on CPU 1 and starts servers on CPU 0.
func runMain(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var sz sizeFlags
	sz.register(fs)
	var (
		scen   = fs.String("scenario", "all", "all, or a comma-separated list of idle, broadcast, echo, connect, slowconsumer, resume, reconnect, resume-load, api-publish, broadcast-json, cluster-fanout, cluster-pairs, cluster-idle, cluster-resume, cluster-hold")
		rounds = fs.Int("rounds", 3, "rounds per implementation")
		out    = fs.String("out", "bench/results", "directory for the JSON and Markdown results")
		waysIn = fs.Bool("ways-in", false, "idle: also run roomloop mounted on net/http (ServeHTTP) and with native TLS, and report their memory per connection beside Start's")
		pin    = fs.Bool("pin", runtime.NumCPU() >= 2, "pin servers to CPU 0 and the load generator to CPU 1 (taskset)")
		cf     = fs.Bool("centrifuge", false, "also run idle, broadcast, echo and connect against the centrifuge comparator, built from ./bench/centrifuge (run from the repository root)")
		uring  = fs.Bool("uring", false, "broadcast: run roomloop, roomloop-uring (loop.Config.URingWrites: writes submitted through io_uring) and the baseline, instead of roomloop, roomloop-metrics and the baseline")
		cfBin  = fs.String("centrifuge-bin", "", "the centrifuge comparator's binary, built already (go build in bench/centrifuge); implies -centrifuge")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cf && *cfBin == "" {
		bin, cleanup, err := buildCentrifuge()
		if err != nil {
			return err
		}
		defer cleanup()
		*cfBin = bin
		args = append(args, "-centrifuge-bin", bin) // the pinned re-execution uses it
	}
	exe, pinning, cpus, done, err := pinSetup("run", args, *pin)
	if done || err != nil {
		return err
	}
	logging.SetLevel(logging.LevelError) // nbio's logger, in this process only
	cfg := runner.Config{
		Exe: exe, ServerArgs: []string{"server"}, ServerCPUs: cpus,
		Scenarios: scenarios(*scen), Rounds: *rounds, Params: sz.params(), Log: os.Stderr,
		WaysIn: *waysIn, Centrifuge: *cfBin, URing: *uring,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rs, err := runner.Run(ctx, cfg)
	var md bytes.Buffer
	command := "roomloop-bench run " + strings.Join(args, " ")
	m := header(&md, pinning, command)
	report.Markdown(&md, rs)
	if werr := publish(md.Bytes(), *out, "results", report.File{Command: command, Machine: m, Rounds: rs, WaysIn: report.WaysIn(rs), OnOff: report.OnOff(rs), Compression: report.CompressionSummary(rs)}); werr != nil && err == nil {
		err = werr
	}
	return err
}

// publish prints the Markdown report md and writes it, with file as JSON,
// to dir as <prefix>-<UTC time>.md and .json.
func publish(md []byte, dir, prefix string, file any) error {
	_, _ = os.Stdout.Write(md)
	stamp := prefix + "-" + time.Now().UTC().Format("20060102-150405")
	_, jerr := report.WriteJSON(dir, stamp+".json", file)
	return errors.Join(jerr, os.WriteFile(dir+"/"+stamp+".md", md, 0o644))
}

// pinSetup prepares subcommand sub for pinning. With pin on, and this
// process not yet under taskset, it runs the subcommand again on CPU 1,
// waits, and reports done. Otherwise it returns this executable, the
// pinning in words (for the report) and the CPU list for the servers (""
// for none).
func pinSetup(sub string, args []string, pin bool) (exe, pinning, cpus string, done bool, err error) {
	exe, err = os.Executable()
	if err != nil {
		return "", "", "", false, err
	}
	if os.Getenv(pinnedEnv) != "" {
		pin = true // already running under taskset -c 1
	} else if pin {
		if _, err := exec.LookPath("taskset"); err != nil {
			return "", "", "", false, fmt.Errorf("-pin needs taskset: %w (or use -pin=false)", err)
		}
		return exe, "", "", true, reexecPinned(exe, sub, args)
	}
	if pin {
		return exe, "server on CPU 0, load generator on CPU 1 (taskset)", "0", false, nil
	}
	return exe, "none: servers and load generator share all cores", "", false, nil
}

// header writes a report's first lines (date, machine, pinning, command)
// to w and returns the machine.
func header(w io.Writer, pinning, command string) report.Machine {
	m := report.ThisMachine(pinning)
	fmt.Fprintf(w, "Date %s, %s (%d cores), %s, kernel %s. Pinning: %s.\nCommand: `%s`\n\n",
		m.Date, m.CPU, m.Cores, m.GoVer, m.Kernel, pinning, command)
	return m
}

// reexecPinned runs subcommand sub again under taskset -c 1 and waits.
func reexecPinned(exe, sub string, args []string) error {
	cmd := exec.Command("taskset", append([]string{"-c", "1", exe, sub}, args...)...)
	cmd.Env = append(os.Environ(), pinnedEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
