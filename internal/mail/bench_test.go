package mail

import (
	"os"
	"path/filepath"
	"testing"
)

func corpusFiles(b *testing.B) [][]byte {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		b.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.txt"))
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// BenchmarkParseCorpus measures parsing and decoding alone, per message.
func BenchmarkParseCorpus(b *testing.B) {
	msgs := corpusFiles(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ParseBytes(msgs[i%len(msgs)], Limits{})
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkExtractCorpus measures content extraction (HTML to text, links,
// addresses, numbers) on parsed messages.
func BenchmarkExtractCorpus(b *testing.B) {
	msgs := corpusFiles(b)
	parsed := make([]*Message, len(msgs))
	for i, m := range msgs {
		parsed[i] = ParseBytes(m, Limits{})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Extract(parsed[i%len(parsed)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
