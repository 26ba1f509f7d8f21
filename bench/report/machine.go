package report

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a run happened.
type Machine struct {
	Date    string `json:"date"`
	CPU     string `json:"cpu"`
	Cores   int    `json:"cores"`
	GoVer   string `json:"go"`
	Kernel  string `json:"kernel"`
	Pinning string `json:"pinning"`
}

// ThisMachine reads the CPU model from /proc/cpuinfo and the kernel
// release from /proc.
func ThisMachine(pinning string) Machine {
	m := Machine{Date: time.Now().UTC().Format(time.RFC3339), Cores: runtime.NumCPU(), GoVer: runtime.Version(), Pinning: pinning}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range bytes.Lines(b) {
			if k, v, ok := strings.Cut(string(line), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
