// Package child starts a server implementation as a child process (the
// benchmark binary re-executed with "server"), reads its address, asks it
// for its runtime stats, samples it through /proc, and stops it.
package child

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/roomloop/roomloop/bench/procstat"
	"github.com/roomloop/roomloop/bench/serve"
)

// Spec says how to start a server process.
type Spec struct {
	Exe  string   // the benchmark binary
	Args []string // arguments before the server's own, e.g. ["server"]
	Impl string   // serve.Roomloop, serve.Baseline, serve.RoomloopHTTP or serve.RoomloopTLS
	// CPUs, when not empty, pins the process with taskset -c CPUs.
	CPUs string
	// Env is added to the child's environment.
	Env []string
	// Addr is the listen address; default 127.0.0.1:0.
	Addr string
	// Stderr receives the child's standard error; default os.Stderr.
	Stderr io.Writer
}

// Server is a running server process. Its methods are safe for
// concurrent use.
type Server struct {
	impl  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	addr  string
	admin string        // the HTTP API's address, if it serves one
	mu    sync.Mutex    // serializes Stats
	done  chan struct{} // closed once the process has been waited for
	err   error         // Wait's result, set before done closes
}

// Start starts the server process and waits (at most 15s) for its
// "LISTEN <addr>" line, and the "ADMIN <addr>" line before it of a server
// that serves the HTTP API ("server -api").
func Start(sp Spec) (*Server, error) {
	addr := sp.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	args := append(append([]string{}, sp.Args...), "-impl", sp.Impl, "-addr", addr)
	name := sp.Exe
	if sp.CPUs != "" {
		args = append([]string{"-c", sp.CPUs, sp.Exe}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), sp.Env...)
	cmd.Stderr = os.Stderr
	if sp.Stderr != nil {
		cmd.Stderr = sp.Stderr
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{impl: sp.Impl, cmd: cmd, stdin: stdin, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		s.err = cmd.Wait()
		close(s.done)
	}()
	line, err := s.next(15 * time.Second)
	if err == nil && strings.HasPrefix(line, "ADMIN ") {
		s.admin = strings.TrimPrefix(line, "ADMIN ")
		line, err = s.next(15 * time.Second)
	}
	if err != nil || !strings.HasPrefix(line, "LISTEN ") {
		s.kill()
		return nil, fmt.Errorf("child: %s server did not start: %q %v", sp.Impl, line, err)
	}
	s.addr = strings.TrimPrefix(line, "LISTEN ")
	return s, nil
}

// next returns the next stdout line.
func (s *Server) next(timeout time.Duration) (string, error) {
	select {
	case line, ok := <-s.lines:
		if !ok {
			return "", errors.New("child: server exited")
		}
		return line, nil
	case <-time.After(timeout):
		return "", errors.New("child: no answer from server")
	}
}

// Addr returns the server's listening address.
func (s *Server) Addr() string { return s.addr }

// Impl returns the implementation the server runs.
func (s *Server) Impl() string { return s.impl }

// AdminAddr returns the address of the server's HTTP API (its admin
// listener); "" when it serves none.
func (s *Server) AdminAddr() string { return s.admin }

// APIKey returns the bearer key of the server's HTTP API.
func (s *Server) APIKey() string { return serve.APIKey }

// TLS reports whether the server serves wss:// only (serve.RoomloopTLS).
func (s *Server) TLS() bool { return serve.IsTLS(s.impl) }

// PID returns the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Sample reads the server's RSS, threads and CPU time from /proc.
func (s *Server) Sample() (procstat.Sample, error) { return procstat.Read(s.PID()) }

// Stats asks the server for its runtime stats (it collects garbage first).
func (s *Server) Stats() (serve.Stats, error) { return s.stats("STATS\n") }

// StatsFreed is Stats after the server has returned its free memory to
// the OS.
func (s *Server) StatsFreed() (serve.Stats, error) { return s.stats("STATS FREE\n") }

// stats sends cmd and reads the JSON answer.
func (s *Server) stats(cmd string) (serve.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st serve.Stats
	if _, err := io.WriteString(s.stdin, cmd); err != nil {
		return st, err
	}
	line, err := s.next(30 * time.Second)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		return st, fmt.Errorf("child: bad STATS answer %q: %w", line, err)
	}
	return st, nil
}

// Stop closes the server's stdin, which stops it, and waits at most 10s
// before killing it.
func (s *Server) Stop() error {
	_ = s.stdin.Close()
	go func() {
		for range s.lines { // drain so the reader reaches Wait
		}
	}()
	select {
	case <-s.done:
		return s.err
	case <-time.After(10 * time.Second):
		s.kill()
		return errors.New("child: server did not stop in 10s; killed")
	}
}

// Terminate sends the server SIGTERM (it drains: every client gets close
// 1001) and waits up to timeout for it to exit before killing it.
func (s *Server) Terminate(timeout time.Duration) error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	go func() {
		for range s.lines { // drain so the reader reaches Wait
		}
	}()
	select {
	case <-s.done:
		return s.err
	case <-time.After(timeout):
		s.kill()
		return fmt.Errorf("child: server did not exit %v after SIGTERM; killed", timeout)
	}
}

// Exited is closed once the server process has exited and been reaped.
func (s *Server) Exited() <-chan struct{} { return s.done }

// ExitErr returns how the process ended (nil: exit status 0); valid once
// Exited is closed.
func (s *Server) ExitErr() error {
	<-s.done
	return s.err
}

// kill kills the process and reaps it.
func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	go func() {
		for range s.lines {
		}
	}()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
}
