package mail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/cputime"
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
	cpu0 := cputime.Process()
	i := 0
	for b.Loop() {
		ParseBytes(msgs[i%len(msgs)], Limits{})
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	reportCPU(b, cpu0, i)
}

// reportCPU reports the process's CPU time per message since cpu0, which
// a machine shared with other work changes far less than the wall time.
func reportCPU(b *testing.B, cpu0 time.Duration, n int) {
	if cpu := cputime.Process() - cpu0; cpu > 0 && n > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	}
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
	cpu0 := cputime.Process()
	i := 0
	for b.Loop() {
		Extract(parsed[i%len(parsed)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
	reportCPU(b, cpu0, i)
}

// BenchmarkLower is the lower-cased text Extract makes of each message
// of the corpus (Content.Lower), and, for comparison, strings.ToLower of
// the joined text, which made it before.
func BenchmarkLower(b *testing.B) {
	msgs := corpusFiles(b)
	var texts [][2]string
	for _, m := range msgs {
		c := Extract(ParseBytes(m, Limits{}))
		texts = append(texts, [2]string{c.Text, c.HTMLText})
	}
	for _, impl := range []struct {
		name  string
		lower func(a, b string) string
	}{{"lowerJoined", lowerJoined}, {"strings.ToLower", func(a, b string) string { return strings.ToLower(a + "\n" + b) }}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cputime.Process()
			i := 0
			for b.Loop() {
				t := texts[i%len(texts)]
				impl.lower(t[0], t[1])
				i++
			}
			reportCPU(b, cpu0, i)
		})
	}
}
