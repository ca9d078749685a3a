package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
