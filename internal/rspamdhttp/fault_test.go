package rspamdhttp

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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
// ERROR and counted; /checkv2 answers "no action", skipped, with
// X-Accord-Filter: skipped: error for the MTA to add (or 503 with
// tempfail_on_timeout), and the same process answers the next message as
// usual.
func TestFaultRecovered(t *testing.T) {
	for _, tempfail := range []bool{false, true} {
		lib, err := rules.Embedded()
		if err != nil {
			t.Fatal(err)
		}
		var panics atomic.Int64
		logs := &lockedBuffer{}
		log := slog.New(slog.NewTextHandler(logs, nil))
		f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", TempFailOnTimeout: tempfail},
			filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore(), Secret: []byte("s"), Logger: log,
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
		srv := NewHandler(f, "", log).Server()
		go srv.Serve(l)
		base := "http://" + l.Addr().String()
		hdr := map[string]string{"IP": "192.0.2.7", "Rcpt": "<ana@example.org>"}
		resp, r := post(t, base+"/checkv2", hdr, message("hi", "boom-in-scan"))
		if tempfail {
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				t.Errorf("tempfail: %d", resp.StatusCode)
			}
		} else if resp.StatusCode != 200 || r.Action != "no action" || !r.IsSkipped || r.Milter == nil ||
			!strings.HasPrefix(r.Milter.AddHeaders["X-Accord-Filter"].Value, "skipped: error; ref=") {
			t.Errorf("fail-open: %d %+v", resp.StatusCode, r)
		}
		resp, r = post(t, base+"/checkv2", hdr, message("hi", "lunch at noon"))
		if resp.StatusCode != 200 || r.IsSkipped || r.Milter == nil || r.Milter.AddHeaders["X-Spam-Flag"].Value != "NO" {
			t.Errorf("the next message: %d %+v", resp.StatusCode, r)
		}
		if n := panics.Load(); n != 1 {
			t.Errorf("%d faults counted, want 1", n)
		}
		if lg := logs.String(); !strings.Contains(lg, "level=ERROR") || !strings.Contains(lg, "door=rspamd") || !strings.Contains(lg, "goroutine ") {
			t.Errorf("log: %.2000s", lg)
		}
		srv.Close()
	}
}
