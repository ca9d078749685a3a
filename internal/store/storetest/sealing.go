package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/intake"
)

// mergedCaseRefused: a campaign merged into another takes no case event,
// first or later, through the store itself (attack 11, F7): a
// *cases.MergedError naming the survivor, and no case stored under the
// merged id. The service says the same for reading it.
func mergedCaseRefused(t *testing.T, s Store) {
	ctx := context.Background()
	for i, d := range []string{"a", "b", "c"} {
		if err := s.Commit(ctx, []*intake.Batch{keyedBatch(d, i+1, intake.ChannelWeb, d+".test")}, foundOwn); err != nil {
			t.Fatal(err)
		}
	}
	svc := &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { return clock.Add(time.Minute) }}
	// b has a case (two events) before it is merged; c has none.
	if _, err := svc.Note(ctx, "c-b", 0, "first look", "user:ana"); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeCampaigns(ctx, "c-b", "c-a", "user:ana", "one run"); err != nil {
		t.Fatal(err)
	}
	if err := s.MergeCampaigns(ctx, "c-c", "c-a", "user:ana", "one run"); err != nil {
		t.Fatal(err)
	}
	at := clock.Add(time.Hour)
	for _, x := range []struct {
		id   string
		seen int
	}{{"c-c", 0}, {"c-b", 1}, {"c-b", 0}} {
		c := &cases.Case{CampaignID: x.id, Status: cases.Triage, Opened: at, Updated: at, Version: x.seen + 1}
		err := s.AppendCaseEvent(ctx, c, x.seen, cases.Event{N: x.seen + 1, At: at, Actor: "user:ana", Kind: cases.KindNote, Status: cases.Triage, Text: "late"})
		var merged *cases.MergedError
		if !errors.As(err, &merged) || merged.Campaign != x.id || merged.Into != "c-a" || !errors.Is(err, cases.ErrConflict) {
			t.Errorf("an event %d on merged %s: %v, want a MergedError into c-a", x.seen+1, x.id, err)
		}
		if c, err := s.Case(ctx, x.id); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("merged %s has a case of its own: %+v %v", x.id, c, err)
		}
	}
	var merged *cases.MergedError
	if _, err := svc.Get(ctx, "c-b"); !errors.As(err, &merged) || merged.Into != "c-a" {
		t.Errorf("the case of merged c-b: %v, want a MergedError into c-a", err)
	}
	if _, err := svc.Note(ctx, "c-c", 0, "late", "user:ana"); !errors.As(err, &merged) || merged.Into != "c-a" {
		t.Errorf("a note on merged c-c: %v, want a MergedError into c-a", err)
	}
	if c, err := svc.Get(ctx, "c-a"); err != nil || c.Version != 3 {
		t.Errorf("the survivor's case: %+v %v (want version 3: b's note and two merges)", c, err)
	}
}

// sealedMeanwhile: a campaign sealed while a commit is grouping (its
// case's first event lands between the commit's read and its writes) is
// not merged by that commit, and a case event racing a merge leaves no
// orphan case. The grouping callback of a report that founds a campaign
// runs between the two (commitIndex.place): on PostgreSQL, which reads
// the keys' owners on a snapshot (and, committing under the lock, does
// not make case events wait), the first event of the older campaign is
// stored there and the commit must start again and see it; on SQLite,
// whose commit holds the one write lock, an event started there waits
// for the commit, which merges, and is then refused (the campaign it was
// for is merged).
func sealedMeanwhile(t *testing.T, s Store) {
	ctx := context.Background()
	for i, d := range []string{"a", "b"} {
		if err := s.Commit(ctx, []*intake.Batch{keyedBatch(d, i+1, intake.ChannelWeb, d+".test")}, foundOwn); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := false
	if sc, ok := s.(interface{ SnapshotCommits() bool }); ok {
		snapshot = sc.SnapshotCommits()
	}
	at := clock.Add(time.Minute)
	event := func(id string) error {
		c := &cases.Case{CampaignID: id, Status: cases.Triage, Opened: at, Updated: at, Version: 1}
		return s.AppendCaseEvent(ctx, c, 0, cases.Event{N: 1, At: at, Actor: "user:ana", Kind: cases.KindStatus, Status: cases.Triage, Text: "worth a look"})
	}
	late := make(chan error, 1)
	calls := 0
	assign := func(ctx context.Context, ix campaign.Index, r *intake.Report) error {
		if calls++; calls == 1 {
			if snapshot {
				late <- event("c-a")
			} else {
				go func() { late <- event("c-b") }()
			}
		}
		return foundOwn(ctx, ix, r)
	}
	// The bridge links a and b; the newcomer founds a campaign after it.
	if err := s.Commit(ctx, []*intake.Batch{keyedBatch("bridge", 10, intake.ChannelWeb, "a.test", "b.test"), keyedBatch("new", 11, intake.ChannelWeb, "n.test")}, assign); err != nil {
		t.Fatal(err)
	}
	lateErr := <-late
	campaignOf := func(id string) string {
		t.Helper()
		r, err := s.Report(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.CampaignID
	}
	if snapshot {
		if lateErr != nil {
			t.Fatalf("the case's first event: %v", lateErr)
		}
		if got := campaignOf("b"); got != "c-b" {
			t.Fatalf("b is in %s: the commit merged campaign c-a, sealed after it read its keys", got)
		}
		if got := campaignOf("bridge"); got != "c-b" {
			t.Errorf("the bridge joined %s, want c-b (the campaign nobody worked on)", got)
		}
		if links, err := s.ProposedLinks(ctx, "c-a"); err != nil || len(links) != 1 || links[0].ReportID != "bridge" {
			t.Errorf("the link proposed to the sealed campaign: %+v %v", links, err)
		}
		return
	}
	var merged *cases.MergedError
	if !errors.As(lateErr, &merged) || merged.Into != "c-a" {
		t.Fatalf("a first event on c-b waiting for the merge: %v, want a MergedError into c-a", lateErr)
	}
	if got := campaignOf("b"); got != "c-a" {
		t.Errorf("b is in %s, want c-a (merged before any case)", got)
	}
	if c, err := s.Case(ctx, "c-b"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("an orphan case on merged c-b: %+v %v", c, err)
	}
}

// mergedHistoryInTime: a merged case's history is read in the order it
// happened (attack 11, F4). The absorbed case's events are renumbered
// after the survivor's, so by number an older event of it would follow
// a newer one of the survivor; the store returns them by time, then by
// number, for the API, the desk and the bundle's case.json alike.
func mergedHistoryInTime(t *testing.T, s Store) {
	ctx := context.Background()
	for i, d := range []string{"a", "b"} {
		if err := s.Commit(ctx, []*intake.Batch{keyedBatch(d, i+1, intake.ChannelWeb, d+".test")}, foundOwn); err != nil {
			t.Fatal(err)
		}
	}
	now := clock
	svc := &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { now = now.Add(time.Minute); return now }}
	if _, err := svc.Note(ctx, "c-b", 0, "b first", "user:ana"); err != nil { // +1m
		t.Fatal(err)
	}
	if _, err := svc.Note(ctx, "c-a", 0, "a second", "user:ana"); err != nil { // +2m
		t.Fatal(err)
	}
	if _, err := svc.SetStatus(ctx, "c-b", 1, cases.Closed, "b third: closed", "user:ana"); err != nil { // +3m
		t.Fatal(err)
	}
	c, err := svc.Merge(ctx, "c-b", "c-a", "one run", "user:ana")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range c.Events {
		got = append(got, fmt.Sprintf("%d %s", e.N, e.Text))
	}
	want := []string{"2 [campaign c-b] b first", "1 a second", "3 [campaign c-b] b third: closed", "4 campaign c-b merged into this one"}
	if len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || !strings.HasPrefix(got[3], want[3]) {
		t.Errorf("the merged history:\n%s\nwant (by time)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := 1; i < len(c.Events); i++ {
		if c.Events[i].At.Before(c.Events[i-1].At) {
			t.Errorf("event %d (%s) before event %d (%s)", c.Events[i].N, c.Events[i].At, c.Events[i-1].N, c.Events[i-1].At)
		}
	}
}

// erasedKeysForgotten: a report whose message goes — erased at the
// reporter's request, or by retention — takes with it the grouping keys
// only it gave its campaign, and its stored signature (attack 11, F9:
// the keys stayed, unsalted hashes of its text and link domains, and
// went on grouping later reports — an erased bridge kept bridging). The
// partition stands as it was: no report changes campaign; keys another
// report of the campaign still has stay; later reports group without
// the erased ones.
func erasedKeysForgotten(t *testing.T, s Store) {
	ctx := context.Background()
	commit := func(id string, at int, domains ...string) {
		t.Helper()
		if err := s.Commit(ctx, []*intake.Batch{keyedBatch(id, at, intake.ChannelWeb, domains...)}, foundOwn); err != nil {
			t.Fatal(err)
		}
	}
	campaignOf := func(id string) string {
		t.Helper()
		r, err := s.Report(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.CampaignID
	}
	commit("p1", 1, "p.test", "q.test")
	commit("p2", 50, "p.test")
	commit("a", 100, "a.test")
	commit("b", 101, "b.test")
	commit("a2", 102, "a.test")
	commit("bridge", 103, "a.test", "b.test", "x.test")
	before := map[string]string{}
	for _, id := range []string{"p1", "p2", "a", "b", "a2", "bridge"} {
		before[id] = campaignOf(id)
	}
	if before["p2"] != "c-p1" || before["b"] != "c-a" || before["bridge"] != "c-a" {
		t.Fatalf("the set-up: %v", before)
	}
	// Retention takes p1's message; the reporter erases the bridge.
	if n, err := s.PurgeEvidence(ctx, clock.Add(10*time.Second), clock.Add(time.Hour), "retention", 100); err != nil || n != 1 {
		t.Fatalf("purge evidence: %d %v", n, err)
	}
	if _, err := s.EraseComplaint(ctx, "cbridge", clock.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for id, was := range before {
		if now := campaignOf(id); now != was {
			t.Errorf("%s moved from %s to %s when reports were erased", id, was, now)
		}
	}
	for _, id := range []string{"p1", "bridge"} {
		if r, err := s.Report(ctx, id); err != nil || len(r.Signature.Domains) != 0 || r.Signature.Words != 0 {
			t.Errorf("the signature of erased %s is kept: %+v %v", id, r.Signature, err)
		}
	}
	// Later reports: keys only the erased reports had link nothing; keys
	// a remaining report has still do.
	commit("x-later", 200, "x.test")
	commit("q-later", 201, "q.test")
	commit("b-later", 202, "b.test")
	commit("p-later", 203, "p.test")
	for id, want := range map[string]string{"x-later": "c-x-later", "q-later": "c-q-later", "b-later": "c-a", "p-later": "c-p1"} {
		if got := campaignOf(id); got != want {
			t.Errorf("%s joined %s, want %s", id, got, want)
		}
	}
}
