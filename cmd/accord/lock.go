package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// lockData takes the data folder for this serve process: a second serve
// on the same folder (two processes writing one SQLite file and one
// outbound queue worker each, or a copy started by mistake) stops at once
// with a clear error. The lock is the kernel's (flock), so it goes with
// the process, even after SIGKILL. Commands such as `token create` do not
// take it: they may run beside a serve.
func lockData(dir string) (*flock.Flock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data folder %s: %w", dir, err)
	}
	path := filepath.Join(dir, "serve.lock")
	l := flock.New(path)
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock the data folder %s: %w", dir, err)
	}
	if !ok {
		pid := "another process"
		if b, err := os.ReadFile(path + ".pid"); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pid = "process " + strconv.Itoa(n)
			}
		}
		return nil, fmt.Errorf("the data folder %s is in use by %s (another accord serve): one serve per data folder; give this one its own --data", dir, pid)
	}
	os.WriteFile(path+".pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o640)
	return l, nil
}
