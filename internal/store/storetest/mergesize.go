package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
)

// mergeKeepsTheLarger: a bridge between a large campaign and an older
// small one merges the small one into the large one (attack finding F2:
// merges went to the oldest, so each anonymous bridge from an older
// singleton rewrote every report row of the large campaign under the
// commit lock, again for each older singleton). The large campaign keeps
// its id and its reports stay where they are; the merged ids answer with
// the survivor; the custody chain has one merge entry per bridge.
func mergeKeepsTheLarger(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 40
	for i, d := range []string{"old1", "old2"} {
		if err := s.Commit(ctx, []*intake.Batch{keyedBatch(d, i+1, intake.ChannelWeb, d+".test")}, foundOwn); err != nil {
			t.Fatal(err)
		}
	}
	var big []*intake.Batch
	for i := range n {
		big = append(big, keyedBatch(fmt.Sprintf("big%02d", i), 10+i, intake.ChannelWeb, "big.test"))
	}
	if err := s.Commit(ctx, big, foundOwn); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Campaign(ctx, "c-big00"); err != nil || c.Reports != n {
		t.Fatalf("the large campaign before the bridges: %+v %v", c, err)
	}
	for i, d := range []string{"old1", "old2"} {
		id := "bridge-" + d
		if err := s.Commit(ctx, []*intake.Batch{keyedBatch(id, 100+i, intake.ChannelWeb, d+".test", "big.test")}, foundOwn); err != nil {
			t.Fatal(err)
		}
		r, err := s.Report(ctx, id)
		if err != nil || r.CampaignID != "c-big00" {
			t.Fatalf("%s joined %s (%v), want c-big00, the larger", id, r.CampaignID, err)
		}
		var merged *intake.MergedError
		if _, err := s.Campaign(ctx, "c-"+d); !errors.As(err, &merged) || merged.Into != "c-big00" {
			t.Errorf("the older singleton c-%s after the bridge: %v, want merged into c-big00", d, err)
		}
	}
	for i := range n {
		r, err := s.Report(ctx, fmt.Sprintf("big%02d", i))
		if err != nil || r.CampaignID != "c-big00" {
			t.Fatalf("big%02d is in %s (%v): the large campaign was moved", i, r.CampaignID, err)
		}
	}
	c, err := s.Campaign(ctx, "c-big00")
	if err != nil || c.Reports != n+4 || len(c.Merged) != 2 {
		t.Fatalf("the survivor: %+v %v, want %d reports and 2 merges", c, err, n+4)
	}
	entries, problems, err := s.VerifyCustodyLog(ctx)
	if err != nil || len(problems) > 0 || entries != n+4+2 {
		t.Fatalf("custody log: %d entries (want %d: received and merged), %v, %v", entries, n+6, problems, err)
	}
}

// mergeSizesMeanwhile: a commit that chose which campaign survives a
// merge by sizes read on a snapshot, while another commit made the
// smaller one the larger, starts again and keeps the one now larger. The
// grouping callback of a report that founds a campaign runs between the
// read and the writes (see sealedMeanwhile): on PostgreSQL the other
// commit goes through there; a store whose commits hold their lock from
// the read on (SQLite) has nothing to check.
func mergeSizesMeanwhile(t *testing.T, s Store) {
	ctx := context.Background()
	if sc, ok := s.(interface{ SnapshotCommits() bool }); !ok || !sc.SnapshotCommits() {
		t.Skip("this store's commits read under their lock")
	}
	if err := s.Commit(ctx, []*intake.Batch{keyedBatch("a", 1, intake.ChannelWeb, "a.test")}, foundOwn); err != nil {
		t.Fatal(err)
	}
	var b []*intake.Batch
	for i := range 3 {
		b = append(b, keyedBatch(fmt.Sprintf("b%d", i), 10+i, intake.ChannelWeb, "b.test"))
	}
	if err := s.Commit(ctx, b, foundOwn); err != nil {
		t.Fatal(err)
	}
	calls := 0
	assign := func(ctx context.Context, ix campaign.Index, r *intake.Report) error {
		if calls++; calls == 1 {
			// c-a (1 report) grows to 6 while the bridge's commit, which
			// read 1 against c-b0's 3, is between its read and its writes.
			var more []*intake.Batch
			for i := range 5 {
				more = append(more, keyedBatch(fmt.Sprintf("a%d", i), 20+i, intake.ChannelWeb, "a.test"))
			}
			if err := s.Commit(ctx, more, foundOwn); err != nil {
				return err
			}
		}
		return foundOwn(ctx, ix, r)
	}
	if err := s.Commit(ctx, []*intake.Batch{keyedBatch("bridge", 50, intake.ChannelWeb, "a.test", "b.test"), keyedBatch("new", 51, intake.ChannelWeb, "n.test")}, assign); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "a4", "b0", "bridge"} {
		r, err := s.Report(ctx, id)
		if err != nil || r.CampaignID != "c-a" {
			t.Errorf("%s is in %s (%v), want c-a: 6 reports when the merge was written, against c-b0's 3", id, r.CampaignID, err)
		}
	}
	if c, err := s.Campaign(ctx, "c-a"); err != nil || c.Reports != 10 || len(c.Merged) != 1 {
		t.Errorf("the survivor: %+v %v", c, err)
	}
}

// BridgeMerges measures what a bridge costs (attack finding F2): s holds
// a campaign of n reports; each iteration commits an older singleton
// (not timed) and then a report sharing keys with both (timed). It
// reports the rows of reports moved per bridge (the merged-away
// campaign's size): merging into the oldest moved the large campaign
// each time, n and growing; merging into the larger moves the singleton.
// written, when not nil, is the bytes the store has written so far,
// reported per bridge.
func BridgeMerges(b *testing.B, s Store, n int, written func() int64) {
	ctx := context.Background()
	for start := 0; start < n; start += 500 {
		var big []*intake.Batch
		for i := start; i < min(n, start+500); i++ {
			big = append(big, keyedBatch(fmt.Sprintf("big%05d", i), 1_000_000+i, intake.ChannelWeb, "big.test"))
		}
		if err := s.Commit(ctx, big, foundOwn); err != nil {
			b.Fatal(err)
		}
	}
	moved := 0
	var bytes int64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		old := fmt.Sprintf("old%d", i)
		// Founded before the large campaign, each older than the last.
		if err := s.Commit(ctx, []*intake.Batch{keyedBatch(old, -1-i, intake.ChannelWeb, old+".test")}, foundOwn); err != nil {
			b.Fatal(err)
		}
		r, err := s.Report(ctx, "big00000")
		if err != nil {
			b.Fatal(err)
		}
		large := r.CampaignID
		c, err := s.Campaign(ctx, large)
		if err != nil {
			b.Fatal(err)
		}
		var w0 int64
		if written != nil {
			w0 = written()
		}
		b.StartTimer()
		if err := s.Commit(ctx, []*intake.Batch{keyedBatch("bridge-"+old, 2_000_000+i, intake.ChannelWeb, old+".test", "big.test")}, foundOwn); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if written != nil {
			bytes += written() - w0
		}
		if r, err = s.Report(ctx, "big00000"); err != nil {
			b.Fatal(err)
		}
		if r.CampaignID != large {
			moved += c.Reports // the large campaign went to the singleton
		} else {
			moved++
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(moved)/float64(b.N), "rows-moved/bridge")
	if written != nil {
		b.ReportMetric(float64(bytes)/1024/float64(b.N), "written-KiB/bridge")
	}
}
