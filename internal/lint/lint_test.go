package lint

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

var dkimKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{42}, 32))

// zone is the sending domain's DNS, as a fixture.
func zone() *resolve.Zone {
	z := &resolve.Zone{}
	z.AddTXT("shop.example", "v=spf1 ip4:192.0.2.0/24 include:_spf.mailer.example -all")
	z.AddTXT("_spf.mailer.example", "v=spf1 ip4:198.51.100.0/24 -all")
	z.AddTXT("_dmarc.shop.example", "v=DMARC1; p=none; rua=mailto:dmarc@shop.example")
	z.AddTXT("s1._domainkey.shop.example", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(dkimKey.Public().(ed25519.PublicKey)))
	return z
}

const goodMsg = "From: Shop Ltd <news@shop.example>\r\nTo: bob@example.net\r\nSubject: Advertisement: the winter sale\r\n" +
	"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <w1@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"List-Unsubscribe: <https://node.example/u/abc>, <mailto:unsubscribe+abc@node.example?subject=unsubscribe>\r\n" +
	"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n" +
	"This is an advertisement from Shop Ltd. Our winter sale: 20% off every coat until Sunday, from $49.\r\n" +
	"Shop now at https://shop.example/sale\r\n\r\n" +
	"Shop Ltd, 1200 Market Street, Springfield, IL 62701\r\n" +
	"To unsubscribe, click https://node.example/u/abc\r\n"

func sign(t *testing.T, raw string, headers []string) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(raw), &dkim.SignOptions{Domain: "shop.example", Selector: "s1", Signer: dkimKey,
		HeaderKeys: headers, HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var allHeaders = []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"}

func linter(res resolve.Resolver) *Linter {
	lib, _ := rules.Embedded()
	return &Linter{Analyzer: &analysis.Analyzer{Resolver: res, Rules: lib, Jurisdictions: []string{"EU"}}}
}

func find(r *Report, check string) Finding {
	for _, f := range r.Findings {
		if f.Check == check {
			return f
		}
	}
	return Finding{Status: "absent"}
}

func dump(r *Report) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(string(f.Status) + " " + f.Check + ": " + f.Detail + "\n")
	}
	return b.String()
}

func TestCompliantCampaign(t *testing.T) {
	raw := sign(t, goodMsg, allHeaders)
	r, err := linter(zone()).Lint(context.Background(), mail.ParseBytes(raw, mail.DefaultLimits()), Options{Jurisdictions: []string{"EU", "US", "CA"}, Bulk: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean || r.Breaches != 0 {
		t.Fatalf("a compliant campaign has %d breaches:\n%s", r.Breaches, dump(r))
	}
	for _, c := range []string{"auth.spf", "auth.dkim", "auth.dkim-aligned", "auth.dmarc", "optout.one-click", "optout.dkim-covers",
		"optout.body-link", "bulk.authentication", "bulk.alignment", "law.us-7704a5-postal-address", "law.eu-valid-opt-out"} {
		if f := find(r, c); f.Status != OK {
			t.Errorf("%s = %s: %s", c, f.Status, f.Detail)
		}
	}
	// Consent cannot be seen without the sender's records.
	if f := find(r, "law.eu-prior-consent"); f.Status != NeedsContext {
		t.Errorf("EU consent without records = %s", f.Status)
	}
	if r.DNS != "fixture" || r.From != "news@shop.example" {
		t.Errorf("report: %+v", r)
	}
}

func TestNonCompliantCampaign(t *testing.T) {
	// No list headers, no postal address, no ad label, a display name that
	// shows another domain, unsigned.
	raw := "From: \"PayPal Security <service@paypal.com>\" <deals@shop.example>\r\nTo: bob@example.net\r\nSubject: Winter sale\r\n" +
		"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\nOur winter sale: 20% off every coat until Sunday, from $49. Buy now at https://shop.example/sale\r\n"
	r, err := linter(zone()).Lint(context.Background(), mail.ParseBytes([]byte(raw), mail.DefaultLimits()), Options{Jurisdictions: []string{"EU", "US"}, Bulk: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Clean {
		t.Fatalf("clean:\n%s", dump(r))
	}
	for _, c := range []string{"identity.not-disguised", "optout.present", "optout.list-unsubscribe", "optout.one-click", "auth.dkim",
		"law.us-7704a5-postal-address", "law.eu-valid-opt-out", "law.eu-identity-not-disguised", "bulk.one-click", "bulk.authentication"} {
		f := find(r, c)
		if f.Status != Breach {
			t.Errorf("%s = %s: %s", c, f.Status, f.Detail)
		}
		if len(f.Citations) == 0 || f.Citations[0] == "" {
			t.Errorf("%s has no citation", c)
		}
	}
	if f := find(r, "identity.message-id"); f.Status != Warning {
		t.Errorf("missing Message-ID = %s", f.Status)
	}
}

// A key published in testing mode (t=y): receivers treat the mail as
// unsigned, so the signature does not count and the fix says why.
func TestDKIMKeyInTestingMode(t *testing.T) {
	z := &resolve.Zone{}
	z.AddTXT("shop.example", "v=spf1 -all")
	z.AddTXT("s1._domainkey.shop.example", "v=DKIM1; k=ed25519; t=y; p="+base64.StdEncoding.EncodeToString(dkimKey.Public().(ed25519.PublicKey)))
	r, _ := linter(z).Lint(context.Background(), mail.ParseBytes(sign(t, goodMsg, allHeaders), mail.DefaultLimits()), Options{Bulk: true})
	if f := find(r, "auth.dkim"); f.Status != Breach || !strings.Contains(f.Fix, "t=y") {
		t.Errorf("key in testing mode: %+v", f)
	}
	if f := find(r, "auth.dkim-aligned"); f.Status != Breach {
		t.Errorf("alignment on a key in testing mode: %+v", f)
	}
}

func TestOneClickNeedsDKIMOverBothHeaders(t *testing.T) {
	raw := sign(t, goodMsg, []string{"From", "To", "Subject", "Date", "Message-ID"})
	r, _ := linter(zone()).Lint(context.Background(), mail.ParseBytes(raw, mail.DefaultLimits()), Options{})
	if f := find(r, "optout.dkim-covers"); f.Status != Breach || !strings.Contains(f.Citations[0], "8058") {
		t.Errorf("list headers outside the signature: %+v", f)
	}
	// The body changed after signing: DKIM fails, and so does alignment.
	tampered := bytes.Replace(sign(t, goodMsg, allHeaders), []byte("20% off"), []byte("90% off"), 1)
	r, _ = linter(zone()).Lint(context.Background(), mail.ParseBytes(tampered, mail.DefaultLimits()), Options{Bulk: true})
	if f := find(r, "auth.dkim"); f.Status != Breach {
		t.Errorf("tampered body: %+v", f)
	}
	if f := find(r, "bulk.alignment"); f.Status != Breach {
		t.Errorf("alignment with a failing signature: %+v", f)
	}
}

func TestSPFRecords(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		rec  []string
		want Status
		why  string
	}{
		{[]string{"v=spf1 mx -all"}, OK, ""},
		{[]string{"v=spf1 +all"}, Breach, "anyone"},
		{[]string{"v=spf1 mx"}, Warning, "protects nothing"},
		{[]string{"v=spf1 mx -all", "v=spf1 a -all"}, Breach, "more than one"},
		{nil, Breach, "no SPF record"},
		{[]string{"v=spf1 include:l1.example -all"}, Breach, "more than 10"},
	} {
		z2 := &resolve.Zone{}
		for _, r := range tc.rec {
			z2.AddTXT("shop.example", r)
		}
		for i := 1; i <= 11; i++ {
			z2.AddTXT("l"+itoa(i)+".example", "v=spf1 a include:l"+itoa(i+1)+".example -all")
		}
		z2.AddTXT("l12.example", "v=spf1 -all")
		c := &checker{r: &Report{}, o: Options{MailFrom: "bounce@shop.example"}, res: z2, m: mail.ParseBytes([]byte("From: a@shop.example\r\n\r\n"), mail.DefaultLimits()),
			v: &analysis.Verdict{}}
		c.spf(ctx)
		f := c.r.Findings[0]
		if f.Status != tc.want || !strings.Contains(f.Detail, tc.why) {
			t.Errorf("%v: %s %s", tc.rec, f.Status, f.Detail)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestOfflineSaysWhatItCannotCheck(t *testing.T) {
	raw := sign(t, goodMsg, allHeaders)
	r, _ := linter(resolve.Offline{}).Lint(context.Background(), mail.ParseBytes(raw, mail.DefaultLimits()), Options{Bulk: true})
	for _, c := range []string{"auth.spf", "auth.dkim", "auth.dmarc", "bulk.authentication"} {
		if f := find(r, c); f.Status != NeedsContext {
			t.Errorf("offline %s = %s", c, f.Status)
		}
	}
	if r.DNS != "offline" {
		t.Errorf("dns = %s", r.DNS)
	}
}

type fakeFacts struct {
	si SenderInfo
	ri RecipientInfo
}

func (f fakeFacts) Sender(context.Context) (SenderInfo, error) { return f.si, nil }
func (f fakeFacts) Recipient(context.Context, string, string) (RecipientInfo, error) {
	return f.ri, nil
}

func TestConsentAndSender(t *testing.T) {
	raw := sign(t, goodMsg, allHeaders)
	si := SenderInfo{ID: "shop.example", Domains: []string{"shop.example"}, Jurisdictions: []string{"EU", "US"}, Status: "active", ComplaintRate: 0.0002, Sent: 10000, Good: true}
	l := linter(zone())
	lint := func(ri RecipientInfo, si SenderInfo) *Report {
		r, err := l.Lint(context.Background(), mail.ParseBytes(raw, mail.DefaultLimits()), Options{Sender: fakeFacts{si, ri}, Recipient: "bob@example.net", List: "news", Bulk: true})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := lint(RecipientInfo{ConsentOnRecord: true, Basis: "consent", Confirmed: true, Record: "r1", Since: time.Now()}, si)
	if !r.Clean || find(r, "consent.on-record").Status != OK || find(r, "law.eu-prior-consent").Status != OK {
		t.Fatalf("consent on record:\n%s", dump(r))
	}
	if !strings.Contains(find(r, "law.eu-prior-consent").Detail, "consent records") {
		t.Errorf("the law finding does not say where consent came from: %s", find(r, "law.eu-prior-consent").Detail)
	}
	r = lint(RecipientInfo{OptedOut: true, OptOutReason: "one-click", OptedOutAt: time.Now()}, si)
	if f := find(r, "consent.opted-out"); f.Status != Breach || r.Clean {
		t.Errorf("opted out: %+v", f)
	}
	r = lint(RecipientInfo{}, si)
	if find(r, "law.eu-prior-consent").Status != Breach || find(r, "consent.on-record").Status != Warning {
		t.Errorf("no record:\n%s", dump(r))
	}
	bad := si
	bad.ComplaintRate, bad.Domains = 0.004, []string{"other.example"}
	r = lint(RecipientInfo{ConsentOnRecord: true, Basis: "consent"}, bad)
	for _, c := range []string{"sender.complaint-rate", "bulk.complaint-rate", "sender.from-domain", "sender.dkim-domain"} {
		if f := find(r, c); f.Status != Breach {
			t.Errorf("%s = %s", c, f.Status)
		}
	}
	// A small sender (trial 25 F7): one complaint of 2 messages is 50%,
	// but under consent.MinRateVolume messages it is judged by its
	// distinct complainants: 2 pass, 3 are a breach.
	small := si
	small.ComplaintRate, small.Sent, small.JudgedBy, small.Complainants = 0.5, 2, consent.JudgedByComplainants, 2
	r = lint(RecipientInfo{ConsentOnRecord: true, Basis: "consent"}, small)
	for _, c := range []string{"sender.complaint-rate", "bulk.complaint-rate"} {
		if f := find(r, c); f.Status != OK || !strings.Contains(f.Detail, "2 of 3 distinct complainants") {
			t.Errorf("small sender, 2 complainants: %s = %s (%s)", c, f.Status, f.Detail)
		}
	}
	small.Complainants = 3
	r = lint(RecipientInfo{ConsentOnRecord: true, Basis: "consent"}, small)
	for _, c := range []string{"sender.complaint-rate", "bulk.complaint-rate"} {
		if f := find(r, c); f.Status != Breach {
			t.Errorf("small sender, 3 complainants: %s = %s", c, f.Status)
		}
	}
}

// TestRegisteredPostalAddress: the README's own registration
// (--postal "1 Main St, Springfield") and that address in the text, as
// the sender wrote it or with other case, punctuation and spacing, meet
// CAN-SPAM's postal address; another address does not, and the fix then
// names the registered one.
func TestRegisteredPostalAddress(t *testing.T) {
	const check = "law.us-7704a5-postal-address"
	msgWith := func(footer string) []byte {
		return sign(t, strings.Replace(goodMsg, "Shop Ltd, 1200 Market Street, Springfield, IL 62701\r\n", footer, 1), allHeaders)
	}
	si := SenderInfo{ID: "shop.example", Domains: []string{"shop.example"}, Jurisdictions: []string{"EU", "US"}, Status: "active", Good: true,
		PostalAddress: "1 Main St, Springfield"}
	l := linter(zone())
	lint := func(raw []byte, si SenderInfo) Finding {
		r, err := l.Lint(context.Background(), mail.ParseBytes(raw, mail.DefaultLimits()), Options{Sender: fakeFacts{si: si}, Bulk: true})
		if err != nil {
			t.Fatal(err)
		}
		return find(r, check)
	}
	for _, footer := range []string{"Shop Ltd, 1 Main St, Springfield\r\n", "SHOP LTD - 1 main st.\r\n  Springfield.\r\n"} {
		if f := lint(msgWith(footer), si); f.Status != OK {
			t.Errorf("registered address in the text (%q): %s %s; fix %s", footer, f.Status, f.Detail, f.Fix)
		}
	}
	// Not the heuristic's shape (no number, no street type), only the
	// registration makes it an address.
	odd := si
	odd.PostalAddress = "Maison Verte, Lieu-dit Les Prés, Saint-Jean"
	if f := lint(msgWith("Shop Ltd, maison verte, lieu dit les prés, SAINT JEAN\r\n"), odd); f.Status != OK {
		t.Errorf("registered address of no known shape: %s %s", f.Status, f.Detail)
	}
	f := lint(msgWith("Shop Ltd, Springfield\r\n"), si)
	if f.Status != Breach || !strings.Contains(f.Fix, "1 Main St, Springfield") {
		t.Errorf("without the address: %s, fix %q", f.Status, f.Fix)
	}
	// A part of the address is not the address.
	if f := lint(msgWith("Call us at Main, Springfield\r\n"), odd); f.Status != Breach {
		t.Errorf("part of an address: %s", f.Status)
	}
}

// TestHTTPNodeLinksFix: a default node hands out http:// opt-out links;
// lint refuses them for one-click, and its fix says that the node's
// operator must set an https public URL, not that the sender must.
func TestHTTPNodeLinksFix(t *testing.T) {
	raw := sign(t, strings.ReplaceAll(goodMsg, "https://node.example/u/abc", "http://127.0.0.1:8080/u/abc"), allHeaders)
	r, err := linter(zone()).Lint(context.Background(), mail.ParseBytes(raw, mail.DefaultLimits()), Options{Bulk: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"optout.one-click", "bulk.one-click"} {
		f := find(r, c)
		if f.Status != Breach || !strings.Contains(f.Fix, "http://127.0.0.1:8080/u/abc") || !strings.Contains(f.Fix, "[senders] public_url") {
			t.Errorf("%s: %s, fix %q", c, f.Status, f.Fix)
		}
	}
}

// TestUnreachableMailtoFlagged: a mailto opt-out at localhost (what a node
// with no mail domain used to give) beside a working https link is named
// with its reason, not hidden behind "A List-Unsubscribe header: ok".
func TestUnreachableMailtoFlagged(t *testing.T) {
	raw := sign(t, strings.ReplaceAll(goodMsg, "unsubscribe+abc@node.example", "unsubscribe+abc@localhost"), allHeaders)
	r, err := linter(zone()).Lint(context.Background(), mail.ParseBytes(raw, mail.DefaultLimits()), Options{Bulk: true})
	if err != nil {
		t.Fatal(err)
	}
	f := find(r, "optout.list-unsubscribe-target")
	if f.Status != Warning || !strings.Contains(f.Detail, "mailto:unsubscribe+abc@localhost") || !strings.Contains(f.Detail, "single label") ||
		!strings.Contains(f.Fix, "mail_domain") {
		t.Fatalf("localhost mailto: %s %q fix %q\n%s", f.Status, f.Detail, f.Fix, dump(r))
	}
	if f := find(r, "optout.one-click"); f.Status != OK {
		t.Errorf("the https one-click target still works: %s %s", f.Status, f.Detail)
	}
	// The compliant message has no such finding.
	r, _ = linter(zone()).Lint(context.Background(), mail.ParseBytes(sign(t, goodMsg, allHeaders), mail.DefaultLimits()), Options{Bulk: true})
	if f := find(r, "optout.list-unsubscribe-target"); f.Status != "absent" {
		t.Errorf("a working mailto flagged: %s %s", f.Status, f.Detail)
	}
}
