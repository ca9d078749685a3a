package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace/geo"
	"github.com/emersion/go-msgauth/dkim"
)

// sharedOf runs one complaint as the desk does — Extract, the reporter
// of a forward, an offline analysis — and returns the indicators a
// partner receives from it.
func sharedOf(t *testing.T, an *analysis.Analyzer, raw []byte, via intake.Via) []string {
	t.Helper()
	var out []string
	for _, it := range sharedItems(t, an, raw, via) {
		if strings.HasPrefix(it.Key, "ind:") {
			out = append(out, it.Key)
		}
	}
	return out
}

// sharedItems is sharedOf's every item: indicators, report items with
// their bodies, campaigns.
func sharedItems(t *testing.T, an *analysis.Analyzer, raw []byte, via intake.Via) []Item {
	t.Helper()
	items, err := intake.Extract(raw, via)
	if err != nil {
		t.Fatal(err)
	}
	reporter := via.Reporter
	if intake.SentByItsAuthor(items) {
		reporter = ""
	}
	if !via.Mailbox {
		reporter = intake.ForwardedBy(raw, items)
	}
	m := &memSource{reporters: map[string]string{}}
	for i, it := range items {
		v, err := an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(it.Raw, mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		id := "r" + string(rune('a'+i))
		m.reports = append(m.reports, &intake.Report{ID: id, CampaignID: "c", Raw: it.Raw, SHA256: HashBody(it.Raw), Unverifiable: it.Unverifiable, Forwarders: it.Forwarders,
			ReceivedAt: time.Date(2026, 11, 28, 10, 0, i, 0, time.UTC), Verdict: v})
		m.reporters[id] = reporter
	}
	sh, err := Collect(context.Background(), m, "FR")
	if err != nil {
		t.Fatal(err)
	}
	var out []Item
	for _, g := range sh.ItemsFor(nil) {
		out = append(out, g.Items...)
	}
	// The evidence too, as a partner under personal_data = true gets it.
	if out, err = sh.Bodies(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// embeddedRules is the rule library every analyzer of these tests uses.
func embeddedRules(t *testing.T) *rules.Library {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// intakeFixture reads a message of the attack reviews' fixtures kept with
// the intake's tests: name is its path under testdata, without ".eml".
func intakeFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "intake", "testdata", name+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// spamRun is what partners receive of a spam run: its indicators, its
// campaign and its report items.
var spamRun = []string{"ind:", "camp:", "rep:"}

// listed gives the shared items whose keys start with one of prefixes
// (all of them with none), a line each: the key, then the body.
func listed(items []Item, prefixes ...string) string {
	var b strings.Builder
	for _, it := range items {
		if len(prefixes) == 0 || slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(it.Key, p) }) {
			b.WriteString(it.Key + " " + string(it.Body) + "\n")
		}
	}
	return b.String()
}

// TestMadeUpOriginalsShareNoInnocent is the seventh attack review's
// findings 1 and 2, end to end as a partner receives them: a phish above a
// made-up original — uploaded with no declaration, or declared as
// received — shares its own origin, never the innocent lawyer or victim
// company its made-up original names. A reporter's forward of it, declared
// or authenticated at the mailbox, shares the same.
func TestMadeUpOriginalsShareNoInnocent(t *testing.T) {
	lib := embeddedRules(t)
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib}
	read := func(name string) []byte { return intakeFixture(t, "review7/"+name) }
	for _, c := range []struct {
		name, innocent string
		via            intake.Via
	}{
		// The eighth review (self): not declared, unsure, taken whole.
		{"../review8/p1", "cabinet-dubois-avocats.example", intake.Via{Declared: "message/rfc822"}},
		{"../review8/p2", "cabinet-dubois-avocats.example", intake.Via{Declared: "message/rfc822"}},
		{"c1", "cabinet-dubois-avocats.example", intake.Via{Declared: "message/rfc822"}},
		{"c7", "kanzlei-dubois.example", intake.Via{Declared: "message/rfc822"}},
		{"c10", "cabinet-dubois-avocats.example", intake.Via{Declared: "message/rfc822"}},
		{"d9", "cabinet-dubois-avocats.example", intake.Via{Declared: "message/rfc822"}},
		{"c2", "acme-corp.example", intake.Via{Declared: "message/rfc822"}},
		{"c6", "acme-corp.example", intake.Via{Declared: "message/rfc822"}},
		{"c1", "cabinet-dubois-avocats.example", intake.Via{Declared: "message/rfc822", As: intake.AsReceived}},
		{"c2", "acme-corp.example", intake.Via{As: intake.AsReceived}},
		{"d9", "cabinet-dubois-avocats.example", intake.Via{Mailbox: true, Reporter: "bounce@bulk-mailer.example"}},
		{"c5", "cabinet-dubois-avocats.example", intake.Via{Declared: "message/rfc822", As: intake.AsForwarded}},
		{"c5", "cabinet-dubois-avocats.example", intake.Via{Mailbox: true, Reporter: "compta@acme-corp.example", Authenticated: true}},
		{"c9", "acme-corp.example", intake.Via{Declared: "message/rfc822", As: intake.AsForwarded}},
	} {
		got := strings.Join(sharedOf(t, an, read(c.name), c.via), "\n")
		if strings.Contains(got, c.innocent) {
			t.Errorf("%s (%+v): %s is shared as the spam's:\n%s", c.name, c.via, c.innocent, got)
		}
		// Taken whole and unsure (p1, p2), the relay may be a forwarder's
		// provider: the origin is kept back, the phish's domain and link go.
		unsure := strings.HasPrefix(c.name, "../review8/")
		if shared := strings.Contains(got, "ind:ipv4-addr:12.0.9.97"); shared == unsure {
			t.Errorf("%s (%+v): the phish's origin 12.0.9.97 shared %v, want %v:\n%s", c.name, c.via, shared, !unsure, got)
		}
	}
}

// TestUnsureForwardNamesNoForwarder: Bob's forward to Alice at another
// firm, uploaded with no declaration, is taken whole (it may be a phish,
// see TestMadeUpOriginalsShareNoInnocent): Bob's domain is kept apart as a
// possible reporter's and his provider's relay is not named as the
// spam's origin; the spam's link still goes out.
func TestUnsureForwardNamesNoForwarder(t *testing.T) {
	lib := embeddedRules(t)
	raw := intakeFixture(t, "review8/bob-to-alice")
	got := strings.Join(sharedOf(t, &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib}, raw, intake.Via{Declared: "message/rfc822"}), "\n")
	// 12.0.9.60 is Bob's provider's relay, which carried his forward to
	// Alice: not the spam's origin.
	if strings.Contains(got, "girard") || strings.Contains(got, "12.0.9.60") || !strings.Contains(got, "ind:url:http://parcel-scam.example/r/ref") {
		t.Errorf("shared:\n%s", got)
	}
}

// TestVictimFirmDomainNotShared is the eighth attack review's finding 1:
// the ordinary phish "from" the victim firm's own helpdesk
// (it-support@acme-corp to compta@acme-corp) names the firm, not the spam
// run. Neither its indicators, nor its report item's from_domain, nor its
// campaign's sender domains carry acme-corp.example — uploaded
// undeclared or declared as received, inside a provider's ARF, or
// forwarded from home to the mailbox — while the phish's own origin, link
// and domain still go out. With the node's own DMARC check online, a
// From failing it is withheld even when no recipient is at its domain;
// the same message offline shares it (nothing says it is forged).
func TestVictimFirmDomainNotShared(t *testing.T) {
	lib := embeddedRules(t)
	read := func(name string) []byte { return intakeFixture(t, "review8b/"+name) }
	zone, err := resolve.LoadZone(filepath.Join("..", "intake", "testdata", "review8b", "zone"))
	if err != nil {
		t.Fatal(err)
	}
	offline := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib}
	online := &analysis.Analyzer{Resolver: zone, Rules: lib}
	s1 := read("s1")
	// s1 to a partner firm's accountant: no recipient at acme-corp.
	elsewhere := []byte(strings.Replace(string(s1), "To: Claire Petit <compta@acme-corp.example>", "To: Jean Leroy <j.leroy@holding-leroy.example>", 1))
	shared := func(items []Item) string { return listed(items, spamRun...) }
	for _, c := range []struct {
		name string
		an   *analysis.Analyzer
		raw  []byte
		via  intake.Via
	}{
		{"s1 undeclared", offline, s1, intake.Via{Declared: "message/rfc822"}},
		{"s1 received", offline, s1, intake.Via{Declared: "message/rfc822", As: intake.AsReceived}},
		{"s1 form", offline, s1, intake.Via{}},
		{"s1 received, DMARC checked", online, s1, intake.Via{As: intake.AsReceived}},
		{"a1 (ARF)", offline, read("a1"), intake.Via{Declared: "multipart/report"}},
		{"f7 (forwarded from home)", offline, read("f7"), intake.Via{Mailbox: true, Reporter: "claire.petit@petit-famille.example", Authenticated: true}},
		{"s1 elsewhere, DMARC fails", online, elsewhere, intake.Via{As: intake.AsReceived}},
	} {
		items := sharedItems(t, c.an, c.raw, c.via)
		got := shared(items)
		if strings.Contains(got, "acme-corp") {
			t.Errorf("%s: the victim firm's domain is shared:\n%s", c.name, got)
		}
		for _, want := range []string{"ind:ipv4-addr:12.0.9.97", "ind:domain-name:mailbox-upgrade.example", "ind:url:http://mailbox-upgrade.example/owa/login"} {
			if !strings.Contains(got, want+" ") {
				t.Errorf("%s: %s is not shared:\n%s", c.name, want, got)
			}
		}
	}
	// Offline, a From at no recipient's organisation is no more
	// established: kept back too, and the report item says why.
	if got := shared(sharedItems(t, offline, elsewhere, intake.Via{As: intake.AsReceived})); strings.Contains(got, "acme-corp") || !strings.Contains(got, "resolver is offline") {
		t.Errorf("offline, elsewhere:\n%s", got)
	}
}

// signAs has d= sign a fixture with priv (selector s1) below the
// receiving side's trace fields (Return-Path, Received), as its sender's
// server would have; line ends become CRLF first.
func signAs(t *testing.T, raw []byte, d string, priv ed25519.PrivateKey) []byte {
	t.Helper()
	raw = bytes.ReplaceAll(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	i := bytes.Index(raw, []byte("\r\nFrom: ")) + 2
	if i < 2 {
		t.Fatal("no From field to sign")
	}
	var out bytes.Buffer
	out.Write(raw[:i])
	if err := dkim.Sign(&out, bytes.NewReader(raw[i:]), &dkim.SignOptions{Domain: d, Selector: "s1", Signer: priv}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestSenderDomainOnlyWhenAuthenticated is the ninth attack review's
// findings 3 and 5 and the tenth's HIGH: a From domain goes to partners
// as the spam run's sender domain only when the node verified, through
// its resolver, a DKIM signature aligned with it — never on an SPF pass
// (a firm's record can authorise its shared provider's hosts however it
// names them, so a co-tenant passes as the firm) nor on an
// Authentication-Results field the message carries. The victim firm of a
// phish sent by Bcc (s2) and a bank spoofed to a webmail user (s4) are
// kept back on the default offline resolver as on a checking one; the
// spammer's own domain goes out when it signed the spam (e1–e3 signed),
// whatever its To, X-Original-To or Received "for" say, and is kept back
// when only its SPF passes (e1–e3 as the review wrote them); a firm
// whose record names its provider's host (a:, mx, a flattened range,
// +all) is not shared for a co-tenant's mail from that host, and is when
// it signed the mail itself; a provider's own signature (d= the
// provider) does not establish its customer's From. A spam whose SPF
// fails (e4 under p=none, e4b with no DMARC record) or that nothing
// authenticates (e1u–e3u) keeps it back, the report item saying why. The
// origin, links and link domains go out in every case.
func TestSenderDomainOnlyWhenAuthenticated(t *testing.T) {
	lib := embeddedRules(t)
	read := func(name string) []byte { return intakeFixture(t, "review9/"+name) }
	zone, err := resolve.LoadZone(filepath.Join("..", "intake", "testdata", "review9", "zone"))
	if err != nil {
		t.Fatal(err)
	}
	// A DKIM key of the spammer's: s4's text sent by cheap-pills.example
	// through a bulk mailer (its envelope sender elsewhere, so its SPF
	// says nothing of the From), signed by cheap-pills.example.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	zone.AddTXT("s1._domainkey.cheap-pills.example", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	body := "From: Deals <deals@cheap-pills.example>\r\nTo: Bob Durand <bob.durand@gmail.example>\r\nSubject: Cheap pills\r\n" +
		"Date: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <k1@bulk-mailer.example>\r\n\r\nBest prices today: http://pills-shop.example/buy/42\r\n"
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(body), &dkim.SignOptions{Domain: "cheap-pills.example", Selector: "s1", Signer: priv}); err != nil {
		t.Fatal(err)
	}
	head := "Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
		"Return-Path: <bounce@bulk-mailer.example>\r\n"
	dkimSigned := []byte(head + signed.String())
	// s4 carrying an Authentication-Results field of the receiving
	// provider's, written above everything, that says the bank passed.
	claimed := append([]byte("Authentication-Results: mx.acme-corp.example; spf=pass smtp.mailfrom=bnp-banque.example; dkim=pass header.d=bnp-banque.example; dmarc=pass header.from=bnp-banque.example\r\n"), read("s4")...)
	// e1 sent under other domains from the same origin, 12.0.9.80: one
	// whose record includes a mail provider's that authorises it (so every
	// customer of that provider passes — the tenth review's w2), one that
	// redirects to it, one that includes a record of its own organisation,
	// and a mailbox provider's address.
	as := func(dom string) []byte {
		return bytes.ReplaceAll(read("e1"), []byte("cheap-pills.example"), []byte(dom))
	}
	zone.AddTXT("spf.sharedmail.example", "v=spf1 ip4:12.0.9.80 -all")
	zone.AddTXT("acme-cloud.example", "v=spf1 include:spf.sharedmail.example -all")
	zone.AddTXT("_dmarc.acme-cloud.example", "v=DMARC1; p=reject")
	zone.AddTXT("acme-redirect.example", "v=spf1 ~include:nothing.acme-redirect.example redirect=spf.sharedmail.example")
	zone.AddTXT("acme-own.example", "v=spf1 include:_spf.acme-own.example -all")
	zone.AddTXT("_spf.acme-own.example", "v=spf1 ip4:12.0.9.0/24 -all")
	zone.AddTXT("gmail.com", "v=spf1 ip4:12.0.9.80 -all")
	// The tenth review's HIGH in the shapes the include test never saw:
	// firms under p=reject whose own records authorise the shared
	// provider's host 12.0.9.80 — by its name (a:), as their MX, by the
	// provider's range written in, or by +all. The spam is a co-tenant's,
	// sent from that host with the firm's address as From and envelope
	// sender: SPF and DMARC pass, and none of it is the firm's doing.
	zone.AddIP("mail.provider.example", netip.MustParseAddr("12.0.9.80"))
	zone.AddMX("acme-mx.example", 10, "mail.provider.example")
	for dom, rec := range map[string]string{
		"acme-a.example":    "v=spf1 a:mail.provider.example -all",
		"acme-mx.example":   "v=spf1 mx -all",
		"acme-flat.example": "v=spf1 ip4:12.0.8.0/23 -all",
		"acme-all.example":  "v=spf1 +all",
	} {
		zone.AddTXT(dom, rec)
		zone.AddTXT("_dmarc."+dom, "v=DMARC1; p=reject")
	}
	// Keys published for the firm's own signature and the provider's.
	for _, dom := range []string{"acme-a.example", "provider.example"} {
		zone.AddTXT("s1._domainkey."+dom, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	}
	sign := func(raw []byte, d string) []byte { return signAs(t, raw, d, priv) }
	// A customer that set up no key of its own, whose provider signs its
	// mail with the provider's d= and sends it under the provider's
	// envelope sender: no DMARC record, its own SPF not consulted.
	zone.AddTXT("provider.example", "v=spf1 ip4:12.0.9.80 -all")
	providerSigned := sign(bytes.ReplaceAll(bytes.ReplaceAll(read("e1"), []byte("bounce@cheap-pills.example"), []byte("bounce@provider.example")),
		[]byte("cheap-pills.example"), []byte("acme-nokey.example")), "provider.example")
	offline := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib}
	online := &analysis.Analyzer{Resolver: zone, Rules: lib}
	received, undeclared, form := intake.Via{As: intake.AsReceived}, intake.Via{Declared: "message/rfc822"}, intake.Via{}
	spam := []string{"ind:ipv4-addr:12.0.9.80", "ind:domain-name:pills-shop.example", "ind:url:http://pills-shop.example/buy/42"}
	phish := []string{"ind:ipv4-addr:12.0.9.97", "ind:domain-name:mailbox-upgrade.example", "ind:url:http://mailbox-upgrade.example/owa/login"}
	for _, c := range []struct {
		name   string
		an     *analysis.Analyzer
		raw    []byte
		via    intake.Via
		sender string // The sender domain shared, or "" for none.
		kept   string // The domain kept back, and why (in the report item).
		want   []string
	}{
		{"s2 offline, received", offline, read("s2"), received, "", "acme-corp", phish},
		{"s2 offline, on the form", offline, read("s2"), form, "", "acme-corp", phish},
		{"s2 DMARC checked", online, read("s2"), received, "", "acme-corp", phish},
		{"s4 offline", offline, read("s4"), received, "", "bnp-banque", phish},
		{"s4 offline, its own Authentication-Results", offline, claimed, received, "", "bnp-banque", phish},
		{"s4 DMARC checked", online, read("s4"), received, "", "bnp-banque", phish},
		{"e1 signed, To: its own list", online, sign(read("e1"), "cheap-pills.example"), undeclared, "cheap-pills.example", "", spam},
		{"e2 signed, X-Original-To its own", online, sign(read("e2"), "cheap-pills.example"), undeclared, "cheap-pills.example", "", spam},
		{"e3 signed, Received for its own", online, sign(read("e3"), "cheap-pills.example"), received, "cheap-pills.example", "", spam},
		{"e1 SPF pass alone", online, read("e1"), undeclared, "", "cheap-pills.example", spam},
		{"e2 SPF pass alone", online, read("e2"), undeclared, "", "cheap-pills.example", spam},
		{"e3 SPF pass alone", online, read("e3"), received, "", "cheap-pills.example", spam},
		{"DKIM of its own", online, dkimSigned, received, "cheap-pills.example", "", phish[:1]},
		{"e1 offline", offline, read("e1"), undeclared, "", "cheap-pills.example", spam},
		{"e1u no envelope sender", online, read("e1u"), undeclared, "", "cheap-pills.example", spam},
		{"e2u", online, read("e2u"), undeclared, "", "cheap-pills.example", spam},
		{"e3u", online, read("e3u"), undeclared, "", "cheap-pills.example", spam},
		{"e4 SPF fail, p=none", online, read("e4"), undeclared, "", "cheap-pills2.example", spam},
		{"e4b SPF fail, no DMARC", online, read("e4b"), undeclared, "", "cheap-pills3.example", spam},
		{"SPF pass through a provider's record it includes, DMARC pass", online, as("acme-cloud.example"), received, "", "acme-cloud.example", spam},
		{"SPF pass through a redirect to a provider", online, as("acme-redirect.example"), received, "", "acme-redirect.example", spam},
		{"SPF pass through a record of its own organisation", online, as("acme-own.example"), received, "", "acme-own.example", spam},
		{"a co-tenant at the provider host its record names (a:)", online, as("acme-a.example"), received, "", "acme-a.example", spam},
		{"a co-tenant at its MX's host (mx)", online, as("acme-mx.example"), received, "", "acme-mx.example", spam},
		{"a co-tenant in the provider range it wrote in", online, as("acme-flat.example"), received, "", "acme-flat.example", spam},
		{"a co-tenant under its +all", online, as("acme-all.example"), received, "", "acme-all.example", spam},
		{"the firm's own signature from the provider host", online, sign(as("acme-a.example"), "acme-a.example"), received, "acme-a.example", "", spam},
		{"the provider's signature (its own d=) for a customer", online, providerSigned, received, "", "acme-nokey.example", spam},
		{"a mailbox provider's address, its SPF passing", online, as("gmail.com"), received, "", "gmail.com", spam},
	} {
		got := listed(sharedItems(t, c.an, c.raw, c.via), spamRun...)
		for _, w := range c.want {
			if !strings.Contains(got, w+" ") {
				t.Errorf("%s: %s is not shared:\n%s", c.name, w, got)
			}
		}
		if c.sender != "" {
			for _, w := range []string{"ind:domain-name:" + c.sender + " ", `"from_domain":"` + c.sender + `"`, `"sender_domains":[{"Value":"` + c.sender + `"`} {
				if !strings.Contains(got, w) {
					t.Errorf("%s: %s is not shared:\n%s", c.name, w, got)
				}
			}
			if strings.Contains(got, "sender domain: not shared") {
				t.Errorf("%s: the report item says its shared sender domain is not:\n%s", c.name, got)
			}
			continue
		}
		if !strings.Contains(got, `"from_domain":""`) || !strings.Contains(got, `"sender_domains":[]`) || strings.Contains(got, "ind:domain-name:"+c.kept+" ") {
			t.Errorf("%s: the From's domain is shared:\n%s", c.name, got)
		}
		if c.kept != "cheap-pills.example" && c.kept != "gmail.com" && strings.Contains(got, c.kept) {
			t.Errorf("%s: %s is shared:\n%s", c.name, c.kept, got)
		}
		why := "sender domain: not shared, since nothing this node checked shows the From's domain sent it"
		if c.kept == "gmail.com" {
			why = "sender domain: not shared, since its From is at gmail.com, a mailbox provider"
		}
		if !strings.Contains(got, why) {
			t.Errorf("%s: the report item does not say why it has no sender domain:\n%s", c.name, got)
		}
	}
	// The co-tenants did pass SPF and DMARC as the node computed them (the
	// cases would prove nothing otherwise), and the report item says what
	// the node lacked: a DKIM signature of the firm's.
	for _, dom := range []string{"acme-a.example", "acme-mx.example", "acme-flat.example", "acme-all.example", "acme-own.example"} {
		v, err := online.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(as(dom), mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		if a := v.Auth; a.SPF.Result != mailauth.Pass || a.SPF.Source != mailauth.SourceComputed || a.SPF.Domain != dom ||
			dom != "acme-own.example" && (a.DMARC.Result != mailauth.Pass || !a.DMARC.SPFAligned) {
			t.Errorf("%s: the co-tenant's SPF %s (%s), DMARC %s: not the pass the case needs", dom, a.SPF.Result, a.SPF.Domain, a.DMARC.Result)
		}
		if got := listed(sharedItems(t, online, as(dom), received), "rep:"); !strings.Contains(got, "no DKIM signature of that domain") {
			t.Errorf("%s: the report item does not say a DKIM signature is missing:\n%s", dom, got)
		}
	}
	// The Authentication-Results field above was read (the test would
	// prove nothing otherwise): the verdict says DMARC passed, by header.
	v, err := offline.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(claimed, mail.DefaultLimits())})
	if err != nil {
		t.Fatal(err)
	}
	if v.Auth.DMARC.Result != mailauth.Pass || v.Auth.DMARC.Source != mailauth.SourceHeader {
		t.Errorf("the message's own Authentication-Results was not read: DMARC %s from %s", v.Auth.DMARC.Result, v.Auth.DMARC.Source)
	}
}

// TestForwardedPhishSharesNoLawyer is the eighth attack review's
// findings 2, 3 and 4 as a partner receives them: the victim's forward
// of a phish above a made-up original (f1, f2, f4, f6), the phish
// redirected to the mailbox or passed on by a server rule, the chief
// executive's exact domain spoofed writing within the firm (p3), and the
// made-up originals to undisclosed recipients, to a third party or with
// no To: line (q1, q2, q3) uploaded undeclared never share the lawyer the
// made-up original names — neither as an indicator nor as a report's
// from_domain — and their links still go out.
func TestForwardedPhishSharesNoLawyer(t *testing.T) {
	lib := embeddedRules(t)
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib}
	read := func(name string) []byte { return intakeFixture(t, name) }
	claire := "compta@acme-corp.example"
	resent := func(raw []byte) []byte {
		return append([]byte("Resent-From: "+claire+"\r\nResent-To: report@desk.example\r\nResent-Date: Sat, 28 Nov 2026 11:00:00 +0000\r\n"), raw...)
	}
	authed := intake.Via{Mailbox: true, Reporter: claire, Authenticated: true, Desk: []string{"report@desk.example"}}
	for _, c := range []struct {
		name string
		raw  []byte
		via  intake.Via
	}{
		{"f1 at the mailbox", read("review8b/f1"), authed},
		{"f2 at the mailbox", read("review8b/f2"), authed},
		{"f4 at the mailbox", read("review8b/f4"), authed},
		{"f6 at the mailbox", read("review8b/f6"), authed},
		{"f1 as=forwarded", read("review8b/f1"), intake.Via{Declared: "message/rfc822", As: intake.AsForwarded}},
		{"f4 on the form", read("review8b/f4"), intake.Via{}},
		{"p1 redirected", resent(read("review8/p1")), authed},
		{"p3 redirected", resent(read("review8/p3")), authed},
		{"q1 redirected", resent(read("review8b/q1")), authed},
		{"p1 by a server rule", read("review8b/p1-rule"), intake.Via{Mailbox: true, Reporter: "bounce@bulk-mailer.example"}},
		{"p1 by its author, no SPF", read("review8/p1"), intake.Via{Mailbox: true, Reporter: "support@invoices-portal.example"}},
		{"p3 undeclared", read("review8/p3"), intake.Via{Declared: "message/rfc822"}},
		{"p3 on the form", read("review8/p3"), intake.Via{}},
		{"q1 undeclared", read("review8b/q1"), intake.Via{Declared: "message/rfc822"}},
		{"q2 undeclared", read("review8b/q2"), intake.Via{Declared: "message/rfc822"}},
		{"q3 on the form", read("review8b/q3"), intake.Via{}},
	} {
		got := listed(sharedItems(t, an, c.raw, c.via), spamRun...)
		if strings.Contains(got, "dubois") {
			t.Errorf("%s: the lawyer is shared:\n%s", c.name, got)
		}
		if !strings.Contains(got, "ind:url:http://bec-pay.example/pay/") {
			t.Errorf("%s: the phish's link is not shared:\n%s", c.name, got)
		}
	}
}

// TestForwarderKeptApartIsCut is Bob's forward to Alice, passed on by
// Alice — attached to her forward (declared, or authenticated at the
// mailbox), redirected by her or passed on by her server's rule — when
// the spam inside it names Bob: the desk stops at Bob's forward (it may
// be a phish above a made-up original) and keeps its From apart, so Bob
// is cut as a reporter is — his address and name leave no indicator,
// subject, link or evidence a partner receives (under personal_data =
// true), and neither does his domain as the spam's; the spam's own link
// goes out.
func TestForwarderKeptApartIsCut(t *testing.T) {
	lib := embeddedRules(t)
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib, Geo: geo.Embedded()}
	bob := intakeFixture(t, "review8b/bob-named")
	alice := "am1987@orange-fr.example"
	attached := []byte("From: Alice Martin <" + alice + ">\r\nTo: report@desk.example\r\nSubject: Fwd: Fwd: Bob Girard, votre colis\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nspam\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\n" + string(bob) + "\r\n--b--\r\n")
	redirected := append([]byte("Resent-From: "+alice+"\r\nResent-To: report@desk.example\r\nResent-Date: Sat, 28 Nov 2026 11:00:00 +0000\r\n"), bob...)
	rule := append([]byte("Delivered-To: "+alice+"\r\n"), bob...)
	authed := intake.Via{Mailbox: true, Reporter: alice, Authenticated: true, Desk: []string{"report@desk.example"}}
	for _, c := range []struct {
		name string
		raw  []byte
		via  intake.Via
	}{
		{"attached, as=forwarded", attached, intake.Via{Declared: "message/rfc822", As: intake.AsForwarded}},
		{"attached, at the mailbox", attached, authed},
		{"attached, on the form", attached, intake.Via{}},
		{"redirected", redirected, authed},
		{"redirected, unauthenticated", redirected, intake.Via{Mailbox: true, Reporter: alice, Desk: []string{"report@desk.example"}}},
		{"by a server rule", rule, intake.Via{Mailbox: true, Reporter: alice}},
	} {
		items := sharedItems(t, an, c.raw, c.via)
		all, indicators := listed(items), listed(items, spamRun...)
		evidence := false
		for _, it := range items {
			evidence = evidence || strings.HasPrefix(it.Key, "ev:") && len(it.Body) > 0
		}
		if !evidence {
			t.Fatalf("%s: no evidence made:\n%s", c.name, all)
		}
		for _, leak := range []string{"bob.girard@", "bob girard", "bob-girard", "Bob Girard", "am1987", "Alice Martin"} {
			if strings.Contains(strings.ToLower(all), strings.ToLower(leak)) {
				t.Errorf("%s: %q is shared:\n%s", c.name, leak, all)
			}
		}
		// Bob's provider's relay, which carried his forward to Alice, is
		// no origin: not in the report item, nor its country (US) in the
		// indicators' origins or the campaign's countries.
		if strings.Contains(indicators, "girard") || strings.Contains(indicators, "12.0.9.60") || strings.Contains(indicators, `"US"`) ||
			strings.Contains(indicators, "7018") {
			t.Errorf("%s: Bob's domain or relay is shared:\n%s", c.name, indicators)
		}
		if !strings.Contains(indicators, "ind:url:http://parcel-scam.example/r/ref ") {
			t.Errorf("%s: the spam's link is not shared:\n%s", c.name, indicators)
		}
	}
}

// TestSpamMailedToTheDeskByItsAuthor is the eighth attack review's
// LOW 6: a spam its author mailed straight to the desk's mailbox (a spam
// trap's hit: the envelope sender is its From, nothing forwarded in it,
// written to its victim or carrying a mailing's fields) is the spam
// itself, whole, and its sender no reporter: its From domain, links and
// origin go out. So does a phish above a made-up original mailed so (c2,
// no SPF). A person's note to the desk, and a reply of theirs with the
// desk in Bcc, stay their notes: nothing of theirs is shared.
func TestSpamMailedToTheDeskByItsAuthor(t *testing.T) {
	lib := embeddedRules(t)
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib}
	read := func(name string) []byte { return intakeFixture(t, name) }
	desk := []string{"report@desk.example"}
	t1 := read("review8b/t1")
	toDesk := []byte(strings.Replace(string(t1), "To: bob.durand@gmail.com", "To: report@desk.example\r\nList-Unsubscribe: <http://paypal-verify.com/u>", 1))
	for _, c := range []struct {
		name string
		raw  []byte
		via  intake.Via
		want []string
	}{
		// t1's own links at its unsigned From's domain are kept back
		// (paypal-verify.com holds a brand's name without misspelling it:
		// links.go); its other page and its origin go out.
		{"t1 to its victim", t1, intake.Via{Mailbox: true, Reporter: "service@paypal-verify.com", Desk: desk},
			[]string{"ind:ipv4-addr:12.0.9.80", "ind:domain-name:secure-paypal-check.com"}},
		{"t1 to the desk, a mailing", toDesk, intake.Via{Mailbox: true, Reporter: "service@paypal-verify.com", Desk: desk, Authenticated: true},
			[]string{"ind:ipv4-addr:12.0.9.80"}},
		// Unsigned, its links at its own From domain are kept back (a
		// From is anyone's to write: links.go); its origin goes out.
		{"c2 by its author, no SPF", read("review7/c2"), intake.Via{Mailbox: true, Reporter: "support@invoices-portal.example", Desk: desk},
			[]string{"ind:ipv4-addr:12.0.9.97"}},
	} {
		items, err := intake.Extract(c.raw, c.via)
		if err != nil || len(items) != 1 || items[0].Form != intake.FormRaw || !intake.SentByItsAuthor(items) {
			t.Fatalf("%s: %d items (%v), by its author %v", c.name, len(items), err, intake.SentByItsAuthor(items))
		}
		got := strings.Join(sharedOf(t, an, c.raw, c.via), "\n") + "\n"
		for _, w := range c.want {
			if !strings.Contains(got, w+"\n") {
				t.Errorf("%s: %s is not shared:\n%s", c.name, w, got)
			}
		}
		if strings.Contains(got, "acme-corp") {
			t.Errorf("%s: the victim firm is shared:\n%s", c.name, got)
		}
	}
	// A person's note to the desk, and their reply to the spammer with
	// the desk in Bcc: a paste, reported by them, nothing of theirs shared.
	note := []byte("From: Ann Leroy <ann@leroy-famille.example>\r\nTo: report@desk.example\r\nSubject: spam\r\n\r\nI got this: http://pharma.example/buy\r\n")
	reply := []byte("From: Ann Leroy <ann@leroy-famille.example>\r\nTo: sales@pharma.example\r\nSubject: Re: offer\r\n\r\nStop it. http://pharma.example/buy\r\n")
	for name, raw := range map[string][]byte{"note": note, "reply": reply} {
		via := intake.Via{Mailbox: true, Reporter: "ann@leroy-famille.example", Desk: desk}
		items, err := intake.Extract(raw, via)
		if err != nil || len(items) != 1 || items[0].Form != intake.FormPaste || intake.SentByItsAuthor(items) {
			t.Fatalf("%s: %d items (%v)", name, len(items), err)
		}
		if got := strings.Join(sharedOf(t, an, raw, via), "\n"); strings.Contains(got, "leroy") || !strings.Contains(got, "ind:domain-name:pharma.example") {
			t.Errorf("%s: shared:\n%s", name, got)
		}
	}
}

// TestSpamDressedAsItsOwnForward is the ninth attack review's finding 1
// (HIGH) and 2: a plain spam carrying a made-up "Forwarded message"
// block addressed to itself is as unsure as a person's forward, and its
// From is kept apart — but as a person only: its domain is not held as
// theirs, so the spam's links at its own domain still go out (e11),
// undeclared, on the form and redirected by its victim. A Cc at the
// domain the spam links to ("Cc: orders@<its shop>") hides neither the
// links nor the domain (e10, and e5 with no forward at all).
func TestSpamDressedAsItsOwnForward(t *testing.T) {
	lib := embeddedRules(t)
	// The review's zone, with a DKIM key of cheap-pills.example's: e5
	// signed by it has its sender domain established when the spam is
	// taken as sent (e5 received).
	zone, err := resolve.LoadZone(filepath.Join("..", "intake", "testdata", "review9", "zone"))
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	zone.AddTXT("s1._domainkey.cheap-pills.example", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	signed := func(raw []byte) []byte { return signAs(t, raw, "cheap-pills.example", priv) }
	an := &analysis.Analyzer{Resolver: zone, Rules: lib}
	read := func(name string) []byte { return intakeFixture(t, "review9/"+name) }
	bob := "bob.durand@gmail.example"
	redirect := func(raw []byte) []byte {
		return append([]byte("Resent-From: "+bob+"\r\nResent-To: report@desk.example\r\nResent-Date: Sat, 28 Nov 2026 11:00:00 +0000\r\n"), raw...)
	}
	mailbox := intake.Via{Mailbox: true, Reporter: bob, Desk: []string{"report@desk.example"}}
	for _, c := range []struct {
		name string
		raw  []byte
		via  intake.Via
		want []string
	}{
		// e11's links are at its own From's domain, and e11 may be a
		// person's forward: its From and signature are the forwarder's as
		// likely as the spam's, so its links there are kept back, signed
		// or not (links.go; TestSignedForwarderNotShared). It shares
		// nothing of anyone.
		{"e11 undeclared", read("e11"), intake.Via{Declared: "message/rfc822"}, nil},
		{"e11 signed, on the form", signed(read("e11")), intake.Via{}, nil},
		{"e11 signed, redirected", redirect(signed(read("e11"))), mailbox, nil},
		{"e9 undeclared", read("e9"), intake.Via{Declared: "message/rfc822"}, []string{"ind:domain-name:pills-shop.example", "ind:url:http://pills-shop.example/buy/42"}},
		{"e10 undeclared", read("e10"), intake.Via{Declared: "message/rfc822"}, []string{"ind:domain-name:pills-shop.example", "ind:url:http://pills-shop.example/buy/42"}},
		{"e10 on the form", read("e10"), intake.Via{}, []string{"ind:domain-name:pills-shop.example", "ind:url:http://pills-shop.example/buy/42"}},
		{"e5 received, signed", signed(read("e5")), intake.Via{As: intake.AsReceived}, []string{"ind:domain-name:pills-shop.example", "ind:url:http://pills-shop.example/buy/42", "ind:domain-name:cheap-pills.example", "ind:ipv4-addr:12.0.9.80"}},
	} {
		got := listed(sharedItems(t, an, c.raw, c.via))
		for _, w := range c.want {
			if !strings.Contains(got, w+" ") {
				t.Errorf("%s: %s is not shared:\n%s", c.name, w, got)
			}
		}
		// The made-up original's "sender" and the spam's recipient: never.
		for _, leak := range []string{"pharma-partner", "bob.durand", "Bob Durand", "orders@"} {
			if strings.Contains(got, leak) {
				t.Errorf("%s: %s is shared:\n%s", c.name, leak, got)
			}
		}
	}
}

// TestForwardOfAMailHandedBack is the ninth attack review's finding 6:
// the abuse desk's forward of p4 (f5) — a phish quoting a made-up
// request "from" abuse@acme-corp, sent to abuse@acme-corp — shared
// nothing, even declared as=forwarded: p4 inside was unwrapped to its
// made-up original, whose From is the forwarder and whose recipient, the
// phisher's it-portal.example, was cut as a person's. What a forwarder
// passes on is never their own mail: p4 is now the spam, unsure (its
// links go out, its origin and From do not), on every channel. The other
// victims' forwards (f1–f4, f6, and g1, a colleague's forward passed on
// by IT) share what they shared before, indicator for indicator — but
// for f1–f3's invoices-portal.example: their phish's unsigned From, which
// also sends the reader to bec-pay.example, is kept back with its links
// since the eleventh review (a From beside another landing page may be a
// firm the phish wears; TestFirmAPhishWearsIsNoLink).
func TestForwardOfAMailHandedBack(t *testing.T) {
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	want := map[string][]string{
		"review8b/f1": {"ind:domain-name:bec-pay.example", "ind:url:http://bec-pay.example/pay/81"},
		"review8b/f2": {"ind:domain-name:bec-pay.example", "ind:url:http://bec-pay.example/pay/81"},
		"review8b/f3": {"ind:domain-name:bec-pay.example", "ind:ipv4-addr:12.0.9.97", "ind:url:http://bec-pay.example/pay/91"},
		"review8b/f4": {"ind:domain-name:bec-pay.example", "ind:url:http://bec-pay.example/pay/83"},
		"review8b/f5": nil, // p4's links are at its unsigned From's domain: kept back (links.go).
		"review8b/f6": {"ind:domain-name:bec-pay.example", "ind:url:http://bec-pay.example/pay/82"},
		"review9/g1":  {"ind:domain-name:acme-c0rp.example", "ind:domain-name:bec-pay.example", "ind:url:http://acme-c0rp.example/virement/77", "ind:url:http://bec-pay.example/pay/77"},
	}
	for name, inds := range want {
		raw := intakeFixture(t, name)
		from, _ := mail.ParseAddressList(mail.ParseBytes(raw, mail.DefaultLimits()).Header.Get("From"))
		for _, c := range []struct {
			how string
			via intake.Via
		}{
			{"undeclared", intake.Via{Declared: "message/rfc822"}},
			{"as=forwarded", intake.Via{Declared: "message/rfc822", As: intake.AsForwarded}},
			{"authenticated at the mailbox", intake.Via{Mailbox: true, Reporter: from[0].Addr, Authenticated: true, Desk: []string{"report@desk.example"}}},
		} {
			items := sharedItems(t, an, raw, c.via)
			var got []string
			for _, it := range items {
				if strings.HasPrefix(it.Key, "ind:") {
					got = append(got, it.Key)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, inds) {
				t.Errorf("%s %s: shared\n  %v\nwant\n  %v", name, c.how, got, inds)
			}
			if name != "review8b/f5" {
				continue
			}
			all := listed(items, spamRun...)
			for _, leak := range []string{"acme-corp", "12.0.9.97", "helpdesk@", "abuse@"} {
				if strings.Contains(all, leak) {
					t.Errorf("f5 %s: %s is shared:\n%s", c.how, leak, all)
				}
			}
			if !strings.Contains(all, "hands back to its forwarder a mail that claims to be theirs") {
				t.Errorf("f5 %s: the report item does not say why its origin is not shared:\n%s", c.how, all)
			}
		}
	}
}

// TestUnwrappedForwarderNameIsCut: Carol forwards a spam sent to her
// address (which spells no name) to her firm's abuse desk, which passes
// her forward on to the national desk. Her level is unwrapped, so the
// stored report is the spam alone, whose fields do not carry her display
// name: the report keeps the From of each level unwrapped, and her name
// is cut from the subject, the links and the evidence as her address is
// — declared or not.
func TestUnwrappedForwarderNameIsCut(t *testing.T) {
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	spam := "Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.acme-corp.example; Sat, 28 Nov 2026 10:00:00 +0000\r\n" +
		"From: Parcel <track@parcel-scam.example>\r\nTo: cm1987@acme-corp.example\r\nSubject: Carol Martin, your parcel is waiting\r\n" +
		"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <ps1@parcel-scam.example>\r\n\r\n" +
		"Dear Carol, pay the fee: http://parcel-scam.example/pay/carol-martin/77\r\n"
	carol := "From: Carol Martin <cm1987@acme-corp.example>\r\nTo: abuse@acme-corp.example\r\nSubject: Fwd: your parcel\r\n" +
		"Date: Sat, 28 Nov 2026 10:05:00 +0000\r\nMessage-ID: <cf1@acme-corp.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=C\r\n\r\n" +
		"--C\r\nContent-Type: text/plain\r\n\r\nIs this real?\r\n--C\r\nContent-Type: message/rfc822\r\n\r\n" + spam + "--C--\r\n"
	desk := "From: Abuse desk <abuse@acme-corp.example>\r\nTo: report@desk.example\r\nSubject: Fwd: your parcel\r\n" +
		"Date: Sat, 28 Nov 2026 10:10:00 +0000\r\nMessage-ID: <ad1@acme-corp.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=D\r\n\r\n" +
		"--D\r\nContent-Type: text/plain\r\n\r\nA colleague got this.\r\n--D\r\nContent-Type: message/rfc822\r\n\r\n" + carol + "--D--\r\n"
	for _, via := range []intake.Via{{Declared: "message/rfc822"}, {Declared: "message/rfc822", As: intake.AsForwarded}} {
		items, err := intake.Extract([]byte(desk), via)
		if err != nil || len(items) != 1 || !strings.HasPrefix(string(items[0].Raw), "Received: from mx.bad.example") {
			t.Fatalf("as=%q: not unwrapped to the spam: %d items, %v", via.As, len(items), err)
		}
		if !slices.Equal(items[0].Forwarders, []string{"Carol Martin <cm1987@acme-corp.example>"}) {
			t.Errorf("as=%q: forwarders %q", via.As, items[0].Forwarders)
		}
		got := listed(sharedItems(t, an, []byte(desk), via))
		for _, leak := range []string{"Carol", "carol", "Martin", "martin", "cm1987"} {
			if strings.Contains(got, leak) {
				t.Errorf("as=%q: %s is shared:\n%s", via.As, leak, got)
			}
		}
		// The spam's links are at its unsigned From's domain: kept back
		// (links.go); its origin goes out.
		if strings.Contains(got, "ind:domain-name:parcel-scam.example ") {
			t.Errorf("as=%q: the unsigned From's domain is shared:\n%s", via.As, got)
		}
		for _, want := range []string{"ind:ipv4-addr:12.0.9.97 "} {
			if !strings.Contains(got, want) {
				t.Errorf("as=%q: %s is not shared:\n%s", via.As, want, got)
			}
		}
	}
}

// TestReviewFixturesShareNoUnsignedSender runs every message of the
// attack reviews' fixtures kept with the intake's tests through what a
// partner receives, taken as received and uploaded undeclared, on the
// offline resolver and on the ninth review's zone: no report item
// carries a sender domain, since none of them is DKIM-signed — though on
// the zone the SPF of many passes for their From's organisation (the
// count is checked, so the zero is not for want of a pass). Run with -v
// for the figures docs/federation.md gives ("What it costs").
func TestReviewFixturesShareNoUnsignedSender(t *testing.T) {
	lib := embeddedRules(t)
	zone, err := resolve.LoadZone(filepath.Join("..", "intake", "testdata", "review9", "zone"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(filepath.Join("..", "intake", "testdata"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".eml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, an := range []struct {
		name string
		an   *analysis.Analyzer
	}{{"offline", &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib}}, {"zone", &analysis.Analyzer{Resolver: zone, Rules: lib}}} {
		for _, via := range []struct {
			name string
			via  intake.Via
		}{{"received", intake.Via{As: intake.AsReceived}}, {"undeclared", intake.Via{Declared: "message/rfc822"}}} {
			items, withSender, spfPass := 0, 0, 0
			domains := map[string]bool{}
			for _, f := range files {
				raw, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				ex, err := intake.Extract(raw, via.via)
				if err != nil {
					continue // Not a complaint the desk takes (a bounce, an ARF report's part…).
				}
				for _, it := range ex {
					v, err := an.an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(it.Raw, mail.DefaultLimits())})
					if err != nil {
						t.Fatal(err)
					}
					if s := v.Auth.SPF; s.Source == mailauth.SourceComputed && s.Result == mailauth.Pass && v.Sender.Domains.From != "" && mailauth.Aligned(s.Domain, v.Sender.Domains.From, "r") {
						spfPass++
					}
				}
				for _, it := range sharedItems(t, an.an, raw, via.via) {
					if !strings.HasPrefix(it.Key, "rep:") {
						continue
					}
					items++
					var body struct {
						FromDomain string `json:"from_domain"`
					}
					if err := json.Unmarshal(it.Body, &body); err != nil {
						t.Fatal(err)
					}
					if body.FromDomain != "" {
						withSender++
						domains[body.FromDomain] = true
						t.Errorf("%s, %s, %s: %s shared as the sender domain, unsigned", f, an.name, via.name, body.FromDomain)
					}
				}
			}
			t.Logf("%s, %s: %d fixtures, %d report items, %d with a sender domain (%d domains); %d messages whose SPF passes for their From's organisation",
				an.name, via.name, len(files), items, withSender, len(domains), spfPass)
			if an.name == "zone" && spfPass == 0 {
				t.Errorf("%s: no fixture's SPF passes on the zone: the test shows nothing", via.name)
			}
		}
	}
}
