package federation

// The fifteenth attack review's reproductions of its HIGHs, kept as they
// were written against the code it reviewed: each comment describes the
// harm as the review found it (then), and each test fails while that harm
// is present. All pass since the fixes (C1 the look-alike exception gone,
// C2 campaign link domains, C3 Exim's envelope-from, C7 lists on a
// hosting provider's server); its MEDIUM evasions are in
// docs/federation.md.
// Run: go test -count=1 -run TestReview15 -v ./internal/federation/

import (
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/resolve"
)

// C1 (HIGH): the look-alike exception (newLinkRule) shares an unsigned
// From's organisation when LookAlike calls it a "typosquat", less the
// domains that spell a brand's own name (spellsBrand, the B7 fix). But
// "one or two letters off a brand" is also what many real firms' own
// names are: PayPay (paypay.ne.jp, Japan's largest QR-payment firm, one
// letter off "paypal"), Telecom Argentina (telecom.com.ar) and Telecom
// Italia (telecom.it, one letter off "telekom"), Cloud Software Group
// (cloud.com, one letter off "icloud"), finance.com ("binance"),
// revolt.tv ("revolut"), floyds.com ("lloyds"), imports.com ("impots").
// An unsigned phish spoofing one of them, wearing its real links and
// logo, names the real firm to every partner.
func TestReview15C1RealFirmsOneLetterOffABrand(t *testing.T) {
	for _, d := range []string{"paypay.ne.jp", "telecom.com.ar", "telecom.it", "cloud.com", "finance.com", "revolt.tv", "floyds.com", "imports.com"} {
		body := `<p><img src="https://image.` + d + `/logo.png"> Your account is locked. <a href="https://evil-login.example/unlock">Unlock it</a>.</p>` +
			`<p><a href="https://www.` + d + `/help/">Help</a> &middot; <a href="https://www.` + d + `/privacy/">Privacy</a></p>`
		got := a14Shared(t, a14Msg("Service <no-reply@"+d+">", a14Bob, body))
		if strings.Contains(got, d) {
			t.Errorf("spoofed, unsigned From %s (the real firm's domain) is shared as the spam run's:\n%s", d, got)
		}
	}
}

// C2 (HIGH, privacy): the B8 fix keeps a link domain spelling one of the
// people out of the domain-name INDICATORS only (derive's namesPerson
// check on d.inds); d.domains — what the campaign item's link_domains is
// counted from — takes every Content.Domains entry the link rule does not
// keep back, and assemble's filter (people.HoldsDomain / IsAddress) knows
// no names. A thread-hijacking spam quoting the recipient's own signature
// (www.bobdurand.example, their personal site) sends "bobdurand.example"
// to partners in the campaign's link_domains.
func TestReview15C2CampaignLinkDomainsNameThePerson(t *testing.T) {
	body := `<p>Please see the invoice: <a href="https://evil-login.example/invoice">Invoice</a></p>` +
		`<blockquote>-- <br>Bob Durand<br><a href="https://www.bobdurand.example/">www.bobdurand.example</a></blockquote>`
	got := a14Shared(t, a14Msg("Service <service@mail-notice.example>", a14Bob, body))
	if !strings.Contains(got, "ind:domain-name:evil-login.example") {
		t.Fatalf("control: the landing domain is not shared:\n%s", got)
	}
	if strings.Contains(strings.ToLower(got), "bobdurand") {
		t.Errorf("the recipient's name reaches partners as a link domain:\n%s", got)
	}
}

// C3 (HIGH): replayedHere reads a Received field's "for" only after its
// LAST "by" (the B4 fix) — but Exim's default Received header writes the
// client's MAIL FROM after its "by": "by mx (Exim 4.96) (envelope-from
// <SENDER>) id … for RCPT". A replayer's MAIL FROM with a quoted local
// part, <"x for drop@spam-drop.example y"@bad.example>, puts the signed
// drop box there; it is read as a recorded recipient, the replay
// establishes the firm, and the firm whose helpdesk answer was replayed
// is named the spam run's sender (indicator and sender_domains).
func TestReview15C3EximEnvelopeFromDefeatsReplayCheck(t *testing.T) {
	zone := &resolve.Zone{}
	priv := keyIn(t, zone, "firm-help.example")
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	signed := helpdeskAnswer(t, priv)
	shared := func(raw []byte) string { return sharedOne(t, an, raw) }
	exim := func(sender string) string {
		return "Delivered-To: alice@victim-one.example\r\nReceived: from [12.0.9.97] (helo=mx.bad.example)\r\n\tby mx.victim-one.example with esmtp (Exim 4.96)\r\n\t(envelope-from <" +
			sender + ">)\r\n\tid 1tAbC-000123-Xy\r\n\tfor alice@victim-one.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"
	}
	if got := shared([]byte(exim("bounce@bad.example") + signed)); strings.Contains(got, "firm-help.example") {
		t.Fatalf("control: a plain replay through Exim already names the firm (check broken):\n%s", got)
	}
	for _, sender := range []string{`"x for drop@spam-drop.example y"@bad.example`, `x for drop@spam-drop.example y@bad.example`} {
		if got := shared([]byte(exim(sender) + signed)); strings.Contains(got, "firm-help.example") {
			t.Errorf("MAIL FROM <%s> (Exim writes it after its 'by'): the replay establishes the firm, named as the spam run's sender:\n%s", sender, got)
		}
	}
}

// C7 (HIGH): the price of the B5 fix. listOrgOf now takes a List-Id at
// another organisation than the From as a list's only when the origin's
// reverse name is at the List-Id's organisation. A list run on a hosting
// provider's server — cPanel's Mailman on shared hosting
// (lists.assoc.example served from server123.hostprovider.example), a
// Workspace group (List-Id at the customer's domain, sent from
// google.com's servers), a hosted Sympa — is delivered under the
// provider's reverse name. A spam posted to such an open list, its
// poster's From kept, shares the association's domain and its listinfo
// and home-page links as the spam run's: the thirteenth review's A8/A11,
// reopened for every hosted list.
func TestReview15C7HostedListNamesTheAssociation(t *testing.T) {
	raw := "Received: from server123.hostprovider.example (server123.hostprovider.example [12.0.9.97]) by mx.client-firm.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
		"From: Cheap Meds <offers@spam-sender.example>\r\nTo: undisclosed-recipients:;\r\nSubject: Cheap meds\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n" +
		"Message-ID: <a15c7@spam-sender.example>\r\nList-Id: Members of the Assoc <members.lists.assoc.example>\r\n" +
		"List-Unsubscribe: <https://lists.assoc.example/mailman/options/members>, <mailto:members-leave@lists.assoc.example>\r\n" +
		"List-Post: <mailto:members@lists.assoc.example>\r\nPrecedence: list\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		`<p>Best prices: <a href="https://pills-shop.example/buy">buy now</a></p><hr>` +
		`<p>Members mailing list &middot; <a href="https://lists.assoc.example/mailman/listinfo/members">listinfo</a> &middot; <a href="https://www.assoc.example/">The Assoc</a></p>` + "\r\n"
	got := a14Shared(t, []byte(raw))
	if !strings.Contains(got, "pills-shop.example") {
		t.Fatalf("control: the spam's own domain is not shared:\n%s", got)
	}
	if strings.Contains(got, "assoc.example") {
		t.Errorf("a hosted open list's association is named as the spam run's:\n%s", got)
	}
	// Control: the same list delivered under its own reverse name keeps it back.
	own := strings.ReplaceAll(raw, "server123.hostprovider.example", "lists.assoc.example")
	if got := a14Shared(t, []byte(own)); strings.Contains(got, "assoc.example") {
		t.Errorf("control (the list's own server): the association is named:\n%s", got)
	}
}
