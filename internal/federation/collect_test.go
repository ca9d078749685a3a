package federation

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/privacy"
)

// memSource is a desk held in memory that counts the messages it hands
// out in full.
type memSource struct {
	reports   []*intake.Report
	reporters map[string]string
	read      int // Reports read in full.
}

func (m *memSource) SharedIndex(_ context.Context, fn func(ReportRef) error) error {
	rs := slices.Clone(m.reports)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].CampaignID < rs[j].CampaignID })
	for _, r := range rs {
		if err := fn(RefOf(r, m.reporters[r.ID])); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) SharedReports(_ context.Context, ids []string, fn func(*intake.Report, string) error) error {
	for _, r := range m.reports {
		if slices.Contains(ids, r.ID) {
			m.read++
			if err := fn(r, m.reporters[r.ID]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memSource) SharedVersion(context.Context) (string, error) {
	return fmt.Sprint(len(m.reports)), nil
}

// memReport is report i of campaign i%3: a message to a named recipient,
// reported by another person, with an analysis.
func memReport(i int) (*intake.Report, string) {
	raw := fmt.Sprintf("Received: from relay.example ([198.51.100.%d]) by mx.desk.example; Tue, 3 Nov 2026 10:00:01 +0000\r\n"+
		"From: Offers <deals@shop%d.example>\r\nTo: Jane Doe <jane%d@example.net>\r\nSubject: Deal %d for Jane\r\n\r\n"+
		"Hello Jane, buy at http://shop%d.example/buy?u=jane%d@example.net now.\r\n%s\r\n", i%250, i%3, i, i, i%3, i, strings.Repeat("Cheap offers today. ", 50))
	v := &analysis.Verdict{}
	v.Origin.IP, v.Origin.Country = fmt.Sprintf("198.51.100.%d", i%250), "US"
	v.Message.Subject = fmt.Sprintf("Deal %d for Jane", i)
	v.Sender.Domains.From = fmt.Sprintf("shop%d.example", i%3)
	v.Content.Domains = []string{fmt.Sprintf("shop%d.example", i%3), "example.net"}
	v.Content.URLs = []mail.URL{{URL: fmt.Sprintf("http://shop%d.example/buy?u=jane%d@example.net", i%3, i)}}
	return &intake.Report{ID: fmt.Sprintf("r%05d", i), CampaignID: fmt.Sprintf("c%d", i%3), Raw: []byte(raw), SHA256: HashBody([]byte(raw)),
		ReceivedAt: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second), Verdict: v}, fmt.Sprintf("reporter%d@example.org", i)
}

func newMemSource(n int) *memSource {
	m := &memSource{reporters: map[string]string{}}
	for i := 0; i < n; i++ {
		m.add(i)
	}
	return m
}

func (m *memSource) add(i int) *intake.Report {
	r, who := memReport(i)
	m.reports = append(m.reports, r)
	m.reporters[r.ID] = who
	return r
}

// itemsOf lists a set's items as group, key, hash and unshareable reason.
func itemsOf(sh *Shared) []string {
	var out []string
	for _, g := range sh.ItemsFor(nil) {
		for _, it := range g.Items {
			out = append(out, g.ID+" "+it.Key+" "+it.Hash+" "+it.Unshareable)
		}
	}
	return out
}

// TestCollectorDerivesEachReportOnce: a second collection reads no
// message and gives the set a collection from nothing gives; a new report
// is read alone; a report whose reporter was erased is read again; a
// report gone leaves the set and what was kept of it.
func TestCollectorDerivesEachReportOnce(t *testing.T) {
	ctx := context.Background()
	src := newMemSource(12)
	c := NewCollector(src, "FR")
	first, err := c.Collect(ctx)
	if err != nil || src.read != 12 {
		t.Fatalf("first collection: %d read, %v", src.read, err)
	}
	src.read = 0
	again, err := c.Collect(ctx)
	if err != nil || src.read != 0 {
		t.Fatalf("second collection: %d read, %v", src.read, err)
	}
	if !slices.Equal(itemsOf(first), itemsOf(again)) {
		t.Errorf("the second collection differs from the first")
	}
	check := func(what string, wantRead int) {
		t.Helper()
		src.read = 0
		sh, err := c.Collect(ctx)
		if err != nil || src.read != wantRead {
			t.Fatalf("%s: %d read, want %d: %v", what, src.read, wantRead, err)
		}
		n := src.read
		fresh, err := Collect(ctx, src, "FR")
		if err != nil {
			t.Fatal(err)
		}
		if a, b := itemsOf(sh), itemsOf(fresh); !slices.Equal(a, b) {
			t.Errorf("%s: the set kept differs from a collection from nothing:\n%v\n%v", what, a, b)
		}
		src.read = n
	}
	src.add(12)
	check("a new report", 1)
	src.reporters["r00003"] = ""
	check("a reporter erased", 1)
	src.reports = slices.DeleteFunc(src.reports, func(r *intake.Report) bool { return r.ID == "r00005" })
	check("a report gone", 0)
	if len(c.cache) != 12 || c.cache["r00005"] != nil {
		t.Errorf("the collector keeps %d reports' parts (want 12), r00005's among them: %v", len(c.cache), c.cache["r00005"] != nil)
	}
}

// TestEvidenceMadeAgainMatchesItsHash: the set holds evidence by hash and
// size only; Bodies makes the same bytes a collection made (the redaction
// is deterministic), without the people; a report purged or gone since
// the collection is refused rather than sent under a hash it no longer
// has.
func TestEvidenceMadeAgainMatchesItsHash(t *testing.T) {
	ctx := context.Background()
	src := newMemSource(6)
	sh, err := NewCollector(src, "FR").Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Item
	for _, g := range sh.Groups {
		for _, it := range g.Items {
			if it.Kind == KindEvidence {
				if it.Body != nil || it.Hash == "" {
					t.Fatalf("%s: held with its body, or without its hash", it.Key)
				}
				evs = append(evs, it)
			}
		}
	}
	if len(evs) != 6 {
		t.Fatalf("%d evidence items", len(evs))
	}
	made, err := sh.Bodies(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range made {
		var n int
		fmt.Sscanf(it.Key, "ev:r%05d", &n)
		r, who := memReport(n)
		ev, _ := evidenceOf(r, privacy.Of(r.Raw, who))
		want := mkItem(it.Key, KindEvidence, tlpEvidence, nil, true, "", time.Time{}, ev)
		if HashBody(it.Body) != it.Hash || string(it.Body) != string(want.Body) || sh.Size(evs[i]) != len(it.Body) {
			t.Errorf("%s: made %d bytes (hash %v), want the collection's %d", it.Key, len(it.Body), HashBody(it.Body) == it.Hash, sh.Size(evs[i]))
		}
		if strings.Contains(string(it.Body), "jane") || strings.Contains(string(it.Body), "reporter") {
			t.Errorf("%s: a person in the evidence: %s", it.Key, it.Body)
		}
	}
	if evs[0].Body != nil {
		t.Error("Bodies changed the items it was given")
	}
	kept := src.reports[2].Raw
	src.reports[2].Raw, src.reports[2].PurgedAt = nil, time.Now()
	if _, err := sh.Bodies(ctx, evs); !errors.Is(err, ErrChanged) {
		t.Errorf("evidence of a report whose message was purged since: %v", err)
	}
	src.reports[2].Raw, src.reports[2].PurgedAt = kept, time.Time{}
	if _, err := sh.Bodies(ctx, evs); err != nil {
		t.Fatal(err)
	}
	src.reports = src.reports[1:]
	if _, err := sh.Bodies(ctx, evs); !errors.Is(err, ErrChanged) {
		t.Errorf("evidence of a report gone since: %v", err)
	}
}

// BenchmarkCollect: a collection of 2,000 reports from nothing (each
// message read and redacted: what every round cost before) and again with
// nothing new (the index only).
//
//	go test -run X -bench Collect -benchmem ./internal/federation/
func BenchmarkCollect(b *testing.B) {
	ctx := context.Background()
	src := newMemSource(2000)
	b.Run("from-nothing", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewCollector(src, "FR").Collect(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What the collector keeps between rounds, per report: its parts
	// (no message, no evidence body).
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := NewCollector(src, "FR")
	if _, err := c.Collect(ctx); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	kept := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(src.reports))
	b.Run("nothing-new", func(b *testing.B) {
		src.read = 0
		for b.Loop() {
			if _, err := c.Collect(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if src.read != 0 {
			b.Fatalf("%d messages read", src.read)
		}
		b.ReportMetric(kept, "kept-B/report")
	})
}

// TestPeopleDomainsStayInTheirReport is the attack review's spam with
// "Cc: info@<its own domain>" and its fake forward whose phisher became a
// "reporter": recipient fields and an upload's From are the spammer's to
// write, so a domain they name is cut from their own report only, never
// from the indicators every other report of the node gives.
func TestPeopleDomainsStayInTheirReport(t *testing.T) {
	m := &memSource{reporters: map[string]string{}}
	mk := func(id, camp, extra, reporter string) {
		raw := "Received: from relay.example ([12.0.9.85]) by mx.desk.example; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
			"From: Billing <pay@inv5-phish.example>\r\nTo: bob@victim.example\r\n" + extra + "Subject: Invoice 2231\r\n\r\nPay at http://inv5-phish.example/pay/2231\r\n"
		v := &analysis.Verdict{}
		v.Origin.IP, v.Origin.Country = "12.0.9.85", "US"
		v.Message.Subject = "Invoice 2231"
		v.Sender.Domains.From = "inv5-phish.example"
		// Its DKIM signature verified, as the node checked it: the
		// sender domain is established.
		v.Auth = &mailauth.Results{DKIM: []mailauth.DKIMSignature{{Domain: "inv5-phish.example", Selector: "s1", Result: mailauth.Pass, Source: mailauth.SourceComputed, Aligned: true}}}
		v.Content.Domains = []string{"inv5-phish.example"}
		v.Content.URLs = []mail.URL{{URL: "http://inv5-phish.example/pay/2231"}}
		m.reports = append(m.reports, &intake.Report{ID: id, CampaignID: camp, Raw: []byte(raw), SHA256: HashBody([]byte(raw)),
			ReceivedAt: time.Date(2026, 11, 3, 10, 0, len(m.reports), 0, time.UTC), Verdict: v})
		m.reporters[id] = reporter
	}
	mk("r1", "c1", "", "")
	mk("r2", "c2", "Cc: info@inv5-phish.example\r\n", "")
	mk("r3", "c3", "", "Accounts <ap@inv5-phish.example>")
	sh, err := Collect(context.Background(), m, "FR")
	if err != nil {
		t.Fatal(err)
	}
	var inds []string
	for _, g := range sh.ItemsFor(nil) {
		for _, it := range g.Items {
			if strings.HasPrefix(it.Key, "ind:domain-name:") || strings.HasPrefix(it.Key, "ind:url:") {
				inds = append(inds, it.Key+" "+string(it.Body))
			}
		}
	}
	got := strings.Join(inds, "\n")
	// Each report gives it as its sender's domain and its link's, and
	// counts once (TestOneReportCountsOnce).
	if !strings.Contains(got, `ind:domain-name:inv5-phish.example {"type":"domain-name","value":"inv5-phish.example","reports":3,`) {
		t.Errorf("the spam's domain, given by each of its 3 reports, became:\n%s", got)
	}
	if !strings.Contains(got, `ind:url:http://inv5-phish.example/pay/2231 {"type":"url","value":"http://inv5-phish.example/pay/2231","reports":3,`) {
		t.Errorf("the spam's link is gone:\n%s", got)
	}
}

// TestOnlyAnAlignedSignatureAuthenticates holds authenticated to the
// rule on verdicts written out: only a DKIM signature the node verified
// itself, over the whole body, by the From's organisation (relaxed
// alignment, by the public suffix list) establishes the From's domain.
// An SPF pass — the domain's own record or not — and a DMARC pass
// resting on it say the relay may send for the domain, which a shared
// provider's relay may do for every customer.
func TestOnlyAnAlignedSignatureAuthenticates(t *testing.T) {
	const from = "news.firm.example"
	sig := func(d string, res mailauth.Result, src mailauth.Source, tail bool) mailauth.DKIMSignature {
		return mailauth.DKIMSignature{Domain: d, Selector: "s1", Result: res, Source: src, UnsignedText: tail}
	}
	spfPass := mailauth.SPF{Result: mailauth.Pass, Identity: "mailfrom", Domain: from, Source: mailauth.SourceComputed, IP: "192.0.2.1"}
	computed := mailauth.SourceComputed
	for _, c := range []struct {
		name string
		a    mailauth.Results
		want bool
	}{
		{"a signature of the From's domain", mailauth.Results{DKIM: []mailauth.DKIMSignature{sig(from, mailauth.Pass, computed, false)}}, true},
		{"of its organisation (relaxed)", mailauth.Results{DKIM: []mailauth.DKIMSignature{sig("firm.example", mailauth.Pass, computed, false)}}, true},
		{"the provider's own d=", mailauth.Results{DKIM: []mailauth.DKIMSignature{sig("provider.example", mailauth.Pass, computed, false)}}, false},
		{"text after its l=", mailauth.Results{DKIM: []mailauth.DKIMSignature{sig(from, mailauth.Pass, computed, true)}}, false},
		{"failing", mailauth.Results{DKIM: []mailauth.DKIMSignature{sig(from, mailauth.Fail, computed, false)}}, false},
		{"read from a header", mailauth.Results{DKIM: []mailauth.DKIMSignature{sig(from, mailauth.Pass, mailauth.SourceHeader, false)}}, false},
		{"by an ARC set", mailauth.Results{DKIM: []mailauth.DKIMSignature{sig(from, mailauth.Pass, mailauth.SourceARC, false)}}, false},
		{"a bad one, then a good one", mailauth.Results{DKIM: []mailauth.DKIMSignature{sig("provider.example", mailauth.Pass, computed, false), sig(from, mailauth.Pass, computed, false)}}, true},
		{"SPF pass", mailauth.Results{SPF: spfPass}, false},
		{"SPF and DMARC pass on it", mailauth.Results{SPF: spfPass, DMARC: mailauth.DMARC{Result: mailauth.Pass, Domain: from, SPFAligned: true, Source: computed}}, false},
		{"a DMARC pass said by a header", mailauth.Results{DMARC: mailauth.DMARC{Result: mailauth.Pass, Domain: from, DKIMAligned: true, Source: mailauth.SourceHeader}}, false},
	} {
		if got := authenticated(&c.a, from); got != c.want {
			t.Errorf("%s: authenticated %v, want %v", c.name, got, c.want)
		}
	}
	// Two customers of a platform the public suffix list names are two
	// organisations: one's key does not vouch for the other.
	shopB := mailauth.Results{DKIM: []mailauth.DKIMSignature{sig("shop-b.github.io", mailauth.Pass, computed, false)}}
	if authenticated(&shopB, "shop-a.github.io") || !authenticated(&shopB, "news.shop-b.github.io") {
		t.Error("a platform's customers are told apart wrongly")
	}
}
