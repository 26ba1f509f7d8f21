// Package hold is a load generator in a process of its own that opens
// connections to one server, joins them to rooms and holds them until
// told to stop: the cluster-hold scenario holds more connections than one
// process may open (20,000 descriptors) by running one per node. Run is
// the child's side (the hidden "roomloop-bench hold" subcommand), Start
// the parent's.
package hold

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roomloop/roomloop/bench/load"
)

// Config says what one hold process opens.
type Config struct {
	Addr       string // the server, host:port
	Conns      int    // connections
	RoomSize   int    // members per room; default 100
	RoomPrefix string // rooms are named RoomPrefix + index
	Dialers    int    // concurrent dials; default 64
}

// args returns cfg as the hold subcommand's flags.
func (cfg Config) args() []string {
	return []string{"-addr", cfg.Addr, "-n", strconv.Itoa(cfg.Conns), "-room-size", strconv.Itoa(cfg.RoomSize),
		"-room-prefix", cfg.RoomPrefix, "-dialers", strconv.Itoa(cfg.Dialers)}
}

// joinWait bounds the wait for every $joined.
const joinWait = 5 * time.Minute

// Run opens cfg.Conns connections to cfg.Addr, joins connection i to
// room RoomPrefix + i/RoomSize, and once every one has its $joined
// writes "HELD <n>" to out; it then holds them until in ends (or ctx is
// done), closes them and returns.
func Run(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	if cfg.RoomSize <= 0 {
		cfg.RoomSize = 100
	}
	if cfg.Dialers <= 0 {
		cfg.Dialers = 64
	}
	var joined atomic.Int64
	pool, err := load.New(load.Config{Addr: cfg.Addr, Handler: func(c *load.Conn, m *load.Msg) {
		if string(m.Event) == "$joined" {
			joined.Add(1)
		}
	}})
	if err != nil {
		return err
	}
	defer func() { _ = pool.Close(5 * time.Second) }()
	conns, err := pool.OpenN(ctx, cfg.Conns, cfg.Dialers)
	if err != nil {
		return err
	}
	for i, c := range conns {
		if err := c.Send([]byte(`{"event":"$join","room":"` + cfg.RoomPrefix + strconv.Itoa(i/cfg.RoomSize) + `"}`)); err != nil {
			return err
		}
	}
	if err := load.WaitFor(ctx, "joined", joined.Load, int64(len(conns)), joinWait); err != nil {
		return err
	}
	if st := pool.Stats(); st.Malformed.Load()+st.SeqErrors.Load() > 0 {
		return fmt.Errorf("hold: %d malformed, %d seq errors", st.Malformed.Load(), st.SeqErrors.Load())
	}
	if _, err := fmt.Fprintf(out, "HELD %d\n", pool.Len()); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, in); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// Proc is a running hold process.
type Proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	line  chan string // its "HELD" line; closed when it ends
	done  chan error  // its Wait's result
}

// Start starts exe (the benchmark binary) as "exe hold" with cfg.
func Start(exe string, cfg Config) (*Proc, error) {
	cmd := exec.Command(exe, append([]string{"hold"}, cfg.args()...)...)
	cmd.Stderr = os.Stderr
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
	p := &Proc{cmd: cmd, stdin: stdin, line: make(chan string, 1), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() { // lines before it (a library's log) are skipped
			if strings.HasPrefix(sc.Text(), "HELD ") {
				p.line <- sc.Text()
				break
			}
		}
		close(p.line)
		_, _ = io.Copy(io.Discard, stdout)
		p.done <- cmd.Wait()
	}()
	return p, nil
}

// Held waits for the process to hold its connections and returns how
// many it holds.
func (p *Proc) Held(ctx context.Context) (int, error) {
	select {
	case line, ok := <-p.line:
		if !ok {
			return 0, errors.New("hold: the process ended before holding its connections")
		}
		n, err := strconv.Atoi(strings.TrimPrefix(line, "HELD "))
		if err != nil {
			return 0, fmt.Errorf("hold: unexpected line %q", line)
		}
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Stop closes the process's input, which makes it close its connections
// and exit, and waits up to 15 s before killing it.
func (p *Proc) Stop() error {
	_ = p.stdin.Close()
	select {
	case err := <-p.done:
		return err
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("hold: the process did not stop in 15 s; killed")
	}
}
