package federation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
)

// TestWithheldDomainAccusesNobody is the thirteenth review's open HIGH
// (A1) as an analyst closes it: a free-mail BEC wearing a supplier's site
// in its signature shares the supplier's domain and link as the spam
// run's (no rule over the content tells it from the spammer's own). Once
// the analyst marks the supplier, nothing shared accuses it — its domain
// and link indicators are held back with the clause "withheld", the
// campaign's lists drop it — while the spam run's own landing page still
// goes out. A signed sender marked so leaves the report item without a
// sender domain, saying why.
func TestWithheldDomainAccusesNobody(t *testing.T) {
	zone := &resolve.Zone{}
	priv := keyIn(t, zone, "acme-supply.example")
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	const recv = "Received: from mx.freemail.example (mx.freemail.example [12.0.9.97]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"
	bec := []byte(recv + "From: ACME Supply Accounts <acme.supply.accounts@freemail.example>\r\nTo: Bob <bob.durand@gmail.example>\r\n" +
		"Subject: New bank details\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b1@freemail.example>\r\nContent-Type: text/html\r\n\r\n" +
		`<p>Please pay the invoice at <a href="http://pay-portal.example/inv/4471">our portal</a>.</p>` +
		`<p>ACME Supply, <a href="https://www.acme-supply.example/contact">www.acme-supply.example</a></p>` + "\r\n")
	// The supplier's own signed mail, reported by someone who took it
	// for spam: its sender domain is established.
	signed := signAs(t, []byte("Received: from mail.acme-supply.example (mail.acme-supply.example [198.51.100.20]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
		"From: ACME Supply <news@acme-supply.example>\r\nTo: Carol <carol@gmail.example>\r\nSubject: Our catalogue at www.ACME-supply.example\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
		"Message-ID: <n1@acme-supply.example>\r\n\r\nSee https://acme-supply.example/catalogue\r\n"), "acme-supply.example", priv)
	m := &memSource{reporters: map[string]string{}}
	for i, raw := range [][]byte{bec, signed} {
		v, err := an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(raw, mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		id := []string{"rbec", "rsig"}[i]
		m.reports = append(m.reports, &intake.Report{ID: id, CampaignID: "c" + id, Raw: raw, SHA256: HashBody(raw),
			ReceivedAt: time.Date(2026, 11, 28, 10, 0, i, 0, time.UTC), Verdict: v})
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	peer := PeerState{Name: "us", Status: StatusActive}
	a := agreement(t, "id = \"x\"\nversion = 1\naudience = [\"us\"]\nshare = [\"indicators\", \"campaigns\", \"reports\"]\ntlp_max = \"amber\"\norigins = [\"*\"]\n")
	collect := func(ws ...Withheld) (allowed, denied map[string]Item) {
		t.Helper()
		sh, err := NewCollector(m, "FR").CollectWithheld(context.Background(), ws)
		if err != nil {
			t.Fatal(err)
		}
		allowed, denied = map[string]Item{}, map[string]Item{}
		for _, g := range sh.ItemsFor(nil) {
			for _, it := range g.Items {
				if d := Decide(a, peer, it, now); d.Allow {
					allowed[it.Key] = it
				} else if d.Clause == "withheld" {
					if !strings.Contains(d.Reason, "acme-supply.example") {
						t.Errorf("%s withheld without naming the marking: %v", it.Key, d)
					}
					denied[it.Key] = it
				}
			}
		}
		return allowed, denied
	}
	const (
		supplierDom = "ind:domain-name:acme-supply.example"
		supplierURL = "ind:url:https://www.acme-supply.example/contact"
		landing     = "ind:domain-name:pay-portal.example"
	)
	// Before the marking: the supplier is accused (the open A1), and
	// its signed mail names it as a sender.
	allowed, _ := collect()
	for _, k := range []string{supplierDom, supplierURL, landing} {
		if _, ok := allowed[k]; !ok {
			t.Fatalf("before the marking %s is not shared (the fixture no longer shows A1): %v", k, keys(allowed))
		}
	}
	if !strings.Contains(string(allowed["rep:rsig"].Body), `"from_domain":"acme-supply.example"`) {
		t.Fatalf("before the marking the signed mail's report names no sender: %s", allowed["rep:rsig"].Body)
	}
	// The firm's own mail server, the origin of its signed mail.
	const firmsServer = "ind:ipv4-addr:198.51.100.20"
	if _, ok := allowed[firmsServer]; !ok {
		t.Fatalf("before the marking the firm's server is not shared: %v", keys(allowed))
	}
	allowed, denied := collect(Withheld{Domain: "acme-supply.example", Reason: "the supplier a BEC wears"})
	for _, k := range []string{supplierDom, supplierURL} {
		if _, ok := denied[k]; !ok {
			t.Errorf("%s not withheld once marked (allowed: %v)", k, keys(allowed))
		}
	}
	for k, it := range allowed {
		if strings.Contains(string(it.Body), "acme-supply") {
			t.Errorf("%s still names the marked supplier: %s", k, it.Body)
		}
		if strings.Contains(string(it.Body), "the supplier a BEC wears") {
			t.Errorf("%s carries the analyst's own reason: %s", k, it.Body)
		}
	}
	if _, ok := allowed[landing]; !ok {
		t.Errorf("the spam run's landing page is no longer shared: %v", keys(allowed))
	}
	rep := string(allowed["rep:rsig"].Body)
	if !strings.Contains(rep, `"from_domain":""`) || !strings.Contains(rep, "marked it as not the spammer's") {
		t.Errorf("the signed mail's report keeps its sender or does not say why: %s", rep)
	}
	// The attack review's H3: the marked sender's own server is the
	// firm's, not the spam run's.
	if _, ok := allowed[firmsServer]; ok || strings.Contains(rep, "198.51.100.20") {
		t.Errorf("the marked firm's own mail server is still shared: %s", rep)
	}
	if _, ok := allowed["ind:ipv4-addr:12.0.9.97"]; !ok {
		t.Errorf("the BEC's own origin is no longer shared: %v", keys(allowed))
	}
	// A name under the marked domain is covered; a look-alike is not, nor
	// another organisation under a platform suffix below a marking (the
	// attack review's M1).
	ws := newWithheldSet([]Withheld{{Domain: "acme-supply.example"}, {Domain: "amazonaws.com"}})
	for host, want := range map[string]string{"www.acme-supply.example": "acme-supply.example", "ACME-SUPPLY.example.": "acme-supply.example",
		"acme-supply.example.evil.example": "", "notacme-supply.example": "", "": "", "pills-bucket.s3.amazonaws.com": ""} {
		if got := ws.at(host); got != want {
			t.Errorf("at(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestWithheldDomainRefusesWhatIsNoDomain: the marking names a firm's
// domain, never a public suffix (it would withhold everything under it),
// an address or a link.
func TestWithheldDomainRefusesWhatIsNoDomain(t *testing.T) {
	for _, bad := range []string{"", "com", "co.uk", "github.io", "192.0.2.1", "[2001:db8::1]", "bob@acme.example", "https://acme.example/x", "a..b", "amazonaws.com", "sharepoint.com", "gmail.com", "docs.google.com", "_dmarc.acme.example", "-acme.example", "acme.example\u200b",
		// The seventeenth review: a service's own hosts are not tenants.
		"mail.yahoo.com", "us5.list-manage.com", "www.wordpress.com",
		// The eighteenth: nor are its shards and service hosts.
		"raw.githubusercontent.com", "lh3.googleusercontent.com", "form.typeform.com", "en.wordpress.com"} {
		if d, err := WithheldDomain(bad); !errors.Is(err, ErrBadDomain) {
			t.Errorf("WithheldDomain(%q) = %q, %v; want ErrBadDomain", bad, d, err)
		}
	}
	for in, want := range map[string]string{"ACME.example.": "acme.example", "bücher.example": "xn--bcher-kva.example", " shop.acme.example ": "acme.example", "firm.sharepoint.com": "firm.sharepoint.com", "bucket.s3.amazonaws.com": "bucket.s3.amazonaws.com", "acme.github.io": "acme.github.io", "acme.wordpress.com": "acme.wordpress.com",
		"accounts.google.com": "google.com"} {
		if got, err := WithheldDomain(in); err != nil || got != want {
			t.Errorf("WithheldDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func keys(m map[string]Item) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCampaignItemsNeedTheReportsTheAgreementAsks is the thirteenth
// review's A10: min_reports held back an indicator seen in fewer
// recipients' reports, but the campaign, report and evidence items named
// the same sender after one report. They now ask as many recipients'
// reports of their campaign; one person reporting twice is one.
func TestCampaignItemsNeedTheReportsTheAgreementAsks(t *testing.T) {
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	spam := func(to string) []byte {
		return []byte("Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
			"From: Deals <deals@cheap-pills.example>\r\nTo: " + to + "\r\nSubject: Pills\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
			"Message-ID: <p-" + to + "@cheap-pills.example>\r\n\r\nBuy: http://pills-shop.example/buy\r\n")
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	peer := PeerState{Name: "us", Status: StatusActive}
	a := agreement(t, "id = \"x\"\nversion = 1\naudience = [\"us\"]\nshare = [\"indicators\", \"campaigns\", \"reports\", \"evidence\"]\ntlp_max = \"red\"\norigins = [\"*\"]\npersonal_data = true\nmin_reports = 2\n")
	var reporter string
	decide := func(tos ...string) map[string]Decision {
		t.Helper()
		m := &memSource{reporters: map[string]string{}}
		for i, to := range tos {
			raw := spam(to)
			v, err := an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(raw, mail.DefaultLimits())})
			if err != nil {
				t.Fatal(err)
			}
			id := "r" + string(rune('a'+i))
			m.reports = append(m.reports, &intake.Report{ID: id, CampaignID: "c", Raw: raw, SHA256: HashBody(raw),
				ReceivedAt: time.Date(2026, 11, 28, 10, 0, i, 0, time.UTC), Verdict: v})
			m.reporters[id] = reporter
		}
		sh, err := Collect(context.Background(), m, "FR")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Decision{}
		for _, g := range sh.ItemsFor(nil) {
			for _, it := range g.Items {
				if it.Kind != KindStatistics {
					out[it.Key] = Decide(a, peer, it, now)
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		name  string
		tos   []string
		allow bool
	}{
		{"one recipient", []string{"bob@gmail.example"}, false},
		{"one recipient twice", []string{"bob@gmail.example", "bob@gmail.example"}, false},
		{"two recipients", []string{"bob@gmail.example", "carol@gmail.example"}, true},
		// The sixteenth review's M2: one reporter's copies count once,
		// whatever recipients the spammer wrote in them.
		{"one reporter, two forged To", []string{"x1@gmail.example", "x2@gmail.example"}, false},
	} {
		reporter = ""
		if strings.HasPrefix(c.name, "one reporter") {
			reporter = "alice@citizen.example"
		}
		ds := decide(c.tos...)
		for _, k := range []string{"camp:c", "rep:ra", "ev:ra"} {
			d, ok := ds[k]
			if !ok {
				t.Fatalf("%s: no %s among %v", c.name, k, ds)
			}
			if d.Allow != c.allow || !c.allow && d.Clause != "min_reports" {
				t.Errorf("%s: %s: %v", c.name, k, d)
			}
		}
	}
}

// TestWithheldSubjectsAndServices is the seventeenth review's H1 and H3:
// a subject whose letters change length when lowered crashed the cut (and
// serve with it) once a domain was marked; a marking of google.com (the
// sign-in page a phish imitates, widened) withheld every form and site
// under docs. and sites.google.com.
func TestWithheldSubjectsAndServices(t *testing.T) {
	ws := newWithheldSet([]Withheld{{Domain: "acme-supply.example"}, {Domain: "google.com"}, {Domain: "xn--bcher-kva.example"}})
	for in, want := range map[string]string{
		strings.Repeat("Ⱥ", 20) + " acme-supply.example":         strings.Repeat("Ⱥ", 20) + " [withheld]",
		"İİİ Kelvin K ACME-Supply.Example!":                      "İİİ Kelvin K [withheld]!",
		"see www.acme-supply.example/x, or acme-supply.example.": "see [withheld]/x, or [withheld].",
		"notacme-supply.example and acme-supply.examples":        "notacme-supply.example and acme-supply.examples",
		// The eighteenth review's M3: in doubt, the text names nobody.
		"acme-supply.example.evil.example":                 "[withheld].evil.example",
		"Sign in at *.acme-supply.example":                 "Sign in at *.[withheld]",
		"Update needed...acme-supply.example":              "Update needed...[withheld]",
		"x_.acme-supply.example, acme-supply.example.2026": "x_.[withheld], [withheld].2026",
		"bu\u0308cher.example":                             "[withheld]",
		// The nineteenth review's M2: a label ending in a mark NFC keeps.
		"ชื่อ.acme-supply.example": "[withheld]",
		"Bücher.example sale":      "[withheld] sale",
	} {
		if got := ws.cut(in); got != want {
			t.Errorf("cut(%q) = %q, want %q", in, got, want)
		}
	}
	// The nineteenth review's H1: a subject is a line; what is cut and
	// shared of a longer one ends at maxCutText.
	long := strings.Repeat("acme-supply.exampleX", 3000)
	if got := ws.cut(long); len(got) > maxCutText+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("a %d-byte subject cut to %d bytes", len(long), len(got))
	}
	for host, want := range map[string]string{"accounts.google.com": "google.com", "sites.google.com": "", "docs.google.com": "",
		"storage.cloud.google.com": "", "translate.google.com": ""} {
		if got := ws.at(host); got != want {
			t.Errorf("at(%q) = %q, want %q", host, got, want)
		}
	}
}

// TestVoicesCountPeople: min_reports counts people (voices).
func TestVoicesCountPeople(t *testing.T) {
	for _, c := range []struct {
		name    string
		reports [][2]string // reporter, recipients
		want    int
	}{
		{"one reporter, two forged To", [][2]string{{"alice", "x1"}, {"alice", "x2"}}, 1},
		{"mailbox then the form (B6)", [][2]string{{"alice", "alice"}, {"", "alice"}}, 1},
		{"two people", [][2]string{{"alice", "alice"}, {"bob", "bob"}}, 2},
		// The seventeenth review's M2: the spammer writes his drop box in
		// every copy and reports each one himself.
		{"a spammer joining reporters", [][2]string{{"alice", "alice,drop"}, {"drop", "alice,drop"}, {"drop", "bob,drop"}, {"bob", "bob,drop"}}, 3},
		{"anonymous Bcc reports", [][2]string{{"", ""}, {"", ""}}, 2},
		{"anonymous, same recipients", [][2]string{{"", "carol"}, {"", "carol"}}, 1},
		// The eighteenth review's M1: an anonymous report with the same
		// recipients as three named ones merges nobody.
		{"three named, one anonymous", [][2]string{{"alice", "all"}, {"bob", "all"}, {"carol", "all"}, {"", "all"}}, 3},
	} {
		var v voices
		for _, r := range c.reports {
			v.add(r[0], r[1])
		}
		if got := v.count(); got != c.want {
			t.Errorf("%s: %d people, want %d", c.name, got, c.want)
		}
	}
}

// FuzzWithheldCut: the cut of a subject, the spam's to write, never
// panics, and keeps a valid text valid.
func FuzzWithheldCut(f *testing.F) {
	f.Add(strings.Repeat("Ⱥ", 20) + " acme-supply.example")
	f.Add("İ K www.ACME-supply.example.")
	f.Add("bücher.example xn--bcher-kva.example")
	ws := newWithheldSet([]Withheld{{Domain: "acme-supply.example"}, {Domain: "xn--bcher-kva.example"}})
	f.Fuzz(func(t *testing.T, s string) {
		out := ws.cut(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Errorf("cut(%q) = %q: not valid UTF-8", s, out)
		}
	})
}
