package spamd

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFaultRecovered: a panic in the decision is logged with its stack at
// ERROR and counted; the message is passed unflagged with X-Accord-Filter:
// skipped: error (or EX_TEMPFAIL with tempfail_on_timeout), and the same
// process answers the next message as usual.
func TestFaultRecovered(t *testing.T) {
	for _, tempfail := range []bool{false, true} {
		lib, err := rules.Embedded()
		if err != nil {
			t.Fatal(err)
		}
		var panics atomic.Int64
		logs := &lockedBuffer{}
		f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", TempFailOnTimeout: tempfail},
			filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore(), Secret: []byte("s"),
				Logger:  slog.New(slog.NewTextHandler(logs, nil)),
				OnPanic: func(door string) { panics.Add(1) },
				ScanHook: func(raw []byte) {
					if bytes.Contains(raw, []byte("boom-in-scan")) {
						panic("injected fault in the decision")
					}
				}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{F: f, Timeout: 2 * time.Second}
		go s.Serve(l)
		addr := l.Addr().String()
		boom := message("test", "boom-in-scan")
		out := raw(t, addr, fmt.Sprintf("PROCESS SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(boom), boom))
		switch {
		case tempfail && !strings.HasPrefix(out, "SPAMD/1.1 75 EX_TEMPFAIL the filter failed on this message"):
			t.Errorf("tempfail: %q", out)
		case !tempfail && (!strings.HasPrefix(out, "SPAMD/1.1 0 EX_OK\r\nSpam: False") || !strings.Contains(out, "X-Accord-Filter: skipped: error; ref=")):
			t.Errorf("fail-open: %q", out)
		}
		ok := message("test", "see you at noon")
		if out := raw(t, addr, fmt.Sprintf("PROCESS SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(ok), ok)); !strings.HasPrefix(out, "SPAMD/1.1 0 EX_OK\r\nSpam: False") ||
			!strings.Contains(out, "X-Spam-Flag: NO") || strings.Contains(out, "X-Accord-Filter") {
			t.Errorf("the next message: %q", out)
		}
		if n := panics.Load(); n != 1 {
			t.Errorf("%d faults counted, want 1", n)
		}
		if lg := logs.String(); !strings.Contains(lg, "level=ERROR") || !strings.Contains(lg, "door=spamd") || !strings.Contains(lg, "goroutine ") {
			t.Errorf("log: %.2000s", lg)
		}
		s.Shutdown(context.Background())
	}
}
