package privacy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/cputime"
)

// named is a message that names its recipient on every line — "dear Marc
// Leroy" and a link carrying marc.leroy — of about size bytes: the fourth
// attack review's message that made redaction quadratic (a span per name,
// sorted by insertion: 12 MB cost 80 s of CPU). Anyone who can mail the
// complaints mailbox can send one.
func named(size int) []byte {
	var b strings.Builder
	b.WriteString("Received: from relay.example ([12.0.7.1]) by mx.fr.example with SMTP id c0 for <marc.leroy@citizen-fr.example>; Tue, 24 Nov 2026 10:00:01 +0000\r\n" +
		"From: Pharma <sales@big-pharma.example>\r\nTo: Marc Leroy <marc.leroy@citizen-fr.example>\r\nSubject: Marc, your order\r\n" +
		"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	words := []string{"discount", "buy", "quality", "shipping", "offer", "price", "guaranteed", "today", "free", "cheap"}
	for i := 0; b.Len() < size; i++ {
		for j := 0; j < 12; j++ {
			b.WriteString(words[(i*7+j*3)%len(words)] + " ")
		}
		fmt.Fprintf(&b, "dear Marc Leroy visit http://big-pharma.example/p/marc.leroy/x%d\r\n", i%10)
	}
	return []byte(b.String())
}

// BenchmarkRedactNamed is what a federation round does with one report's
// message (federation's evidenceOf): find the people, redact the message,
// and check the copy for leaks. It grows linearly with the size:
//
//	go test -run XXX -bench RedactNamed -benchtime 3x ./internal/privacy
func BenchmarkRedactNamed(b *testing.B) {
	for _, size := range []int{256 << 10, 1 << 20, 4 << 20} {
		raw := named(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			start := cputime.Process()
			for b.Loop() {
				p := Of(raw, "")
				red := p.Message(raw)
				if leaks := p.Leaks(red); len(leaks) > 0 {
					b.Fatalf("leaks %v", leaks)
				}
			}
			// The machine may be shared: the CPU the process spent says
			// what a message costs where the wall time would not.
			b.ReportMetric((cputime.Process()-start).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// TestMergeSpans: merge returns the spans sorted and joined wherever they
// overlap or touch, covering exactly the bytes the input covered (checked
// against a byte map, on random spans in the worst order).
func TestMergeSpans(t *testing.T) {
	seed := uint64(732)
	next := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	for round := 0; round < 200; round++ {
		var sp [][2]int
		covered := make([]bool, 400)
		for range next(60) + 1 {
			s := next(390)
			e := s + next(10)
			sp = append(sp, [2]int{s, e})
			for i := s; i < e; i++ {
				covered[i] = true
			}
		}
		// Worst order for an insertion sort: by start, descending.
		slices.SortFunc(sp, func(a, b [2]int) int { return b[0] - a[0] })
		got := merge(sp)
		in := make([]bool, 400)
		for i, s := range got {
			if i > 0 && s[0] <= got[i-1][1] {
				t.Fatalf("round %d: %v overlaps or touches %v", round, s, got[i-1])
			}
			for j := s[0]; j < s[1]; j++ {
				in[j] = true
			}
		}
		for i := range covered {
			if covered[i] != in[i] {
				t.Fatalf("round %d: byte %d covered %v, merged %v (%v)", round, i, covered[i], in[i], got)
			}
		}
	}
}
