package load

import (
	"testing"
	"time"
)

// TestHistQuantiles checks bucket bounds and quantiles within 4%.
func TestHistQuantiles(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 100, 1000, 123456789, 1 << 40} {
		i := bucket(v)
		if lower(i) > v || lower(i+1) <= v {
			t.Fatalf("v=%d bucket %d [%d,%d)", v, i, lower(i), lower(i+1))
		}
	}
	var h Hist
	for i := 1; i <= 10000; i++ {
		h.Add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.99, 9900 * time.Microsecond}} {
		got := h.Quantile(c.q)
		if got < c.want*96/100 || got > c.want*104/100 {
			t.Errorf("q%.2f = %v, want ~%v", c.q, got, c.want)
		}
	}
}
