package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lesismal/nbio/logging"

	"github.com/roomloop/roomloop/internal/memrelease"
)

// Run starts cfg's server, writes "LISTEN <addr>" to out (after "ADMIN
// <addr>" when it serves the HTTP API, Config.API), answers each
// "STATS" line of in with a JSON line of Stats ("STATS FREE": after
// returning free memory to the OS), and stops the server when in ends or
// ctx is done.
func Run(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	stopProfile, err := startCPUProfile(cfg.Impl)
	if err != nil {
		return err
	}
	defer stopProfile()
	// nbio's own logger (the floor's engine uses it; roomloop routes its
	// engines' lines to slog) writes to stdout by default, which carries
	// this protocol. Run is a child process's entry point, called before
	// any engine starts.
	logging.Output = os.Stderr
	s, err := Start(cfg)
	if err != nil {
		return err
	}
	if !isBaseline(cfg.Impl) && cfg.Impl != Floor {
		// As the roomloop binary does by default (-release-memory).
		defer memrelease.Start(ctx, memrelease.Config{})()
	}
	return RunServer(ctx, s, in, out)
}

// RunServer is Run for a server already started: one built outside this
// package (the centrifuge comparator, bench/centrifuge) speaks the same
// child protocol through it. A server with an admin listener
// (AdminAddr) reports it on an "ADMIN" line first.
func RunServer(ctx context.Context, s Server, in io.Reader, out io.Writer) error {
	if a, ok := s.(interface{ AdminAddr() string }); ok && a.AdminAddr() != "" {
		if _, err := fmt.Fprintf(out, "ADMIN %s\n", a.AdminAddr()); err != nil {
			_ = s.Close()
			return err
		}
	}
	if _, err := fmt.Fprintf(out, "LISTEN %s\n", s.Addr()); err != nil {
		_ = s.Close()
		return err
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	enc := json.NewEncoder(out)
	for {
		select {
		case <-ctx.Done():
			return s.Close()
		case line, ok := <-lines:
			if !ok {
				return s.Close()
			}
			switch cmd := strings.TrimSpace(line); cmd {
			case "STATS", "STATS FREE":
				read := ReadStats
				if cmd == "STATS FREE" {
					read = ReadStatsFreed
				}
				st := read()
				if r, ok := s.(reporter); ok {
					r.report(&st)
				}
				if err := heapProfiles.write(); err != nil {
					fmt.Fprintf(os.Stderr, "serve: heap profile: %v\n", err)
				}
				if err := enc.Encode(st); err != nil {
					_ = s.Close()
					return err
				}
			case "":
			default:
				fmt.Fprintf(out, "ERROR unknown command %q\n", line)
			}
		}
	}
}
