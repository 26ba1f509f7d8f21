package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/lesismal/nbio/logging"

	"github.com/roomloop/roomloop/bench/soak"
)

// soakMain runs soak runs and prints their sample tables and verdicts. It
// fails (exit 1) when any run fails its rules.
func soakMain(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	var (
		run    = fs.String("run", "all", "all, or a comma-separated list of "+strings.Join(soak.Names(), ", "))
		out    = fs.String("out", "bench/results", "directory for soak-<UTC time>.json and .md")
		logs   = fs.String("logs", "", "directory for the server logs (default: the system temp dir)")
		pin    = fs.Bool("pin", runtime.NumCPU() >= 2, "pin the server to CPU 0 and the load generator to CPU 1 (taskset)")
		c      soak.Config
		limits = soak.DefaultLimits()
	)
	fs.DurationVar(&c.Duration, "duration", 0, "measured phase of each run (0: the run's soak-plan duration: idle 30m, churn 60m, chaos 30m, slowmix 20m, hostile 30m, drain 30m)")
	fs.DurationVar(&c.Sample, "sample", 10*time.Second, "sampling interval")
	fs.IntVar(&c.Conns, "conns", 0, "main size (0: run default: idle 15000, churn 5000 steady, chaos 2000, slowmix 1000 members, hostile 2000 members, drain 5000)")
	fs.Float64Var(&c.Rate, "rate", 0, "churn: connects/s (300); chaos, slowmix, hostile, drain: room messages/s in all (100, 40, 20, 100)")
	fs.IntVar(&c.Size, "size", 0, "padding bytes per room message (0: 256; slowmix 1024)")
	fs.DurationVar(&c.Life, "life", 0, "churn: lifetime of a churning connection (0: 1s)")
	fs.Float64Var(&c.Sever, "sever", 0, "chaos: % of connections the proxy severs per second (0: 1)")
	fs.Float64Var(&c.Stalled, "stalled", 0, "slowmix: % of members that never read (0: 5)")
	fs.Float64Var(&c.Throttled, "throttled", 0, "slowmix: % of members that read at half the stream's rate (0: 10)")
	fs.StringVar(&c.SlowPolicy, "slow-policy", "drop", "slowmix: the server's full-queue policy, drop or disconnect")
	fs.Float64Var(&c.Bad, "bad", 0, "hostile: % of clients that misbehave (0: 1)")
	fs.DurationVar(&c.Cycle, "cycle", 0, "drain: SIGTERM and restart interval (0: duration/6)")
	fs.DurationVar(&c.ResumeWindow, "resume-window", 0, "server resume window (0: 30s)")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 0, "server ping interval (0: 25s)")
	fs.Float64Var(&c.ProbeRate, "probe", 0, "idle, churn: $ping probes per second (0: 50)")
	fs.IntVar(&c.Dialers, "dialers", 0, "concurrent dials (0: 64)")
	fs.Float64Var(&limits.RSSPerMin, "rss-limit", limits.RSSPerMin, "fail above this RSS drift, MiB/min")
	fs.Float64Var(&limits.RSSNoise, "rss-noise", limits.RSSNoise, "forgive an RSS drift totalling at most this many MiB over the fitted window")
	fs.IntVar(&limits.FDSlack, "fd-slack", limits.FDSlack, "descriptors above the baseline allowed once quiet")
	fs.Float64Var(&limits.P99Ratio, "p99-ratio", limits.P99Ratio, "fail when the last third's p99 exceeds the first third's by this factor")
	fs.Float64Var(&limits.P99Slack, "p99-slack", limits.P99Slack, "forgive p99 increases of at most this many ms (-1: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.SlowPolicy != "drop" && c.SlowPolicy != "disconnect" {
		return fmt.Errorf("-slow-policy %q: want drop or disconnect", c.SlowPolicy)
	}
	runs := []string{}
	if *run == "all" {
		runs = soak.Names()
	} else {
		runs = splitComma(*run)
	}
	exe, pinning, cpus, done, err := pinSetup("soak", args, *pin)
	if done || err != nil {
		return err
	}
	logging.SetLevel(logging.LevelError)
	c.Exe, c.ServerArgs, c.ServerCPUs, c.LogDir, c.Log, c.Limits = exe, []string{"server"}, cpus, *logs, os.Stderr, limits
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var results []*soak.Result
	var runErr error
	for _, name := range runs {
		rc := c
		rc.Run = name
		fmt.Fprintf(os.Stderr, "soak %s: starting\n", name)
		r, err := soak.Run(ctx, rc)
		if err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("%s: %w", name, err))
			continue
		}
		fmt.Fprintf(os.Stderr, "soak %s: %s\n", name, r.Verdict())
		results = append(results, r)
		if ctx.Err() != nil {
			break
		}
	}
	var md bytes.Buffer
	command := "roomloop-bench soak " + strings.Join(args, " ")
	m := header(&md, pinning, command)
	soak.Markdown(&md, results)
	runErr = errors.Join(runErr, publish(md.Bytes(), *out, "soak", soak.File{Command: command, Machine: m, Limits: limits, Runs: results}))
	var failed []string
	for _, r := range results {
		if !r.Pass {
			failed = append(failed, r.Run+": "+r.Verdict())
		}
	}
	if len(failed) > 0 {
		runErr = errors.Join(runErr, fmt.Errorf("soak failed:\n  %s", strings.Join(failed, "\n  ")))
	}
	return runErr
}
