package procstat

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
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

// TestFDs counts this process's descriptors and sees one more open.
func TestFDs(t *testing.T) {
	n0, err := FDs(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, n0, 3)
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	n1, err := FDs(os.Getpid())
	require.NoError(t, err)
	require.Equal(t, n0+1, n1)
}
