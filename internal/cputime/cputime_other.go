//go:build !unix

// Package cputime reads the process's CPU time, so benchmarks on a shared
// machine can report CPU per operation (steadier than wall time when other
// work competes for the cores).
package cputime

import "time"

// Process is not measured here: benchmarks report wall time only.
func Process() time.Duration { return 0 }
