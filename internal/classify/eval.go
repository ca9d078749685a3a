package classify

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

// Example is one labelled message of an evaluation.
type Example struct {
	Path string // As written in the index.
	Spam bool
	Raw  []byte
}

// ReadIndex reads a TREC-style index ("spam ./path" or "ham ./path" per
// line, paths relative to the index) and the messages it names.
func ReadIndex(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	defer f.Close()
	base := filepath.Dir(path)
	var out []Example
	sc := bufio.NewScanner(f)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		label, p, ok := strings.Cut(line, " ")
		label = strings.ToLower(label)
		if !ok || (label != "spam" && label != "ham") {
			return nil, fmt.Errorf("index %s line %d: want \"spam PATH\" or \"ham PATH\", got %q", path, ln, line)
		}
		p = strings.TrimSpace(p)
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(base, p)
		}
		raw, err := os.ReadFile(full)
		if err != nil {
			return nil, fmt.Errorf("index %s line %d: %w", path, ln, err)
		}
		out = append(out, Example{Path: p, Spam: label == "spam", Raw: raw})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("index %s names no messages", path)
	}
	return out, nil
}

// Protocols of the TREC spam track.
const (
	Online = "online" // Score each message in order, then learn its label.
	Batch  = "batch"  // Learn the first half, then score the second half.
)

// Report is the outcome of an evaluation.
type Report struct {
	Protocol string
	Metrics  Metrics
	Scored   int
	Elapsed  time.Duration // Parsing, feature extraction, scoring and learning; not disk reads.
}

// Evaluate runs a protocol over the examples with a fresh model, writing one
// TREC result line per scored message to results (if not nil). It returns
// the report and the trained model.
func Evaluate(ctx context.Context, ex []Example, protocol string, p Params, results io.Writer) (*Report, *Model, error) {
	m := New(p)
	var w *bufio.Writer
	if results != nil {
		w = bufio.NewWriter(results)
	}
	lim := mail.DefaultLimits()
	var js []Judged
	start := time.Now()
	record := func(e Example, r Result) error {
		js = append(js, Judged{Spam: e.Spam, Score: r.Score})
		if w != nil {
			class := "ham" // "unsure" is delivered: not spam
			if r.Class == "spam" {
				class = "spam"
			}
			if _, err := fmt.Fprintf(w, "%s judge=%s class=%s score=%.8f\n", e.Path, label(e.Spam), class, r.Score); err != nil {
				return fmt.Errorf("write results: %w", err)
			}
		}
		return nil
	}
	switch protocol {
	case Online:
		for i, e := range ex {
			if i%256 == 0 && ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			f := m.Extract(mail.ParseBytes(e.Raw, lim), false)
			if err := record(e, m.ScoreLearn(f, e.Spam)); err != nil {
				return nil, nil, err
			}
		}
	case Batch:
		half := len(ex) / 2
		for _, e := range ex[:half] {
			m.Learn(m.Extract(mail.ParseBytes(e.Raw, lim), false), e.Spam)
		}
		for i, e := range ex[half:] {
			if i%256 == 0 && ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			if err := record(e, m.Score(m.Extract(mail.ParseBytes(e.Raw, lim), false), false)); err != nil {
				return nil, nil, err
			}
		}
	default:
		return nil, nil, fmt.Errorf("unknown protocol %q (online or batch)", protocol)
	}
	el := time.Since(start)
	if w != nil {
		// The last line says the run finished: the metrics tools refuse a
		// file without it (a partial run).
		fmt.Fprintf(w, "# complete scored=%d failures=0 train_failures=0\n", len(js))
		if err := w.Flush(); err != nil {
			return nil, nil, fmt.Errorf("write results: %w", err)
		}
	}
	return &Report{Protocol: protocol, Metrics: Measure(js, m.p.SpamFrom), Scored: len(js), Elapsed: el}, m, nil
}

func label(spam bool) string {
	if spam {
		return "spam"
	}
	return "ham"
}

// Chronological returns the examples ordered by each message's Date (the
// first readable Received date when Date is unreadable), keeping the given
// order among equal or unknown dates, which sort first: the order mail
// arrives in, which the classifier must hold up in as well as in a shuffle.
func Chronological(ex []Example) []Example {
	type dated struct {
		e Example
		t time.Time
	}
	ds := make([]dated, len(ex))
	for i, e := range ex {
		m := mail.ParseBytes(e.Raw, mail.Limits{})
		t, err := mail.ParseDate(m.Header.Get("Date"))
		if err != nil {
			for _, r := range m.Header.Values("Received") {
				if i := strings.LastIndexByte(r, ';'); i >= 0 {
					if t, err = mail.ParseDate(r[i+1:]); err == nil {
						break
					}
				}
			}
		}
		ds[i] = dated{e, t}
	}
	sort.SliceStable(ds, func(a, b int) bool { return ds[a].t.Before(ds[b].t) })
	out := make([]Example, len(ds))
	for i, d := range ds {
		out[i] = d.e
	}
	return out
}
