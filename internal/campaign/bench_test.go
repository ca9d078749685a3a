package campaign

import (
	"context"
	"fmt"
	"testing"
)

func benchText(i int) string {
	return fmt.Sprintf("Dear friend, refinance your mortgage at the lowest rates of the year, offer %d. Our specialists review "+
		"every application within one business day. Do not miss this chance to lower your monthly payments, reference %d.", i, i*7)
}

func BenchmarkSign(b *testing.B) {
	text := benchText(1)
	for b.Loop() {
		Sign(text, []string{"example.biz"}, "offers.example.biz", "AS64500")
	}
}

// BenchmarkAssign places reports into an index that already holds 10,000
// campaigns of unrelated text and one matching campaign.
func BenchmarkAssign(b *testing.B) {
	ctx := context.Background()
	idx := NewMemIndex()
	for i := 0; i < 10000; i++ {
		t := fmt.Sprintf("unrelated message number %d about topic %d with words w%d x%d y%d z%d and more w%d", i, i%97, i, i*3, i*5, i*7, i*11)
		idx.Add(ctx, fmt.Sprint("r", i), Sign(t, []string{fmt.Sprintf("d%d.example", i)}, "", ""))
	}
	idx.Add(ctx, "target", Sign(benchText(0), []string{"example.biz"}, "", ""))
	s := Sign(benchText(1), []string{"example.biz"}, "", "")
	for b.Loop() {
		if id, _, err := Assign(ctx, idx, s); err != nil || id == "" {
			b.Fatalf("%q %v", id, err)
		}
	}
}

// BenchmarkAssignRealistic: a stream of distinct, realistic messages
// (realisticSpam: runs of different kinds, variants within each) assigned
// one after another into a growing index of 5,000 campaigns' worth of
// earlier traffic; each joins its run or founds a new campaign, as at the
// desk.
func BenchmarkAssignRealistic(b *testing.B) {
	ctx := context.Background()
	idx := NewMemIndex()
	n := 0
	add := func() {
		t, d, net := realisticSpam(n)
		s := Sign(t, d, "", net)
		id, _, err := Assign(ctx, idx, s)
		if err != nil {
			b.Fatal(err)
		}
		if id == "" {
			idx.Add(ctx, fmt.Sprint("c", n), s)
		}
		n++
	}
	for n < 5000 {
		add()
	}
	before := len(idx.camps)
	b.ResetTimer()
	start := n
	for b.Loop() {
		add()
	}
	b.ReportMetric(float64(len(idx.camps)-before)/float64(n-start), "new-campaigns/report")
}

// BenchmarkKeys: a realistic report's grouping keys (its signature
// already computed, as the desk has it).
func BenchmarkKeys(b *testing.B) {
	t, d, net := realisticSpam(1)
	s := Sign(t, d, "", net)
	for b.Loop() {
		s.Keys()
	}
}

// BenchmarkPartitionRealistic: distinct realistic messages (realisticSpam)
// placed one after another into a partition that already holds 5,000
// earlier reports' keys, as a commit places its reports once the owners
// of their keys are read: each joins its run (merging what it bridges)
// or founds a campaign. Signing is BenchmarkSign's; the store's reading
// and writing of keys is in the loadtest.
func BenchmarkPartitionRealistic(b *testing.B) {
	p := NewPartition()
	n, founded, merges := 0, 0, 0
	place := func() {
		t, d, net := realisticSpam(n)
		pl := p.Place(Sign(t, d, "", net).Keys())
		if pl.Campaign == "" {
			p.Found(fmt.Sprint("c", n), int64(n), pl.NewKeys)
			founded++
		}
		merges += len(pl.Merges)
		n++
	}
	for n < 5000 {
		place()
	}
	start, f0, m0 := n, founded, merges
	for b.Loop() {
		place()
	}
	b.ReportMetric(float64(founded-f0)/float64(n-start), "new-campaigns/report")
	b.ReportMetric(float64(merges-m0)/float64(n-start), "merges/report")
}
