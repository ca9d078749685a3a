package filter

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/accord-antispam/accord/internal/classify"
)

// BenchmarkCheck is one whole decision (parse, engine, classifier,
// policy) per message over the public corpus, with a model trained on it;
// ns/op is per message.
func BenchmarkCheck(b *testing.B) {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		b.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	ex, err := classify.ReadIndex(filepath.Join(dir, "index"))
	if err != nil {
		b.Fatal(err)
	}
	s, _ := newService(b, Deps{}, Config{})
	ctx := context.Background()
	for _, e := range ex[:len(ex)/2] {
		s.Learn(ctx, e.Raw, e.Spam, "bench")
	}
	s.SyncModel(ctx, true)
	test := ex[len(ex)/2:]
	env := Envelope{Rcpts: []string{"user@example.org"}}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.Check(ctx, test[i%len(test)].Raw, env); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "msg/s")
}
