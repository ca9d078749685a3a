package sqlite

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/store/storetest"
)

// BenchmarkBridgeMerge: a bridge between a campaign of 2,000 reports and
// an older singleton (attack finding F2; storetest.BridgeMerges), with
// the bytes this process wrote per bridge where Linux says it.
func BenchmarkBridgeMerge(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "accord.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var written func() int64
	if _, ok := wchar(); ok {
		written = func() int64 { n, _ := wchar(); return n }
	}
	storetest.BridgeMerges(b, s, 2000, written)
}

// wchar is the bytes this process has passed to write calls
// (/proc/self/io): the database's pages and its write-ahead log.
func wchar() (int64, bool) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// BenchmarkLinks: 1,000 opt-out links in one request
// (storetest.LinksBatch).
func BenchmarkLinks(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "accord.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	storetest.LinksBatch(b, s)
}
