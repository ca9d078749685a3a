package classify

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// BenchmarkOnlineCorpus runs the online protocol (parse, extract, score,
// learn) over the corpus index on one core; ns/op is per message.
func BenchmarkOnlineCorpus(b *testing.B) {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		b.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	ex, err := ReadIndex(filepath.Join(dir, "index"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if _, _, err := Evaluate(context.Background(), ex, Online, Params{}, nil); err != nil {
			b.Fatal(err)
		}
		n += len(ex)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msg/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/msg")
}

// BenchmarkLoadDefaultModel measures reading a default-size model file
// (8 MiB table and 1 MiB of digests) from disk, checksum included.
func BenchmarkLoadDefaultModel(b *testing.B) {
	path := filepath.Join(b.TempDir(), "model.acm")
	if err := New(Params{}).Save(path); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScoreExplained scores the corpus's second half with a model
// trained on its first, naming each score's reasons, as the filter does
// for every message; ns/op is per message (its parse left out).
func BenchmarkScoreExplained(b *testing.B) {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		b.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	ex, err := ReadIndex(filepath.Join(dir, "index"))
	if err != nil {
		b.Fatal(err)
	}
	m := New(Params{})
	for _, e := range ex[:len(ex)/2] {
		m.Learn(m.Extract(parse(e.Raw), false), e.Spam)
	}
	var test []*mail.Message
	for _, e := range ex[len(ex)/2:] {
		test = append(test, parse(e.Raw))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f := m.Extract(test[i%len(test)], true)
		m.Score(f, true)
		f.Release()
		i++
	}
}
