package classify

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

func corpusExamples(t *testing.T) []Example {
	t.Helper()
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		t.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	ex, err := ReadIndex(filepath.Join(dir, "index"))
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestCorpusOnlineQuality guards the classifier's quality on the public
// corpus (bench/corpus.sh), online protocol, in the seed-732 order and in
// the chronological order: the runs are deterministic, so a change that
// makes either worse fails here. The bounds are the rivals measured side
// by side (bench/classify-vs-rivals.sh): in the seed order (1-ROCA)% at
// most two thirds of bogofilter's 0.144 and spam caught at 0.1% FPR better
// than spamprobe's 85.1; in the chronological order (1-ROCA)% below the
// best rival's (spamprobe 0.265, bogofilter 0.268).
//
// The seed order's bounds were tighter (half of bogofilter's (1-ROCA)%,
// lam% below its 0.95) while the model read the fields the corpus's
// collection wrote (mail-store annotations, delivery fields, the mbox line,
// dates): its spam and ham were gathered at different sites and times, so
// those fields told them apart here (0.071, lam% 0.80) and nowhere else. Left
// out (features.go, ignoredField), the seed order gives 0.094 and lam% 1.18
// (bogofilter, which reads them, 0.95): the bounds are now what the model
// gives without them, and lam% at the classifier's own 0.99 cut-off no
// longer beats bogofilter's. With the count learner's header witness
// (model.go) they are 0.083 and lam% 1.165, and 0.226 chronological;
// with the message-length scaling (lengthScale) 0.082 and lam% 1.179, and
// 0.216 chronological.
func TestCorpusOnlineQuality(t *testing.T) {
	ex := corpusExamples(t)
	rep, _, err := Evaluate(context.Background(), ex, Online, Params{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Metrics
	t.Logf("seed order: (1-ROCA)%% %.4f lam%% %.3f caught@0.1%% %.1f", m.ROCA1, m.LAM, m.CaughtAt01)
	if m.ROCA1 > 0.096 || m.LAM >= 1.2 || m.CaughtAt01 <= 85.1 {
		t.Errorf("seed order below the gates: (1-ROCA)%% %.4f (≤ 0.096), lam%% %.3f (< 1.2), caught %.1f%% (> 85.1)", m.ROCA1, m.LAM, m.CaughtAt01)
	}
	rep, _, err = Evaluate(context.Background(), Chronological(ex), Online, Params{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m = rep.Metrics
	t.Logf("chronological order: (1-ROCA)%% %.4f lam%% %.3f caught@0.1%% %.1f", m.ROCA1, m.LAM, m.CaughtAt01)
	if m.ROCA1 >= 0.265 {
		t.Errorf("chronological order: (1-ROCA)%% %.4f, not below spamprobe's 0.265", m.ROCA1)
	}
}

// TestCorpusBulkOrder learns the corpus the documented way — the spam
// folder, then the ham folder — and the other way round, and checks the
// two models are the same and decide every message alike.
func TestCorpusBulkOrder(t *testing.T) {
	ex := corpusExamples(t)
	lim := mail.DefaultLimits()
	build := func(spamFirst bool) *Model {
		m := New(Params{})
		at := time.Unix(1700000000, 0)
		for pass := 0; pass < 2; pass++ {
			wantSpam := (pass == 0) == spamFirst
			for _, e := range ex {
				if e.Spam != wantSpam {
					continue
				}
				msg := mail.ParseBytes(e.Raw, lim)
				m.LearnMessageAt(Digest(msg.Raw), m.Extract(msg, false), e.Spam, at)
			}
		}
		if err := m.Rebuild(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := build(true), build(false)
	var ba, bb bytes.Buffer
	a.WriteTo(&ba)
	b.WriteTo(&bb)
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Fatal("spam-then-ham and ham-then-spam built different model files")
	}
	differ := 0
	for _, e := range ex[:500] {
		msg := mail.ParseBytes(e.Raw, lim)
		ra, rb := a.Score(a.Extract(msg, false), false), b.Score(b.Extract(msg, false), false)
		if ra.Score != rb.Score || ra.Class != rb.Class {
			differ++
		}
	}
	if differ > 0 {
		t.Errorf("%d of 500 messages decided differently", differ)
	}
}
