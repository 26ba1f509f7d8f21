// Package procstat reads a process's memory, CPU time and thread count
// from Linux's /proc.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// Sample is one reading of a process.
type Sample struct {
	RSS     uint64  // resident set size in bytes (VmRSS)
	Threads int     // OS threads
	CPU     float64 // user plus system CPU seconds since the process started
}

// Read returns a Sample of process pid.
func Read(pid int) (Sample, error) {
	var s Sample
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range bytes.Lines(st) {
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			s.RSS = kb << 10
		case "Threads:":
			s.Threads, _ = strconv.Atoi(f[1])
		}
	}
	s.CPU, err = cpu(pid)
	return s, err
}

// cpu returns utime+stime of pid in seconds.
func cpu(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("procstat: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("procstat: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("procstat: bad times in /proc/%d/stat", pid)
	}
	return float64(ut+st) / clockTicks, nil
}

// FDs returns how many file descriptors process pid has open (the entries
// of /proc/<pid>/fd).
func FDs(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	// The directory's own descriptor is listed when pid is this process.
	n := len(names)
	if pid == os.Getpid() && n > 0 {
		n--
	}
	return n, err
}
