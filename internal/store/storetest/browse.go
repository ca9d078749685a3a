package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// made is one hand-made report for the browsing tests.
type made struct {
	id, campaign, country, from, link, finding, subject string
	asn                                                 uint32
	channel                                             intake.Channel
	form                                                string
	at                                                  time.Time
}

// commitMade stores reports with the verdict fields the filters read,
// each in its named campaign.
func commitMade(t *testing.T, s Store, ms []made) {
	t.Helper()
	ctx := context.Background()
	founded := map[string]bool{}
	for _, m := range ms {
		c := &intake.Complaint{ID: "c-" + m.id, ReceivedAt: m.at, Channel: m.channel, Raw: []byte("x"), SHA256: "00"}
		v := &analysis.Verdict{}
		v.Message.Subject = m.subject
		v.Origin.Country = m.country
		if m.asn != 0 {
			v.Origin.Network = &geo.Network{ASN: m.asn, Name: fmt.Sprintf("NET-%d", m.asn)}
		}
		v.Sender.Domains.From = m.from
		if m.link != "" {
			v.Content.Domains = []string{m.link}
		}
		if m.finding != "" {
			v.Reasons = []analysis.Reason{{Code: analysis.ReasonCode(m.finding)}}
		}
		r := &intake.Report{ID: m.id, ComplaintID: c.ID, ReceivedAt: m.at, Channel: m.channel, Form: m.form, Raw: []byte("x"),
			// No grouping keys: the campaign is the one the fixture names.
			Verdict: v, Signature: campaign.Signature{}, StatusHash: statusHash(m.id)}
		b := &intake.Batch{Complaint: c, Reports: []*intake.Report{r}, Custody: []intake.CustodyEntry{{ReportID: r.ID, At: m.at, Actor: "t", Action: "received"}}}
		camp := m.campaign
		err := s.Commit(ctx, []*intake.Batch{b}, func(ctx context.Context, idx campaign.Index, r *intake.Report) error {
			r.CampaignID, r.CampaignNew = camp, !founded[camp]
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		founded[camp] = true
	}
}

// statusHash is a made report's status hash: hex SHA-256 of its id.
func statusHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func ids(rs []intake.ReportSummary) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func browseFixture() []made {
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	return []made{
		{"r01", "ca", "FR", "offers.example.biz", "loans.example", "identity-disguised", "Refinance NOW 50% off", 64500, intake.ChannelSMTP, intake.FormAttached, day(1, 9)},
		{"r02", "ca", "FR", "offers.example.biz", "loans.example", "no-opt-out", "refinance now", 64500, intake.ChannelWeb, intake.FormRaw, day(1, 10)},
		{"r03", "ca", "DE", "offers.example.biz", "loans.example", "", "Refinance today", 64501, intake.ChannelAPI, intake.FormARF, day(2, 9)},
		{"r04", "cb", "US", "pills.example", "pills.example", "no-opt-out", "Cheap pills", 15169, intake.ChannelSMTP, intake.FormInlineForward, day(3, 9)},
		{"r05", "cb", "US", "pills.example", "", "", "Cheap_pills", 15169, intake.ChannelSMTP, intake.FormInlineForward, day(3, 9)},
		{"r06", "cc", "", "", "", "", "Hello", 0, intake.ChannelWeb, intake.FormPaste, day(4, 9)},
	}
}

func browseReports(t *testing.T, s Store) {
	ctx := context.Background()
	commitMade(t, s, browseFixture())
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		name string
		b    intake.Browse
		want []string
	}{
		{"all", intake.Browse{}, []string{"r06", "r04", "r05", "r03", "r02", "r01"}},
		{"from", intake.Browse{From: day(3)}, []string{"r06", "r04", "r05"}},
		{"range", intake.Browse{From: day(1), To: day(2)}, []string{"r02", "r01"}},
		{"country lower case", intake.Browse{Country: "fr"}, []string{"r02", "r01"}},
		{"network", intake.Browse{ASN: 64501}, []string{"r03"}},
		{"sender", intake.Browse{SenderDomain: "Pills.Example"}, []string{"r04", "r05"}},
		{"link", intake.Browse{LinkDomain: "loans.example"}, []string{"r03", "r02", "r01"}},
		{"finding", intake.Browse{Finding: "no-opt-out"}, []string{"r04", "r02"}},
		{"form", intake.Browse{Form: intake.FormInlineForward}, []string{"r04", "r05"}},
		{"channel", intake.Browse{Channel: intake.ChannelWeb}, []string{"r06", "r02"}},
		{"subject, any case", intake.Browse{Subject: "REFINANCE"}, []string{"r03", "r02", "r01"}},
		{"subject percent is literal", intake.Browse{Subject: "50%"}, []string{"r01"}},
		{"subject underscore is literal", intake.Browse{Subject: "p_lls"}, nil},
		{"subject underscore", intake.Browse{Subject: "cheap_"}, []string{"r05"}},
		{"subject quote", intake.Browse{Subject: "'; DROP TABLE reports; --"}, nil},
		{"combined", intake.Browse{Country: "FR", Channel: intake.ChannelSMTP}, []string{"r01"}},
		{"status new", intake.Browse{Status: "new"}, []string{"r06", "r04", "r05", "r03", "r02", "r01"}},
	} {
		got, err := s.Reports(ctx, intake.ReportFilter{Browse: c.b})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// Reports of one time come in id order.
		if fmt.Sprint(ids(got)) != fmt.Sprint(sortSameTime(got, c.want)) {
			t.Errorf("%s: got %v, want %v", c.name, ids(got), c.want)
		}
	}
	if n, _ := s.CountReports(ctx); n != 6 {
		t.Fatalf("a filter changed the data: %d reports", n)
	}
	// Paging: two at a time walks everything once, in order, even when
	// reports share their time.
	var walked []string
	f := intake.ReportFilter{Limit: 2}
	for i := 0; i < 10; i++ {
		page, err := s.Reports(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, ids(page)...)
		if len(page) < 2 {
			break
		}
		f.After = intake.NextReports(page)
		// The cursor survives its text form.
		if f.After, err = intake.ParseCursor(f.After.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(walked) != "[r06 r04 r05 r03 r02 r01]" {
		t.Errorf("paged walk %v", walked)
	}
	// A report arriving between pages does not shift the next one.
	page1, _ := s.Reports(ctx, intake.ReportFilter{Limit: 3})
	commitMade(t, s, []made{{"r07", "cd", "", "", "", "", "late", 0, intake.ChannelWeb, intake.FormPaste, time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)}})
	page2, _ := s.Reports(ctx, intake.ReportFilter{Limit: 3, After: intake.NextReports(page1)})
	if fmt.Sprint(ids(page2)) != "[r03 r02 r01]" {
		t.Errorf("page 2 after an arrival: %v", ids(page2))
	}
	if _, err := s.Reports(ctx, intake.ReportFilter{Browse: intake.Browse{From: day(3), To: day(2)}}); !errors.Is(err, intake.ErrBadFilter) {
		t.Errorf("empty range: %v", err)
	}
	if _, err := intake.ParseCursor("not a cursor!"); !errors.Is(err, intake.ErrBadFilter) {
		t.Errorf("bad cursor: %v", err)
	}
}

// sortSameTime orders want like the store: newest first, then by id.
func sortSameTime(got []intake.ReportSummary, want []string) []string {
	at := map[string]time.Time{}
	for _, m := range browseFixture() {
		at[m.id] = m.at
	}
	out := append([]string(nil), want...)
	sort.SliceStable(out, func(i, j int) bool {
		if !at[out[i]].Equal(at[out[j]]) {
			return at[out[i]].After(at[out[j]])
		}
		return out[i] < out[j]
	})
	return out
}

func browseCampaigns(t *testing.T, s Store) {
	ctx := context.Background()
	commitMade(t, s, browseFixture())
	svc := &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { return clock }}
	if _, err := svc.SetStatus(ctx, "cb", 0, cases.Investigating, "", "user:ana"); err != nil {
		t.Fatal(err)
	}
	names := func(cs []intake.CampaignSummary) string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s:%d:%s", c.ID, c.Reports, c.Status))
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct {
		name string
		b    intake.Browse
		want string
	}{
		{"all", intake.Browse{}, "[ca:3:new cb:2:investigating cc:1:new]"},
		{"country", intake.Browse{Country: "DE"}, "[ca:3:new]"},
		{"status", intake.Browse{Status: "investigating"}, "[cb:2:investigating]"},
		{"status new", intake.Browse{Status: "new"}, "[ca:3:new cc:1:new]"},
		{"subject", intake.Browse{Subject: "pills"}, "[cb:2:investigating]"},
		{"link and date", intake.Browse{LinkDomain: "loans.example", From: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}, "[ca:3:new]"},
		{"nothing", intake.Browse{Finding: "no-such-finding"}, "[]"},
	} {
		got, err := s.Campaigns(ctx, intake.CampaignFilter{Browse: c.b})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if names(got) != c.want {
			t.Errorf("%s: got %s, want %s", c.name, names(got), c.want)
		}
	}
	var walked []intake.CampaignSummary
	f := intake.CampaignFilter{Limit: 1}
	for i := 0; i < 5; i++ {
		page, err := s.Campaigns(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, page...)
		if len(page) == 0 {
			break
		}
		f.After = intake.NextCampaigns(page)
	}
	if names(walked) != "[ca:3:new cb:2:investigating cc:1:new]" {
		t.Errorf("paged campaigns %s", names(walked))
	}
}

func caseFlow(t *testing.T, s Store) {
	ctx := context.Background()
	commitMade(t, s, browseFixture())
	now := clock
	svc := &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { now = now.Add(time.Hour); return now }}
	c, err := svc.Get(ctx, "ca")
	if err != nil || c.Status != cases.New || c.Version != 0 || len(c.Events) != 0 {
		t.Fatalf("untouched case %+v %v", c, err)
	}
	if _, err := svc.Get(ctx, "nope"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("case of no campaign: %v", err)
	}
	if _, err := svc.SetStatus(ctx, "ca", 0, cases.Referred, "", "user:ana"); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("referred without a referral: %v", err)
	}
	if _, err := svc.SetStatus(ctx, "ca", 0, cases.Closed, "", "user:ana"); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("closed without a decision: %v", err)
	}
	steps := []func(v int) (*cases.Case, error){
		func(v int) (*cases.Case, error) { return svc.SetStatus(ctx, "ca", v, cases.Triage, "", "user:ana") },
		func(v int) (*cases.Case, error) { return svc.Assign(ctx, "ca", v, "bob", "user:ana") },
		func(v int) (*cases.Case, error) {
			return svc.Note(ctx, "ca", v, "Sender hosted at AS64500; <script>alert(1)</script>", "user:bob")
		},
		func(v int) (*cases.Case, error) {
			return svc.SetStatus(ctx, "ca", v, cases.Investigating, "worth it", "user:bob")
		},
		func(v int) (*cases.Case, error) {
			return svc.Decide(ctx, "ca", v, "Ask the host for the subscriber", "user:bob")
		},
		func(v int) (*cases.Case, error) {
			return svc.SetStatus(ctx, "ca", v, cases.Closed, "Host terminated the account", "user:bob")
		},
	}
	for i, step := range steps {
		if c, err = step(i); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	// A change made on a stale version is refused and stores nothing.
	if _, err := svc.Note(ctx, "ca", 2, "late", "user:ana"); !errors.Is(err, cases.ErrConflict) {
		t.Errorf("stale change: %v", err)
	}
	got, err := svc.Get(ctx, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != cases.Closed || got.Assignee != "bob" || got.Version != 6 || len(got.Events) != 6 || got.Closed.IsZero() ||
		!got.Opened.Equal(got.Events[0].At) {
		t.Fatalf("case after the steps %+v", got)
	}
	last := got.Events[5]
	if last.Kind != cases.KindDecision || last.Actor != "user:bob" || last.Text != "Host terminated the account" || last.Status != cases.Closed ||
		!last.At.Equal(got.Opened.Add(5*time.Hour)) || !got.Closed.Equal(last.At) {
		t.Errorf("closing event %+v", last)
	}
	if got.Events[2].Text != "Sender hosted at AS64500; <script>alert(1)</script>" {
		t.Errorf("note not kept as written: %q", got.Events[2].Text)
	}
	d, err := s.CaseDurations(ctx, clock, clock.Add(24*time.Hour))
	if err != nil || len(d) != 1 || d[0] != 5*time.Hour {
		t.Errorf("durations %v %v", d, err)
	}
	// Reopening needs a reason; then the case is open again.
	if _, err := svc.SetStatus(ctx, "ca", 6, cases.Triage, "", "user:ana"); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("reopened without a reason: %v", err)
	}
	if c, err = svc.SetStatus(ctx, "ca", 6, cases.Triage, "new reports", "user:ana"); err != nil || !c.Closed.IsZero() {
		t.Errorf("reopen %+v %v", c, err)
	}
	// Concurrent first changes to one case: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := svc.Note(ctx, "cb", 0, fmt.Sprintf("note %d", i), "user:ana")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, cases.ErrConflict):
				conflicts++
			default:
				t.Errorf("concurrent note: %v", err)
			}
		}(i)
	}
	wg.Wait()
	cb, _ := svc.Get(ctx, "cb")
	if wins != 1 || conflicts != 7 || cb.Version != 1 || len(cb.Events) != 1 {
		t.Errorf("concurrent first changes: %d won, %d conflicts, case %+v", wins, conflicts, cb)
	}
}
