package procstat

import (
	"os"
	"testing"
)

// TestReadSelf reads this process.
func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 1<<20 || s.Threads < 1 || s.CPU < 0 {
		t.Fatalf("implausible sample %+v", s)
	}
}
