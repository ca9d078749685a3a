package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/stats"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// settable is a clock the test moves.
type settable struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settable) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *settable) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func forwarded(from string, msg []byte) []byte {
	b := []byte("From: " + from + "\r\nTo: abuse@node.example\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplease look\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n")
	b = append(b, msg...)
	return append(b, "\r\n--b--\r\n"...)
}

func lastAction(t *testing.T, s Store, id string) intake.CustodyEntry {
	t.Helper()
	es, err := s.Custody(context.Background(), id)
	if err != nil || len(es) == 0 {
		t.Fatalf("custody of %s: %v", id, err)
	}
	if p := intake.VerifyChain(es); len(p) > 0 {
		t.Fatalf("custody of %s: %v", id, p)
	}
	return es[len(es)-1]
}

func retention(t *testing.T, s Store) {
	ctx := context.Background()
	d, clk := newDesk(t, s)
	submit := func(from string, msg []byte) intake.Receipted {
		rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: forwarded(from, msg), Reporter: from, SubmittedBy: "smtp"})
		if err != nil {
			t.Fatal(err)
		}
		return rec.Reports[0]
	}
	a := submit("alice@example.net", spam(1))
	b := submit("alice@example.net", spam(2))
	other := []byte("From: shop@pills.example\r\nTo: bob@example.net\r\nSubject: Cheap pills today\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\n" +
		"Buy cheap pills online at http://pills.example/buy with free delivery worldwide and no prescription needed today only.\r\n")
	clk.set(clock.Add(20 * 24 * time.Hour))
	c := submit("bob@example.net", other)
	ra, _ := s.Report(ctx, a.ID)
	rb, _ := s.Report(ctx, b.ID)

	// Erasure through a status link: only with the right token, only
	// what that complaint holds.
	if _, err := d.Erase(ctx, a.ID, b.StatusToken); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("erased report a with report b's token: %v", err)
	}
	if _, err := d.Erase(ctx, a.ID, ""); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("erased with no token: %v", err)
	}
	if _, err := d.Mine(ctx, a.ID, b.StatusToken); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("exported report a with report b's token: %v", err)
	}
	mine, err := d.Mine(ctx, a.ID, a.StatusToken)
	if err != nil || mine.Address != "alice@example.net" || !bytes.Equal(mine.Report.Raw, spam(1)) || len(mine.Complaint.Raw) == 0 ||
		lastAction(t, s, a.ID).Action != "status-exported" {
		t.Fatalf("what the desk holds about a: %+v %v", mine, err)
	}
	e, err := d.Erase(ctx, a.ID, a.StatusToken)
	if err != nil || e.Reports != 1 || e.Held != 0 {
		t.Fatalf("erase: %+v %v", e, err)
	}
	got, _ := s.Report(ctx, a.ID)
	gc, _ := s.Complaint(ctx, ra.ComplaintID)
	if len(got.Raw) != 0 || got.PurgedAt.IsZero() || got.ErasedAt.IsZero() || got.Subject() != "" || got.ReporterID != "" ||
		len(gc.Raw) != 0 || gc.PurgedAt.IsZero() || gc.ReporterID != "" {
		t.Errorf("after erasure: report %+v complaint %+v", got, gc)
	}
	if tomb := lastAction(t, s, a.ID); tomb.Action != "erased" || !strings.Contains(tomb.Detail, ra.SHA256) || tomb.Actor != "system" {
		t.Errorf("tombstone %+v", tomb)
	}
	// The campaign a founded no longer shows a's subject: it takes the
	// subject of its earliest report still holding its message.
	if ra.CampaignID == rb.CampaignID {
		if cd, err := s.Campaign(ctx, ra.CampaignID); err != nil || cd.Subject != rb.Subject() {
			t.Errorf("campaign subject after its founder's erasure: %q, want b's %q (%v)", cd.Subject, rb.Subject(), err)
		}
	} else if cd, err := s.Campaign(ctx, ra.CampaignID); err != nil || cd.Subject != "" {
		t.Errorf("campaign subject after its only report's erasure: %q (%v)", cd.Subject, err)
	}
	// Report b, from the same person in another complaint, is untouched.
	gb, _ := s.Report(ctx, b.ID)
	if !bytes.Equal(gb.Raw, spam(2)) || gb.ReporterID == "" || !gb.PurgedAt.IsZero() {
		t.Errorf("erasing a touched b: %+v", gb)
	}
	if addr, err := s.ReporterAddress(ctx, rb.ReporterID); err != nil || addr != "alice@example.net" {
		t.Errorf("alice's address went while b still names her: %q %v", addr, err)
	}
	// The statistics keep the erased report, without what named anyone.
	if tot, _ := s.Total(ctx, intake.Browse{SenderDomain: "offers.example.biz"}); tot.N != 2 {
		t.Errorf("statistics after erasure: %d", tot.N)
	}

	// Retention: 30 days of identity at day 40 takes b's complaint and
	// alice's address, not c's (day 20).
	clk.set(clock.Add(40 * 24 * time.Hour))
	p, err := d.Purge(ctx, intake.Retention{Identity: 30 * 24 * time.Hour})
	if err != nil || p.Identities != 1 {
		t.Fatalf("purge identities: %+v %v", p, err)
	}
	if _, err := s.ReporterAddress(ctx, rb.ReporterID); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("alice's address survived: %v", err)
	}
	gb, _ = s.Report(ctx, b.ID)
	if !bytes.Equal(gb.Raw, spam(2)) || lastAction(t, s, b.ID).Action != "purged-identity" {
		t.Errorf("identity purge took the evidence, or left no tombstone")
	}
	if rc, _ := s.Report(ctx, c.ID); rc.ReporterID == "" {
		t.Errorf("c's reporter unlinked before its time")
	}
	// Evidence held while the campaign's case is investigated.
	svc := &cases.Service{Store: s, Campaigns: s, Now: clk.now}
	if _, err := svc.SetStatus(ctx, rb.CampaignID, -1, cases.Investigating, "", "user:ana"); err != nil {
		t.Fatal(err)
	}
	ev := intake.Retention{Evidence: 35 * 24 * time.Hour}
	if p, err = d.Purge(ctx, ev); err != nil || p.Evidence != 0 {
		t.Errorf("evidence of a case under investigation purged: %+v %v", p, err)
	}
	if _, err := svc.SetStatus(ctx, rb.CampaignID, -1, cases.Closed, "Sender identified and fined", "user:ana"); err != nil {
		t.Fatal(err)
	}
	if p, err = d.Purge(ctx, ev); err != nil || p.Evidence != 1 {
		t.Fatalf("evidence purge: %+v %v", p, err)
	}
	gb, _ = s.Report(ctx, b.ID)
	if len(gb.Raw) != 0 || gb.PurgedAt.IsZero() || lastAction(t, s, b.ID).Action != "purged-evidence" {
		t.Errorf("after the evidence purge: %+v", gb)
	}
	if p, _ = d.Purge(ctx, ev); p.Evidence != 0 {
		t.Errorf("a second purge purged again: %+v", p)
	}
	// Statistics: the reports go, their tombstones stay.
	p, err = d.Purge(ctx, intake.Retention{Statistics: 35 * 24 * time.Hour})
	if err != nil || p.Reports != 2 {
		t.Fatalf("statistics purge: %+v %v", p, err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if _, err := s.Report(ctx, id); !errors.Is(err, intake.ErrNotFound) {
			t.Errorf("report %s survived its statistics retention", id)
		}
		if tomb := lastAction(t, s, id); tomb.Action != "deleted" {
			t.Errorf("last custody entry of %s: %+v", id, tomb)
		}
	}
	if _, err := s.Complaint(ctx, ra.ComplaintID); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("complaint of a deleted report survived")
	}
	if n, _ := s.CountReports(ctx); n != 1 {
		t.Errorf("%d reports left, want c", n)
	}
	if cs, _ := s.Breakdown(ctx, intake.Browse{}, stats.SenderDomain, 10); len(cs) != 1 || cs[0].Value != "pills.example" {
		t.Errorf("statistics after deletion: %+v", cs)
	}
}

// purgeKeepsHeldComplaint: the evidence retention of one report of a
// complaint does not take the complaint and its reporter while another
// report of it keeps its message (here held by a case), even with the
// identity kept; the complaint goes with its last message, and every
// report's log says so.
func purgeKeepsHeldComplaint(t *testing.T, s Store) {
	ctx := context.Background()
	d, clk := newDesk(t, s)
	pills := []byte("From: shop@pills.example\r\nTo: karl@example.net\r\nSubject: Cheap pills today\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\n" +
		"Buy cheap pills online at http://pills.example/buy with free delivery worldwide and no prescription needed today only.\r\n")
	rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: twoAttached("karl@example.net", spam(61), pills), Reporter: "karl@example.net", SubmittedBy: "smtp"})
	if err != nil || len(rec.Reports) != 2 {
		t.Fatalf("submit: %+v %v", rec, err)
	}
	loan, held := rec.Reports[0], rec.Reports[1]
	hr, _ := s.Report(ctx, held.ID)
	lr, _ := s.Report(ctx, loan.ID)
	if hr.CampaignID == lr.CampaignID {
		t.Fatal("the two messages share a campaign")
	}
	svc := &cases.Service{Store: s, Campaigns: s, Now: clk.now}
	if _, err := svc.SetStatus(ctx, hr.CampaignID, -1, cases.Triage, "", "user:ana"); err != nil {
		t.Fatal(err)
	}
	clk.set(clock.Add(800 * 24 * time.Hour))
	ev := intake.Retention{Evidence: 730 * 24 * time.Hour}
	if p, err := d.Purge(ctx, ev); err != nil || p.Evidence != 1 {
		t.Fatalf("evidence purge: %+v %v", p, err)
	}
	c, _ := s.Complaint(ctx, hr.ComplaintID)
	if len(c.Raw) == 0 || !c.PurgedAt.IsZero() {
		t.Errorf("the complaint went with its first purged report, while a case holds the other")
	}
	if addr, err := s.ReporterAddress(ctx, hr.ReporterID); err != nil || addr != "karl@example.net" {
		t.Errorf("the reporter went while a held report names them: %q %v", addr, err)
	}
	removedFrom(t, d, held.ID)
	removedFrom(t, d, loan.ID, "message.eml")
	if _, err := svc.SetStatus(ctx, hr.CampaignID, -1, cases.Closed, "done", "user:ana"); err != nil {
		t.Fatal(err)
	}
	if p, err := d.Purge(ctx, ev); err != nil || p.Evidence != 1 {
		t.Fatalf("evidence purge after the case closed: %+v %v", p, err)
	}
	if c, _ = s.Complaint(ctx, hr.ComplaintID); len(c.Raw) != 0 || c.PurgedAt.IsZero() {
		t.Errorf("the complaint outlived its last message")
	}
	if _, err := s.ReporterAddress(ctx, hr.ReporterID); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("the reporter outlived their last complaint: %v", err)
	}
	removedFrom(t, d, held.ID, "message.eml", "complaint.eml")
	removedFrom(t, d, loan.ID, "message.eml", "complaint.eml")
}

// newDesk is a desk on s with the embedded rules and a clock the test
// sets, closed when the test ends.
func newDesk(t *testing.T, s Store) (*intake.Desk, *settable) {
	t.Helper()
	lib, _ := rules.Embedded()
	clk := &settable{t: clock}
	d, err := intake.New(s, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef"), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d, clk
}
