package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/accord-antispam/accord/internal/cases"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
)

// commitManyAtOnce: a commit larger than one statement's parameter limit
// (SQLite's multi-row inserts are cut in pieces; PostgreSQL's rows go as
// one array per column) stores everything, and the custody log stays one
// chain across the pieces and the commits after.
func commitManyAtOnce(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 1300 // × 25 report columns > 30,000 parameters
	var batches []*intake.Batch
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("r%06d", i)
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: clock, Channel: intake.ChannelAPI, Raw: []byte("x"), SHA256: "h"}
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: clock, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte("m"), SHA256: "h"}
		batches = append(batches, &intake.Batch{Complaint: c, Reports: []*intake.Report{r},
			Reporter: &intake.Reporter{ID: fmt.Sprintf("p%d", i%7), Address: fmt.Sprintf("a%d@example.net", i%7)},
			Custody:  []intake.CustodyEntry{{ReportID: id, At: clock.Add(time.Duration(i)), Actor: "api", Action: "received"}}})
	}
	assign := func(_ context.Context, _ campaign.Index, r *intake.Report) error {
		r.CampaignID, r.CampaignNew = "c-"+r.ID, true
		return nil
	}
	if err := s.Commit(ctx, batches, assign); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.CountReports(ctx); got != n {
		t.Fatalf("%d reports stored, want %d", got, n)
	}
	if _, err := s.AppendCustody(ctx, intake.CustodyEntry{ReportID: "r000001", At: clock, Actor: "ana", Action: "viewed"}); err != nil {
		t.Fatal(err)
	}
	entries, problems, err := s.VerifyCustodyLog(ctx)
	if err != nil || len(problems) > 0 || entries != n+1 {
		t.Fatalf("custody log: %d entries, %v, %v", entries, problems, err)
	}
	es, _ := s.Custody(ctx, "r001299")
	if len(es) != 1 || es[0].Seq != n {
		t.Fatalf("last report's custody: %+v", es)
	}
}

// commitRefusedByTheDatabase: a commit the database itself refuses (a
// report id already stored: the insert fails after the campaign
// candidates were read and the head locked) stores nothing of any of its
// complaints, moves no head, and leaves the store usable: the commits
// after it succeed and the custody log is one chain.
func commitRefusedByTheDatabase(t *testing.T, s Store) {
	ctx := context.Background()
	mk := func(id string, at int) *intake.Batch {
		c := &intake.Complaint{ID: fmt.Sprintf("c%s-%d", id, at), ReceivedAt: clock, Channel: intake.ChannelAPI, Raw: []byte("x"), SHA256: "h"}
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: clock, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte("m"), SHA256: "h"}
		return &intake.Batch{Complaint: c, Reports: []*intake.Report{r},
			Custody: []intake.CustodyEntry{{ReportID: id, At: clock.Add(time.Duration(at)), Actor: "api", Action: "received"}}}
	}
	assign := func(_ context.Context, _ campaign.Index, r *intake.Report) error {
		r.CampaignID, r.CampaignNew = "c-"+r.ID, true
		return nil
	}
	if err := s.Commit(ctx, []*intake.Batch{mk("dupe", 0)}, assign); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []*intake.Batch{mk("fresh", 1), mk("dupe", 2)}, assign); err == nil {
		t.Fatal("a commit repeating a stored report id succeeded")
	}
	if n, _ := s.CountReports(ctx); n != 1 {
		t.Fatalf("%d reports after the refused commit, want 1", n)
	}
	if _, err := s.Complaint(ctx, "cfresh-1"); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("a complaint of the refused commit was stored: %v", err)
	}
	// Every connection of the pool is used again after the refusal.
	for i := 0; i < 12; i++ {
		if err := s.Commit(ctx, []*intake.Batch{mk(fmt.Sprintf("after%d", i), 10+i)}, assign); err != nil {
			t.Fatalf("commit %d after the refused one: %v", i, err)
		}
	}
	entries, problems, err := s.VerifyCustodyLog(ctx)
	if err != nil || len(problems) > 0 || entries != 13 {
		t.Fatalf("custody log: %d entries (want 13), %v, %v", entries, problems, err)
	}
}

// commitLargeMessage: a group holding a message of several megabytes
// (every byte value, NULs and invalid UTF-8 included) between two small
// ones is stored byte for byte, the complaint as the report; a refused
// commit holding one stores nothing of it and leaves the store usable;
// and so again where commits take the custody head first (PostgreSQL
// streams such messages with COPY, in both paths).
func commitLargeMessage(t *testing.T, s Store) {
	ctx := context.Background()
	big := make([]byte, 3<<20+7)
	for i := range big {
		big[i] = byte(i * 7)
	}
	mk := func(id string, at int, raw []byte) *intake.Batch {
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: clock.Add(time.Duration(at)), Channel: intake.ChannelAPI, Raw: raw, SHA256: "h"}
		text := "big invoice " + lettersOf(id)
		if strings.HasPrefix(id, "race") {
			text = "big invoice race" // one text for both: they share keys
		}
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: c.ReceivedAt, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: raw, SHA256: "h",
			Verdict: &analysis.Verdict{}, Signature: campaign.Sign(text, nil, "", "")}
		return &intake.Batch{Complaint: c, Reports: []*intake.Report{r},
			Custody: []intake.CustodyEntry{{ReportID: id, At: c.ReceivedAt, Actor: "api", Action: "received"}}}
	}
	assign := func(_ context.Context, _ campaign.Index, r *intake.Report) error {
		r.CampaignID, r.CampaignNew = "c-"+r.ID, true
		return nil
	}
	stored := func(id string, want []byte) {
		t.Helper()
		r, err := s.Report(ctx, id)
		if err != nil {
			t.Fatalf("report %s: %v", id, err)
		}
		c, err := s.Complaint(ctx, r.ComplaintID)
		if err != nil {
			t.Fatalf("complaint of %s: %v", id, err)
		}
		if !bytes.Equal(r.Raw, want) || !bytes.Equal(c.Raw, want) {
			t.Fatalf("report %s: %d and %d bytes stored, want %d, equal %v %v", id, len(r.Raw), len(c.Raw), len(want), bytes.Equal(r.Raw, want), bytes.Equal(c.Raw, want))
		}
		if r.CampaignID != "c-"+id {
			t.Errorf("report %s in campaign %q", id, r.CampaignID)
		}
	}
	round := func(prefix string, at int) {
		t.Helper()
		small := []byte("From: a@example.com\r\nSubject: small " + prefix + "\r\n\r\nhello\r\n")
		if err := s.Commit(ctx, []*intake.Batch{mk(prefix+"s1", at, small), mk(prefix+"big", at+1, big), mk(prefix+"s2", at+2, small)}, assign); err != nil {
			t.Fatal(err)
		}
		stored(prefix+"s1", small)
		stored(prefix+"big", big)
		stored(prefix+"s2", small)
		// Refused by the database (a report id already stored): nothing
		// of the group, the large message included.
		if err := s.Commit(ctx, []*intake.Batch{mk(prefix+"big2", at+3, big), mk(prefix+"s1", at+4, small)}, assign); err == nil {
			t.Fatal("a commit repeating a stored report id succeeded")
		}
		if _, err := s.Report(ctx, prefix+"big2"); !errors.Is(err, intake.ErrNotFound) {
			t.Errorf("the large report of a refused commit was stored: %v", err)
		}
		if _, err := s.Complaint(ctx, "c"+prefix+"big2"); !errors.Is(err, intake.ErrNotFound) {
			t.Errorf("the large complaint of a refused commit was stored: %v", err)
		}
	}
	round("a", 0)
	if sc, ok := s.(interface{ SnapshotCommits() bool }); ok && sc.SnapshotCommits() {
		// PostgreSQL assigns campaigns on a snapshot: a campaign founded
		// by another commit meanwhile, sharing the large report's keys,
		// makes it start again (its transaction, opened for COPY, rolled
		// back first); it then joins that campaign.
		nested := false
		err := s.Commit(ctx, []*intake.Batch{mk("race-big", 5, big)}, func(ctx context.Context, idx campaign.Index, r *intake.Report) error {
			// Called only when the report founds a campaign: the first
			// time, another commit founds one with its keys meanwhile.
			if !nested {
				nested = true
				if err := s.Commit(ctx, []*intake.Batch{mk("race-small", 6, []byte("x"))}, func(_ context.Context, _ campaign.Index, o *intake.Report) error {
					o.CampaignID, o.CampaignNew = "c-race", true
					return nil
				}); err != nil {
					return err
				}
			}
			r.CampaignID, r.CampaignNew = "c-race-big", true
			return nil
		})
		if err != nil {
			t.Fatalf("a large commit meeting a campaign founded since its snapshot: %v", err)
		}
		if r, err := s.Report(ctx, "race-big"); err != nil || r.CampaignID != "c-race" || !bytes.Equal(r.Raw, big) {
			t.Fatalf("the large report after starting again: %v", err)
		}
	}
	if lf, ok := s.(interface{ LockFirst() }); ok {
		lf.LockFirst()
		round("b", 10)
	}
	// Every connection of the pool is used again after the refusals.
	for i := range 10 {
		if err := s.Commit(ctx, []*intake.Batch{mk(fmt.Sprintf("after%d", i), 20+i, big)}, assign); err != nil {
			t.Fatalf("commit %d after the refused ones: %v", i, err)
		}
	}
	entries, problems, err := s.VerifyCustodyLog(ctx)
	if err != nil || len(problems) > 0 {
		t.Fatalf("custody log: %d entries, %v, %v", entries, problems, err)
	}
}

// campaignMerges: sixty campaigns, two of them worked as cases, and
// then a report whose keys all sixty own (no candidate limit: every
// owner is read): the 58 nobody worked on become one campaign, the
// oldest of them, and the two worked ones are linked to it, not merged;
// an analyst then merges the three into the oldest: every merge recorded
// with its reason and in the custody log, each merged id still answering
// with where it went, both cases' events kept in one case.
func campaignMerges(t *testing.T, s Store) {
	ctx := context.Background()
	mk := func(id string, at int, sig campaign.Signature) *intake.Batch {
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: clock.Add(time.Duration(at) * time.Second), Channel: intake.ChannelAPI, Raw: []byte("x"), SHA256: "h"}
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: c.ReceivedAt, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte("x"), SHA256: "h",
			Verdict: &analysis.Verdict{}, Signature: sig}
		return &intake.Batch{Complaint: c, Reports: []*intake.Report{r},
			Custody: []intake.CustodyEntry{{ReportID: id, At: c.ReceivedAt, Actor: "api", Action: "received"}}}
	}
	found := foundOwn
	n := 0
	short := func(domains ...string) campaign.Signature {
		n++
		sig := campaign.Signature{Words: 2, Domains: domains}
		for i := range sig.MinHash {
			sig.MinHash[i] = uint32(n*100 + i) // no text key in common with another's
		}
		return sig
	}
	var seed []*intake.Batch
	var all []string
	for i := range 60 {
		d := fmt.Sprintf("d%02d.example", i)
		all = append(all, d)
		seed = append(seed, mk(fmt.Sprintf("r%02d", i), i, short(d)))
	}
	if err := s.Commit(ctx, seed[:30], found); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, seed[30:], found); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stats(ctx); err != nil || st.Campaigns != 60 {
		t.Fatalf("%d campaigns before the merge, want 60 (%v)", st.Campaigns, err)
	}
	svc := &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { return clock.Add(time.Hour) }}
	if _, err := svc.SetStatus(ctx, "c-r00", 0, cases.Closed, "nothing to do", "user:ana"); err != nil {
		t.Fatal(err)
	}
	c7, err := svc.Assign(ctx, "c-r07", 0, "bob", "user:ana")
	if err == nil {
		c7, err = svc.Note(ctx, "c-r07", c7.Version, "the host answered", "user:bob")
	}
	if err == nil {
		_, err = svc.SetStatus(ctx, "c-r07", c7.Version, cases.Investigating, "worth it", "user:bob")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []*intake.Batch{mk("probe", 100, short(all...))}, found); err != nil {
		t.Fatal(err)
	}
	if camp, err := s.Campaign(ctx, "c-r01"); err != nil || camp.Reports != 59 || len(camp.Merged) != 57 {
		t.Fatalf("the oldest campaign nobody worked on after the bridge: %+v %v", camp, err)
	}
	for _, id := range []string{"c-r00", "c-r07"} {
		links, err := s.ProposedLinks(ctx, id)
		if camp, cerr := s.Campaign(ctx, id); cerr != nil || camp.Reports != 1 || err != nil || len(links) != 1 || links[0].Other != "c-r01" || links[0].ReportID != "probe" {
			t.Fatalf("worked campaign %s after the bridge: %+v %v; links %+v %v", id, camp, cerr, links, err)
		}
	}
	for _, from := range []string{"c-r07", "c-r01"} {
		if _, err := svc.Merge(ctx, from, "c-r00", "checked: one run", "user:ana"); err != nil {
			t.Fatal(err)
		}
	}
	camp, err := s.Campaign(ctx, "c-r00")
	if err != nil || camp.Reports != 61 || len(camp.Merged) != 59 {
		t.Fatalf("the oldest campaign after the merge: %+v %v", camp, err)
	}
	if st, err := s.Stats(ctx); err != nil || st.Campaigns != 1 || st.LargestCampaign != 61 {
		t.Errorf("stats after the merge: %+v %v", st, err)
	}
	var merged *intake.MergedError
	if _, err := s.Campaign(ctx, "c-r42"); !errors.As(err, &merged) || merged.Into != "c-r00" || !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("a merged campaign's id: %v", err)
	}
	m := camp.Merged[0]
	if m.Report != "probe" || !strings.Contains(m.Reason, "link domain") {
		t.Errorf("merge record %+v", m)
	}
	if list, err := s.Campaigns(ctx, intake.CampaignFilter{}); err != nil || len(list) != 1 || list[0].Status != string(cases.Investigating) || list[0].Assignee != "bob" {
		t.Errorf("campaigns after the merge: %+v %v", list, err)
	}
	// One case: the closed one's decision, then the open one's
	// assignment, note and status, then the merge; open (investigating,
	// the one further along), bob's.
	c, err := svc.Get(ctx, "c-r00")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != cases.Investigating || c.Assignee != "bob" || !c.Closed.IsZero() || c.Version != len(c.Events) || len(c.Events) != 1+3+1+1 {
		t.Fatalf("merged case: %+v", c)
	}
	for i, e := range c.Events {
		if e.N != i+1 {
			t.Errorf("event %d numbered %d", i, e.N)
		}
	}
	if c.Events[2].Kind != cases.KindNote || c.Events[2].Text != "[campaign c-r07] the host answered" || c.Events[4].Kind != cases.KindMerge || c.Events[4].Ref != "c-r07" ||
		c.Events[4].Actor != "user:ana" || c.Events[5].Kind != cases.KindMerge || c.Events[5].Ref != "c-r01" {
		t.Errorf("merged case events: %+v", c.Events)
	}
	if _, err := svc.Note(ctx, "c-r00", c.Version, "after the merge", "user:bob"); err != nil {
		t.Errorf("the merged case cannot be worked on: %v", err)
	}
	if _, err := s.Case(ctx, "c-r07"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("the absorbed case is still there: %v", err)
	}
	if _, err := svc.Get(ctx, "c-r07"); !errors.As(err, new(*cases.MergedError)) {
		t.Errorf("the absorbed case does not say where it went: %v", err)
	}
	log, err := s.Custody(ctx, "probe")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, e := range log {
		if e.Action == "campaign-merged" {
			count++
		}
	}
	if count != 58 { // 57 at intake, c-r01 into c-r00 by the analyst (c-r07's is its founder's)
		t.Errorf("%d merges in the probe's custody log, want 58", count)
	}
	if entries, problems, err := s.VerifyCustodyLog(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("custody log: %d entries, %v, %v", entries, problems, err)
	}
	// A later report of any of the sixty joins the one campaign.
	if err := s.Commit(ctx, []*intake.Batch{mk("late", 200, short("d33.example"))}, found); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Report(ctx, "late"); err != nil || r.CampaignID != "c-r00" {
		t.Errorf("a later report: %+v %v", r, err)
	}
}

// lettersOf spells an id's digits as letters: the grouping's text drops
// numbers, and "as1" and "as2" would be one text.
func lettersOf(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'a' + (r - '0')
		}
		return r
	}, id)
}
