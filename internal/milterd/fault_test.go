package milterd

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/d--j/go-milter"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/metrics"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

// syncBuffer is a log sink safe for the door's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// faulty is a milter door whose filter panics on a message that says
// "boom-in-scan" and whose own callback named in at panics (once), the
// faults counted in the node's metrics as serve counts them.
type faulty struct {
	s   *Server
	at  atomic.Value // callback name to panic in, or ""
	mx  *metrics.Metrics
	log *syncBuffer
}

func startFaulty(t *testing.T, tempfail bool) *faulty {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	fy := &faulty{mx: metrics.New(), log: &syncBuffer{}}
	fy.at.Store("")
	log := slog.New(slog.NewTextHandler(fy.log, nil))
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", TempFailOnTimeout: tempfail},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore(), Secret: []byte("s"), Logger: log,
			OnPanic: func(door string) { fy.mx.Error(door + "_panic") },
			ScanHook: func(raw []byte) {
				if bytes.Contains(raw, []byte("boom-in-scan")) {
					panic("injected fault in the decision")
				}
			}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", f, log)
	if err != nil {
		t.Fatal(err)
	}
	s.fault = func(callback string) {
		if callback != "" && fy.at.CompareAndSwap(callback, "") { // once
			panic("injected fault in " + callback)
		}
	}
	t.Cleanup(s.Close)
	fy.s = s
	return fy
}

// panics is the count serve's /metrics shows for the milter door.
func (fy *faulty) panics(t *testing.T) string {
	t.Helper()
	w := httptest.NewRecorder()
	fy.mx.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	m := regexp.MustCompile(`(?m)^accord_errors_total\{component="milter_panic"\} (\S+)$`).FindStringSubmatch(w.Body.String())
	if m == nil {
		return "0"
	}
	return m[1]
}

var skippedError = regexp.MustCompile(`^skipped: error; ref=[a-z2-7]+$`)

// TestFaultRecovered: a panic in the decision or in the door's own
// callbacks is logged with its stack at ERROR, counted in the metrics,
// and answered as configured (delivered with X-Accord-Filter: skipped:
// error, by default) — and the same process then decides the next
// message as usual.
func TestFaultRecovered(t *testing.T) {
	fy := startFaulty(t, false)
	addr := fy.s.Addr().String()
	normal := func(step string) {
		t.Helper()
		r := send(t, addr, []string{"ana@example.org"}, hdr("lunch"), "see you at noon\r\n")
		h := added(r)
		if r.act.Type != milter.ActionAccept || h["X-Spam-Flag"] != "NO" || h["X-Accord-Filter"] != "" {
			t.Fatalf("%s: the next message was not decided as usual: %+v %v", step, r.act, h)
		}
	}
	normal("before any fault")
	n := 0
	for _, at := range []string{"", "connect", "helo", "mail", "rcpt", "data", "header", "headers", "body", "end-of-message"} {
		fy.at.Store(at)
		body := "see you at noon\r\n"
		if at == "" {
			body = "boom-in-scan\r\n" // the fault is in the filter's scan
		}
		r := send(t, addr, []string{"ana@example.org"}, hdr("lunch"), body)
		fy.at.Store("")
		n++
		h := added(r)
		if r.act.Type != milter.ActionAccept || !skippedError.MatchString(h["X-Accord-Filter"]) || h["X-Spam-Flag"] != "" {
			t.Fatalf("fault in %q: not passed with the failure's header: %+v %v", at, r.act, h)
		}
		normal("after a fault in " + at)
		if got := fy.panics(t); got != strconv.Itoa(n) {
			t.Fatalf("fault in %q: milter_panic = %s, want %d", at, got, n)
		}
	}
	logs := fy.log.String()
	for _, want := range []string{"level=ERROR", "injected fault in the decision", "injected fault in header", "goroutine ", "milterd.(*session)"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%.3000s", want, logs)
		}
	}
	if strings.Contains(logs, "see you at noon") {
		t.Error("message content reached the log")
	}
}

// TestFaultTempfail: with tempfail_on_timeout a failed decision asks the
// MTA to try again later, as a timed-out one does.
func TestFaultTempfail(t *testing.T) {
	fy := startFaulty(t, true)
	addr := fy.s.Addr().String()
	for _, at := range []string{"", "header"} {
		fy.at.Store(at)
		body := "see you at noon\r\n"
		if at == "" {
			body = "boom-in-scan\r\n"
		}
		r := send(t, addr, []string{"ana@example.org"}, hdr("lunch"), body)
		fy.at.Store("")
		if r.act.Type != milter.ActionTempFail {
			t.Fatalf("fault in %q: %+v, want a tempfail", at, r.act)
		}
	}
	r := send(t, addr, []string{"ana@example.org"}, hdr("lunch"), "see you at noon\r\n")
	if h := added(r); r.act.Type != milter.ActionAccept || h["X-Spam-Flag"] != "NO" {
		t.Fatalf("the next message: %+v %v", r.act, h)
	}
	if got := fy.panics(t); got != "2" {
		t.Fatalf("milter_panic = %s, want 2", got)
	}
}
