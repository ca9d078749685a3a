package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: c.ReceivedAt, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: raw, SHA256: "h",
			Verdict: &analysis.Verdict{}, Signature: campaign.Sign("big invoice "+id, nil, "", "")}
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
			if !nested {
				nested = true
				if err := s.Commit(ctx, []*intake.Batch{mk("race-small", 6, []byte("x"))}, func(_ context.Context, _ campaign.Index, o *intake.Report) error {
					o.CampaignID, o.CampaignNew, o.Signature = "c-race", true, r.Signature
					return nil
				}); err != nil {
					return err
				}
			}
			cands, err := idx.ByBands(ctx, r.Signature.BandKeys())
			if err != nil {
				return err
			}
			r.CampaignID, r.CampaignNew = "c-race-big", true
			for _, c := range cands {
				if c.ID == "c-race" {
					r.CampaignID, r.CampaignNew = "c-race", false
				}
			}
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

// candidatesRareKeysFirst: a report links to a domain sixty campaigns
// share (more than the fifty candidates a report gets by link domain)
// and to one only its own campaign has: that campaign is among its
// candidates, whichever order the keys come in, and in a commit where
// other reports asked for the popular domain first.
func candidatesRareKeysFirst(t *testing.T, s Store) {
	ctx := context.Background()
	mk := func(id string, at int, sig campaign.Signature) *intake.Batch {
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: clock.Add(time.Duration(at)), Channel: intake.ChannelAPI, Raw: []byte("x"), SHA256: "h"}
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: c.ReceivedAt, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte("x"), SHA256: "h",
			Verdict: &analysis.Verdict{}, Signature: sig}
		return &intake.Batch{Complaint: c, Reports: []*intake.Report{r},
			Custody: []intake.CustodyEntry{{ReportID: id, At: c.ReceivedAt, Actor: "api", Action: "received"}}}
	}
	found := func(_ context.Context, _ campaign.Index, r *intake.Report) error {
		r.CampaignID, r.CampaignNew = "c-"+r.ID, true
		return nil
	}
	var seed []*intake.Batch
	for i := range 60 {
		seed = append(seed, mk(fmt.Sprintf("pop%02d", i), i, campaign.Sign(fmt.Sprintf("offer number %d of a popular host", i), []string{"popular.example"}, "", "")))
	}
	seed = append(seed, mk("own", 60, campaign.Sign("the rare campaign's own words", []string{"rare.example"}, "", "")))
	if err := s.Commit(ctx, seed, found); err != nil {
		t.Fatal(err)
	}
	var got [][]string
	err := s.Commit(ctx, []*intake.Batch{
		mk("first", 61, campaign.Sign("another text", []string{"popular.example"}, "", "")),
		mk("probe", 62, campaign.Sign("a new text", []string{"popular.example", "rare.example"}, "", "")),
	}, func(ctx context.Context, idx campaign.Index, r *intake.Report) error {
		cs, err := idx.ByDomains(ctx, r.Signature.Domains)
		if err != nil {
			return err
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		got = append(got, ids)
		return found(ctx, idx, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	// Fifty read, and the campaign the first report founded in the commit.
	if len(got) != 2 || len(got[1]) != 51 || !slices.Contains(got[1], "c-own") || !slices.Contains(got[1], "c-first") {
		t.Fatalf("candidates by link domain: %d of them, the rare domain's campaign among the report's: %v", len(got[1]), slices.Contains(got[1], "c-own"))
	}
}
