// Package storetest is the conformance suite every store implementation
// runs: SQLite always, PostgreSQL when the test command has started one.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/fbl"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/lease"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/stats"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// Store is what the suite needs.
type Store interface {
	intake.Store
	access.Store
	access.Accounts
	access.Auditor
	federation.Store
	consent.Store
	label.Store
	federation.Source
	outbound.Store
	// VerifyCustodyLog replays the whole custody log.
	VerifyCustodyLog(ctx context.Context) (int64, []string, error)
	fbl.Store
	lease.Store
	filter.Store
	filter.CampaignSource
	cases.Store
	stats.Store
	intake.RetentionStore
	// TakeToken takes from a token bucket shared by every instance.
	TakeToken(ctx context.Context, key string, n int, period time.Duration, now time.Time) (bool, time.Duration, error)
}

// Open returns a fresh, empty store for one test, closed by the test.
type Open func(t *testing.T) Store

// Run runs the conformance suite.
func Run(t *testing.T, open Open) {
	t.Run("DeskRoundTrip", func(t *testing.T) { deskRoundTrip(t, open(t)) })
	t.Run("CommitIsAtomic", func(t *testing.T) { commitIsAtomic(t, open(t)) })
	t.Run("CommitRefusedByTheDatabase", func(t *testing.T) { commitRefusedByTheDatabase(t, open(t)) })
	t.Run("CommitLargeMessage", func(t *testing.T) { commitLargeMessage(t, open(t)) })
	t.Run("CampaignMerges", func(t *testing.T) { campaignMerges(t, open(t)) })
	t.Run("SealedCampaigns", func(t *testing.T) { sealedCampaigns(t, open(t)) })
	t.Run("MergedCaseRefused", func(t *testing.T) { mergedCaseRefused(t, open(t)) })
	t.Run("MergedHistoryInTime", func(t *testing.T) { mergedHistoryInTime(t, open(t)) })
	t.Run("ErasedKeysForgotten", func(t *testing.T) { erasedKeysForgotten(t, open(t)) })
	t.Run("SealedMeanwhile", func(t *testing.T) { sealedMeanwhile(t, open(t)) })
	t.Run("SealedMeanwhileLocked", func(t *testing.T) {
		s := open(t)
		lf, ok := s.(interface{ LockFirst() })
		if !ok {
			t.Skip("this store's commits always read under their lock")
		}
		lf.LockFirst()
		sealedMeanwhile(t, s)
	})
	t.Run("MergeKeepsTheLarger", func(t *testing.T) { mergeKeepsTheLarger(t, open(t)) })
	t.Run("MergeSizesMeanwhile", func(t *testing.T) { mergeSizesMeanwhile(t, open(t)) })
	t.Run("CampaignsAnyOrder", func(t *testing.T) { campaignsAnyOrder(t, open) })
	t.Run("CustodyChain", func(t *testing.T) { custodyChain(t, open(t)) })
	t.Run("Campaigns", func(t *testing.T) { campaigns(t, open(t)) })
	t.Run("Access", func(t *testing.T) { accessStore(t, open(t)) })
	t.Run("Peers", func(t *testing.T) { peers(t, open(t)) })
	t.Run("Links", func(t *testing.T) { links(t, open(t)) })
	t.Run("Requests", func(t *testing.T) { requests(t, open(t)) })
	t.Run("Withheld", func(t *testing.T) { withheldDomains(t, open(t)) })
	t.Run("ConsentFlow", func(t *testing.T) { consentFlow(t, open(t)) })
	t.Run("ConsentComplaints", func(t *testing.T) { consentComplaints(t, open(t)) })
	t.Run("ConsentConfirmLimits", func(t *testing.T) { consentConfirmLimits(t, open(t)) })
	t.Run("ConsentSentBounds", func(t *testing.T) { consentSentBounds(t, open(t)) })
	t.Run("ConsentDilution", func(t *testing.T) { consentDilution(t, open(t)) })
	t.Run("ConsentSmallSenders", func(t *testing.T) { consentSmallSenders(t, open(t)) })
	t.Run("ConsentAllListsException", func(t *testing.T) { consentAllListsException(t, open(t)) })
	t.Run("ConsentRespelling", func(t *testing.T) { consentRespelling(t, open(t)) })
	t.Run("ConsentPendingExpires", func(t *testing.T) { consentPendingExpires(t, open(t)) })
	t.Run("ConsentPendingSweep", func(t *testing.T) { consentPendingSweep(t, open(t)) })
	t.Run("ConsentSuspension", func(t *testing.T) { consentSuspension(t, open(t)) })
	t.Run("ConsentProofNotCut", func(t *testing.T) { consentProofNotCut(t, open(t)) })
	t.Run("ConsentNoOpWithdrawals", func(t *testing.T) { consentNoOpWithdrawals(t, open(t)) })
	t.Run("Labels", func(t *testing.T) { labels(t, open(t)) })
	t.Run("SharedReports", func(t *testing.T) { sharedReports(t, open(t)) })
	t.Run("LinkChanges", func(t *testing.T) { linkChanges(t, open(t)) })
	t.Run("ReceivedCustody", func(t *testing.T) { receivedCustody(t, open(t)) })
	t.Run("FeedPageReadsGoneOnce", func(t *testing.T) { feedPageReadsGoneOnce(t, open(t)) })
	t.Run("FeedRevoked", func(t *testing.T) { feedRevoked(t, open(t)) })
	t.Run("Accounts", func(t *testing.T) { accounts(t, open(t)) })
	t.Run("CommitManyAtOnce", func(t *testing.T) { commitManyAtOnce(t, open(t)) })
	t.Run("OutboundQueue", func(t *testing.T) { outboundQueue(t, open(t)) })
	t.Run("OutboundBounces", func(t *testing.T) { outboundBounces(t, open(t)) })
	t.Run("OutboundConfirmBounds", func(t *testing.T) { outboundConfirmBounds(t, open(t)) })
	t.Run("OutboundConfirmShares", func(t *testing.T) { outboundConfirmShares(t, open(t)) })
	t.Run("OutboundUnsentExpires", func(t *testing.T) { outboundUnsentExpires(t, open(t)) })
	t.Run("OutboundRetention", func(t *testing.T) { outboundRetention(t, open(t)) })
	t.Run("FeedbackLoop", func(t *testing.T) { feedbackLoop(t, open(t)) })
	t.Run("FeedbackBackdated", func(t *testing.T) { feedbackBackdated(t, open(t)) })
	t.Run("FeedbackForgedRecipient", func(t *testing.T) { feedbackForgedRecipient(t, open(t)) })
	t.Run("FeedbackTokenOfAnother", func(t *testing.T) { feedbackTokenOfAnother(t, open(t)) })
	t.Run("FeedbackCopiedToken", func(t *testing.T) { feedbackCopiedToken(t, open(t)) })
	t.Run("FeedbackTakeover", func(t *testing.T) { feedbackTakeover(t, open(t)) })
	t.Run("Leases", func(t *testing.T) { leases(t, open(t)) })
	t.Run("FilterPolicies", func(t *testing.T) { filterPolicies(t, open(t)) })
	t.Run("FilterQuarantine", func(t *testing.T) { filterQuarantine(t, open(t)) })
	t.Run("FilterAnnounce", func(t *testing.T) { filterAnnounce(t, open(t)) })
	t.Run("FilterDropBytes", func(t *testing.T) { filterDropBytes(t, open(t)) })
	t.Run("FilterConfirmedCampaigns", func(t *testing.T) { filterConfirmedCampaigns(t, open(t)) })
	t.Run("FilterLearned", func(t *testing.T) { filterLearned(t, open(t)) })
	t.Run("BrowseReports", func(t *testing.T) { browseReports(t, open(t)) })
	t.Run("BrowseCampaigns", func(t *testing.T) { browseCampaigns(t, open(t)) })
	t.Run("Cases", func(t *testing.T) { caseFlow(t, open(t)) })
	t.Run("StatsBreakdown", func(t *testing.T) { statsBreakdown(t, open(t)) })
	t.Run("Retention", func(t *testing.T) { retention(t, open(t)) })
	t.Run("MessagesOnce", func(t *testing.T) { messagesOnce(t, open(t)) })
	t.Run("PurgeKeepsHeldComplaint", func(t *testing.T) { purgeKeepsHeldComplaint(t, open(t)) })
	t.Run("NoSilentCaps", func(t *testing.T) { noSilentCaps(t, open(t)) })
	t.Run("SharedThrottle", func(t *testing.T) { sharedThrottle(t, open(t)) })
	t.Run("Idempotency", func(t *testing.T) { idempotency(t, open(t)) })
}

var clock = time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)

func desk(t *testing.T, s Store) *intake.Desk { t.Helper(); return deskResolving(t, s, nil) }

// deskResolving is desk with the analyzer's DNS answered by r (DKIM keys).
func deskResolving(t *testing.T, s Store, r resolve.Resolver) *intake.Desk {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var mu sync.Mutex
	d, err := intake.New(s, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded(), Resolver: r}, intake.Options{
		Secret: []byte("0123456789abcdef0123456789abcdef"),
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			n++
			return clock.Add(time.Duration(n) * time.Minute)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func spam(i int) []byte {
	return []byte(fmt.Sprintf("Received: from mx.example.net (mx.example.net [10.0.0.5]) by store.example.net with ESMTP id %d; Tue, 3 Nov 2026 10:00:02 +0000\r\n"+
		"Received: from bulk.example.biz (bulk.example.biz [198.51.100.%d]) by mx.example.net with SMTP id x%d; Tue, 3 Nov 2026 10:00:01 +0000\r\n"+
		"From: Deals <deals%d@offers.example.biz>\r\nTo: victim@example.net\r\nSubject: Refinance now, offer %d\r\n"+
		"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d@offers.example.biz>\r\n\r\n"+
		"Dear friend, refinance your mortgage at the lowest rates of the year. Our specialists review every application\r\n"+
		"within one business day. Do not miss this chance to lower your monthly payments. Visit http://loans.example.biz/r%d\r\n", i, i%200+1, i, i, i, i, i))
}

func deskRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	d := desk(t, s)
	complaint := append([]byte("From: reporter@example.net\r\nTo: abuse@node.example\r\nSubject: Fwd: spam\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nplease look\r\n"+
		"--b\r\nContent-Type: message/rfc822\r\n\r\n"), spam(1)...)
	complaint = append(complaint, "\r\n--b--\r\n"...)
	rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: complaint, Reporter: "Reporter@Example.net", SubmittedBy: "smtp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Reports) != 1 || rec.Reports[0].CampaignID == "" || rec.Reports[0].StatusToken == "" || rec.Reports[0].Form != intake.FormAttached {
		t.Fatalf("receipt %+v", rec)
	}
	r, err := s.Report(ctx, rec.Reports[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Raw) != string(spam(1)) {
		t.Errorf("stored message differs from the attached one:\n%q\n%q", r.Raw, spam(1))
	}
	if r.Verdict == nil || r.Verdict.Origin.IP != "198.51.100.2" || r.Verdict.Message.Subject != "Refinance now, offer 1" {
		t.Errorf("verdict not stored: %+v", r.Verdict)
	}
	if r.ReporterID == "" || r.ReporterID == "reporter@example.net" {
		t.Errorf("reporter id %q is not a pseudonym", r.ReporterID)
	}
	if a, err := s.ReporterAddress(ctx, r.ReporterID); err != nil || a != "reporter@example.net" {
		t.Errorf("reporter address %q %v", a, err)
	}
	c, err := s.Complaint(ctx, r.ComplaintID)
	if err != nil || string(c.Raw) != string(complaint) {
		t.Errorf("complaint not kept byte for byte: %v", err)
	}
	if _, err := d.StatusView(ctx, r.ID, "wrong"); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("wrong status token: %v", err)
	}
	if _, err := d.StatusView(ctx, r.ID, rec.Reports[0].StatusToken); err != nil {
		t.Errorf("status token: %v", err)
	}
	if _, err := s.Report(ctx, "nope"); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("unknown report: %v", err)
	}
	if n, _ := s.CountReports(ctx); n != 1 {
		t.Errorf("%d reports", n)
	}
	list, err := s.Reports(ctx, intake.ReportFilter{SubmittedBy: "smtp"})
	if err != nil || len(list) != 1 || list[0].OriginIP != "198.51.100.2" {
		t.Errorf("list %+v %v", list, err)
	}
}

func commitIsAtomic(t *testing.T, s Store) {
	ctx := context.Background()
	mk := func(id string) *intake.Batch {
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: clock, Channel: intake.ChannelAPI, Raw: []byte("x"), SHA256: "00"}
		r := &intake.Report{ID: "r" + id, ComplaintID: c.ID, ReceivedAt: clock, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte("x"),
			Verdict: &analysis.Verdict{}, Signature: campaign.Sign("a b c d", nil, "", "")}
		return &intake.Batch{Complaint: c, Reports: []*intake.Report{r}, Custody: []intake.CustodyEntry{{ReportID: r.ID, At: clock, Actor: "t", Action: "received"}}}
	}
	fail := errors.New("boom")
	n := 0
	err := s.Commit(ctx, []*intake.Batch{mk("1"), mk("2")}, func(ctx context.Context, idx campaign.Index, r *intake.Report) error {
		n++
		if n == 2 {
			return fail
		}
		r.CampaignID, r.CampaignNew = "camp", true
		return nil
	})
	if !errors.Is(err, fail) {
		t.Fatalf("commit error %v", err)
	}
	if c, _ := s.CountReports(ctx); c != 0 {
		t.Fatalf("%d reports survived a failed commit", c)
	}
	if _, err := s.Complaint(ctx, "c1"); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("complaint survived a failed commit: %v", err)
	}
	if es, _ := s.Custody(ctx, "r1"); len(es) != 0 {
		t.Errorf("custody survived a failed commit")
	}
}

func custodyChain(t *testing.T, s Store) {
	ctx := context.Background()
	d := desk(t, s)
	var ids []string
	for i := 0; i < 3; i++ {
		rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: spam(i), SubmittedBy: "token:t1"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.Reports[0].ID)
	}
	// Concurrent accesses keep the chain whole.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := d.View(ctx, ids[i%3], fmt.Sprintf("user:a%d", i)); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	total := 0
	for _, id := range ids {
		es, err := s.Custody(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) < 2 || es[0].Action != "received" {
			t.Fatalf("custody of %s: %+v", id, es)
		}
		if p := intake.VerifyChain(es); len(p) > 0 {
			t.Fatalf("chain problems: %v", p)
		}
		total += len(es)
	}
	if total != 13 {
		t.Errorf("%d custody entries, want 13", total)
	}
	// Tampering is visible.
	es, _ := s.Custody(ctx, ids[0])
	es[0].Actor = "someone else"
	if p := intake.VerifyChain(es); len(p) == 0 {
		t.Error("a changed entry still verifies")
	}
}

func campaigns(t *testing.T, s Store) {
	ctx := context.Background()
	d := desk(t, s)
	first := ""
	for i := 0; i < 6; i++ {
		rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelWeb, Raw: spam(i), SubmittedBy: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = rec.Reports[0].CampaignID
		} else if rec.Reports[0].CampaignID != first {
			t.Fatalf("variant %d went to campaign %s, not %s", i, rec.Reports[0].CampaignID, first)
		}
	}
	other := []byte("From: friend@example.org\r\nSubject: lunch\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\nShall we have lunch on Thursday at the usual place near the station?\r\n")
	rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelWeb, Raw: other, SubmittedBy: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Reports[0].CampaignID == first {
		t.Fatal("an unrelated message joined the campaign")
	}
	cs, err := s.Campaigns(ctx, intake.CampaignFilter{})
	if err != nil || len(cs) != 2 || cs[0].ID != first || cs[0].Reports != 6 {
		t.Fatalf("campaigns %+v %v", cs, err)
	}
	c, err := s.Campaign(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if c.Reports != 6 || len(c.PerDay) != 1 || c.PerDay[0].N != 6 || len(c.Samples) != 6 || len(c.Senders) == 0 || c.Senders[0].Value != "offers.example.biz" {
		t.Errorf("campaign detail %+v", c)
	}
	if len(c.Domains) == 0 || c.Domains[0].Value != "example.biz" {
		t.Errorf("campaign domains %+v", c.Domains)
	}
	if _, err := s.Campaign(ctx, "nope"); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("unknown campaign: %v", err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reports != 7 || st.Complaints != 7 || st.Campaigns != 2 || st.CampaignsMulti != 1 || st.LargestCampaign != 6 || st.ByChannel[intake.ChannelWeb] != 7 {
		t.Errorf("stats %+v", st)
	}
}

func accessStore(t *testing.T, s Store) {
	ctx := context.Background()
	plain, tok := access.NewToken(nil, access.Analyst, "ci", clock)
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByHash(ctx, access.Hash(plain))
	if err != nil || got.ID != tok.ID || got.Role != access.Analyst {
		t.Fatalf("token %+v %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, access.Hash("nope")); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	h, _ := access.HashPassword("correct horse battery")
	if err := s.CreateUser(ctx, access.User{Name: "ana", PasswordHash: h, Role: access.Admin, CreatedAt: clock}); err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByName(ctx, "ana")
	if err != nil || !access.CheckPassword(u.PasswordHash, "correct horse battery") || u.Role != access.Admin {
		t.Fatalf("user %+v %v", u, err)
	}
	se := access.Session{Hash: access.Hash("cookie"), User: "ana", CSRF: "csrf", ExpiresAt: clock.Add(time.Hour)}
	if err := s.CreateSession(ctx, se); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SessionByHash(ctx, se.Hash); err != nil || got.User != "ana" || !got.ExpiresAt.Equal(se.ExpiresAt) {
		t.Fatalf("session %+v %v", got, err)
	}
	if err := s.DeleteSession(ctx, se.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, se.Hash); !errors.Is(err, access.ErrNotFound) {
		t.Errorf("deleted session: %v", err)
	}
}
