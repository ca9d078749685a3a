//go:build unix

// Package cputime reads the process's CPU time, so benchmarks on a shared
// machine can report CPU per operation (steadier than wall time when other
// work competes for the cores).
package cputime

import (
	"syscall"
	"time"
)

// Process is the process's CPU time so far (user and system).
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
