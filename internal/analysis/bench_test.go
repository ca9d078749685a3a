package analysis

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// corpus loads the messages under $ACCORD_CORPUS (laid out by
// bench/corpus.sh); benchmarks skip without it.
func corpus(tb testing.TB) [][]byte {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		tb.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.txt"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no messages under %s", dir)
	}
	out := make([][]byte, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func newOffline(tb testing.TB) *Analyzer {
	lib, err := rules.Embedded()
	if err != nil {
		tb.Fatal(err)
	}
	g := geo.Embedded()
	if err := g.Err(); err != nil {
		tb.Fatal(err)
	}
	return &Analyzer{Resolver: resolve.Offline{}, Geo: g, Rules: lib}
}

// BenchmarkAnalyzeCorpus measures full offline analysis (parse, trace-back,
// authentication from headers, identity, opt-out, content, legal) of the
// corpus on one core: ns/op is per message.
func BenchmarkAnalyzeCorpus(b *testing.B) {
	msgs := corpus(b)
	an := newOffline(b)
	ctx := context.Background()
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		raw := msgs[i%len(msgs)]
		i++
		bytes += int64(len(raw))
		m := mail.ParseBytes(raw, mail.Limits{})
		if _, err := an.Analyze(ctx, Input{Source: "bench", Message: m}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	b.SetBytes(bytes / int64(b.N))
}
