package nodetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
)

// paddedMessage is report i of campaign c with a body of about 32 KiB, the
// size of an ordinary spam with its HTML part, so that reading and
// redacting the messages weighs in a round as it does at a desk.
func paddedMessage(c, i int) []byte {
	m := scaleMessage(c, i)
	line := campaignText(c) + "\r\n"
	return append(m, strings.Repeat(line, 32<<10/len(line))...)
}

// BenchmarkRound: at a node holding 2,000 reports of 32 KiB (20 campaigns
// of 100), what a federation round costs — with no peer at all; with a
// peer and nothing new since the last round; with one new report; and a
// collection from nothing (what the first round after a start does, and
// what every round did before the shared set was derived once per
// report). Time, bytes allocated and SQL statements per round.
//
//	go test -run X -bench Round -benchtime 5x -benchmem ./internal/federation/nodetest/
func BenchmarkRound(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := openCounted(ctx, filepath.Join(dir, "fr.db"))
	if err != nil {
		b.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr := newNodeOn(b, c, "fr", "FR", st)
	start := time.Now()
	fillWith(b, fr, 20, 100, paddedMessage)
	b.Logf("stored 2,000 reports of 32 KiB in %s", time.Since(start).Round(time.Millisecond))
	queries := func(b *testing.B, f func()) {
		before := sqlCounter.n.Load()
		for b.Loop() {
			f()
		}
		b.ReportMetric(float64(sqlCounter.n.Load()-before)/float64(b.N), "queries/op")
	}
	b.Run("no-peer", func(b *testing.B) {
		queries(b, func() {
			if _, _, err := fr.svc.Round(ctx); err != nil {
				b.Fatal(err)
			}
		})
	})
	us := newNode(b, c, "us", "US")
	fr.know(b, us, "US", fmt.Sprintf(scaleAgreement, "us"))
	us.know(b, fr, "FR", back)
	if _, rr, err := fr.svc.Round(ctx); err != nil || len(rr.Failed) > 0 || rr.Peers["us"].Items == 0 {
		b.Fatal(rr, err)
	}
	b.Run("nothing-new", func(b *testing.B) {
		queries(b, func() {
			_, rr, err := fr.svc.Round(ctx)
			if err != nil || len(rr.Failed) > 0 || rr.Peers["us"].Items != 0 {
				b.Fatal(rr, err)
			}
		})
	})
	n := 0
	b.Run("one-new-report", func(b *testing.B) {
		var q int64
		for b.Loop() {
			b.StopTimer()
			n++
			raw := paddedMessage(1000+n, n)
			if _, err := fr.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: raw, Reporter: fmt.Sprintf("late%d@example.fr", n), SubmittedBy: "smtp"}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			before := sqlCounter.n.Load()
			_, rr, err := fr.svc.Round(ctx)
			q += sqlCounter.n.Load() - before
			if err != nil || len(rr.Failed) > 0 || rr.Peers["us"].Items == 0 {
				b.Fatal(rr, err)
			}
		}
		b.ReportMetric(float64(q)/float64(b.N), "queries/op")
	})
	b.Run("collect-from-nothing", func(b *testing.B) {
		queries(b, func() {
			if _, err := federation.Collect(ctx, fr.store, "FR"); err != nil {
				b.Fatal(err)
			}
		})
	})
	os.RemoveAll(dir)
}
