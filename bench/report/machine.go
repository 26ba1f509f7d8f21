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
	m := Machine{Date: time.Now().UTC().Format(time.RFC3339), GoVer: runtime.Version(), Pinning: pinning}
	// Count processors in /proc/cpuinfo: runtime.NumCPU sees only this
	// process's affinity mask, which pinning narrows.
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range bytes.Lines(b) {
			k, v, ok := strings.Cut(string(line), ":")
			switch strings.TrimSpace(k) {
			case "processor":
				m.Cores++
			case "model name":
				if ok && m.CPU == "" {
					m.CPU = strings.TrimSpace(v)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
