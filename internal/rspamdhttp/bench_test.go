package rspamdhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

// BenchmarkCheckV2 is the /checkv2 path in process — rspamd's request
// headers read, the decision, the JSON answer written — over the second
// half of the public corpus with a model trained on the first; ns/op is
// per message. The network and the client are left out (see
// bench/filter-vs-rspamd.sh for those).
func BenchmarkCheckV2(b *testing.B) {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		b.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	ex, err := classify.ReadIndex(filepath.Join(dir, "index"))
	if err != nil {
		b.Fatal(err)
	}
	lib, err := rules.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org"},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore(), Secret: []byte("s")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	quarantine := 0.0
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Quarantine: &quarantine}, "bench") // tag, as rspamd does
	for _, e := range ex[:len(ex)/2] {
		f.Learn(ctx, e.Raw, e.Spam, "bench")
	}
	f.SyncModel(ctx, true)
	test := ex[len(ex)/2:]
	h := NewHandler(f, "", nil).Routes()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r := httptest.NewRequest("POST", "/checkv2", bytes.NewReader(test[i%len(test)].Raw))
		r.Header.Set("IP", "192.0.2.10")
		r.Header.Set("Helo", "mail.example.net")
		r.Header.Set("From", "<s@example.net>")
		r.Header.Set("Rcpt", "<user@example.org>")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		io.Copy(io.Discard, w.Body)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "msg/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		// CPU time per message, which a machine shared with other work
		// changes far less than the wall time.
		b.ReportMetric(float64(cpu.Microseconds())/float64(i), "cpu-µs/msg")
	}
}
