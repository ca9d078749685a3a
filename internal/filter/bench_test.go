package filter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// BenchmarkBayesSymbol is the classifier's symbol of one decision with
// its five strongest reasons each way, as every scanned message gets.
func BenchmarkBayesSymbol(b *testing.B) {
	r := classify.Result{Ready: true, Score: 0.987654}
	for i := range 10 {
		r.Reasons = append(r.Reasons, classify.Reason{Feature: "subject:word" + string(rune('a'+i)), Weight: float64(5-i) * 0.731})
	}
	b.ReportAllocs()
	for b.Loop() {
		bayesSymbol(r)
	}
}

// BenchmarkLogDecision is the log line of one decision (eleven symbols)
// written by a text handler, as serve writes one for every message.
func BenchmarkLogDecision(b *testing.B) {
	s := &Service{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d := &Decision{Reference: "abcdefghij", Outcome: OutcomeSpam, Score: 7.31, Recipients: make([]RecipientDecision, 1), Elapsed: 3 * time.Millisecond}
	for i := range 11 {
		d.Symbols = append(d.Symbols, Symbol{Name: "SYMBOL_" + string(rune('A'+i))})
	}
	b.ReportAllocs()
	for b.Loop() {
		s.logDecision(d)
	}
}

// BenchmarkReloadPolicies is one reload (every sync_interval) of a
// store with a 10,000-entry block list and 1,000 recipient policies:
// entries are put in the compared form (ListKey) once and kept, not at
// every reload.
func BenchmarkReloadPolicies(b *testing.B) {
	s, _ := newService(b, Deps{}, Config{})
	ctx := context.Background()
	var block []string
	for i := range 10000 {
		if i%2 == 0 {
			block = append(block, fmt.Sprintf("user%d+x@domain%d.example", i, i))
		} else {
			block = append(block, fmt.Sprintf("domain%d.example", i))
		}
	}
	if _, err := s.PutPolicy(ctx, Policy{Kind: ScopeDefault, Block: block}, "bench"); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if _, err := s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: fmt.Sprintf("u%d@example.org", i), Allow: []string{"friend.example", "a@b.example"}}, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.ReloadPolicies(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
