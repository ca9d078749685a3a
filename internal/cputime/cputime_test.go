package cputime

import (
	"runtime"
	"testing"
)

// TestProcessAdvances: busy work moves the process's CPU time forward.
func TestProcessAdvances(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no CPU time on this system")
	}
	start := Process()
	x := 0
	for i := 0; Process()-start < 1e6 && i < 1<<32; i++ {
		x += i
	}
	if Process() <= start {
		t.Fatalf("CPU time did not advance (%d)", x)
	}
}
