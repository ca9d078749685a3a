package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/emersion/go-msgauth/dkim"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/resolve"
)

// TestFirmAPhishWearsIsNoLink is the eleventh attack review's F2 (HIGH):
// the From domain the sender rule withheld went out anyway as a link
// domain, a campaign's link domain and URLs, because a phish carries the
// impersonated firm's real links — its logo, its legal notice, its web
// address in the signature. Each case is a phish wearing a firm's name;
// none of the firm's names may reach a partner in an indicator, a
// campaign or a report item, while the phish's own landing page (where
// it has one) still does. Then the controls: spam whose links lead to its
// own unsigned From domain shares them, on the offline resolver too.
func TestFirmAPhishWearsIsNoLink(t *testing.T) {
	lib := embeddedRules(t)
	offline := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: lib}
	zone, err := resolve.LoadZone(filepath.Join("..", "intake", "testdata", "review9", "zone"))
	if err != nil {
		t.Fatal(err)
	}
	zone.AddTXT("_dmarc.bnp-banque.example", "v=DMARC1; p=reject")
	online := &analysis.Analyzer{Resolver: zone, Rules: lib}
	const recv = "Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"
	msg := func(from, to, extra, body string) []byte {
		return []byte(recv + "From: " + from + "\r\nTo: " + to + "\r\n" + extra + "Subject: Votre compte\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n" +
			"Message-ID: <w1@bulk-mailer.example>\r\nContent-Type: text/html\r\n\r\n" + body + "\r\n")
	}
	const (
		logo    = `<img src="https://www.bnp-banque.example/img/logo.png">`
		legal   = `<p><a href="https://www.bnp-banque.example/mentions-legales">Mentions legales</a></p>`
		landing = `<p><a href="http://mailbox-upgrade.example/owa/login">Connexion</a></p>`
		site    = `<p>BNP Banque, www.bnp-banque.example</p>`
		bank    = "BNP Banque <securite@bnp-banque.example>"
		bob     = "Bob Durand <bob.durand@gmail.example>"
	)
	for _, c := range []struct {
		name   string
		an     *analysis.Analyzer
		raw    []byte
		hidden string   // Never shared.
		want   []string // Shared.
	}{
		{"the review's phish: logo, legal notice and a landing page elsewhere", offline,
			msg(bank, bob, "", logo+landing+legal), "bnp-banque", []string{"ind:domain-name:mailbox-upgrade.example", "ind:url:http://mailbox-upgrade.example/owa/login"}},
		{"the same on a checking resolver", online,
			msg(bank, bob, "", logo+landing+legal), "bnp-banque", []string{"ind:domain-name:mailbox-upgrade.example"}},
		{"to the bank's own staff, nothing but its web address", offline,
			msg(bank, "Claire Petit <claire@bnp-banque.example>", "", "<p>Merci de valider le virement en piece jointe.</p>"+site), "bnp-banque", nil},
		{"replies to a free-mail box, the firm's web address only", offline,
			msg("Pierre Martin <p.martin@fournisseur-bois.example>", bob, "Reply-To: p.martin.fournisseur@gmail.example\r\n",
				`<p>Nos coordonnees bancaires changent.</p><p><a href="https://www.fournisseur-bois.example/">fournisseur-bois.example</a></p>`), "fournisseur-bois", nil},
		{"a call-back phish whose only link is the bank's, its DMARC computed", online,
			msg(bank, bob, "", `<p>Appelez le 01 23 45 67 89.</p><p><a href="https://www.bnp-banque.example/">Accueil</a></p>`), "bnp-banque", nil},
		{"nothing but the logo loaded from the bank's site", offline,
			msg(bank, bob, "", logo+"<p>Appelez le 01 23 45 67 89.</p>"), "bnp-banque", nil},
		{"a known brand's links, whoever the From", offline,
			msg("Service <service@mail-notice.example>", bob, "", `<img src="https://www.paypal.com/logo.png"><a href="https://www.paypal.com/legal">Legal</a><a href="http://account-check.example/login">Log in</a>`),
			"paypal.com", []string{"ind:domain-name:account-check.example", "ind:url:http://account-check.example/login"}},
		{"a phisher's page on a platform's tenant", offline,
			msg("Service <service@mail-notice.example>", bob, "", `<a href="https://evil-tenant.sharepoint.com/sites/login">Open</a>`),
			"domain-name:sharepoint.com", []string{"ind:url:https://evil-tenant.sharepoint.com/sites/login"}},
		{"a brand's asset and short-link hosts the brand list does not name", offline,
			msg("Service <service@mail-notice.example>", bob, "", `<img src="https://www.paypalobjects.com/logo.png"><a href="https://aka.ms/learnwhy">Learn why</a><a href="https://x.com/paypal">X</a><a href="http://account-check.example/login">Log in</a>`),
			"paypalobjects", []string{"ind:domain-name:account-check.example"}},
		{"a mail app's footer under a free-mail scam", offline,
			msg("Barrister James <james.law@gmail.com>", bob, "", `<p>Reply for the transfer.</p><p><a href="https://overview.mail.yahoo.com/">Sent from Yahoo Mail</a> <a href="https://aka.ms/o0ukef">Get Outlook for iOS</a> <a href="https://www.gmx.net/mail/">GMX</a></p>`),
			"domain-name:", []string{"ind:ipv4-addr:12.0.9.97"}},
		{"forms, link pages, image hosts and mail services' tracking (the thirteenth review's A4)", offline,
			msg("Service <service@mail-notice.example>", bob, "", `<a href="https://form.jotform.com/23/x">Form</a><a href="https://linktr.ee/scam">Links</a>`+
				`<img src="https://i.imgur.com/abc.png"><a href="https://forms.cloud.microsoft/r/abc">MS Form</a><a href="https://s3.amazonaws.com/bucket/x.html">S3</a>`+
				`<a href="https://abc.activehosted.com/x">AC</a><img src="https://m.media-amazon.com/i.png"><img src="https://http2.mlstatic.com/i.png">`),
			"domain-name:", []string{"ind:url:https://form.jotform.com/23/x", "ind:url:https://linktr.ee/scam", "ind:url:https://forms.cloud.microsoft/r/abc"}},
		{"a form on a brand's pages anyone publishes on", offline,
			msg("Service <service@mail-notice.example>", bob, "", `<a href="https://docs.google.com/forms/d/e/1FAIpQLSf/viewform">Verify</a>`),
			"domain-name:google.com", []string{"ind:url:https://docs.google.com/forms/d/e/1FAIpQLSf/viewform"}},
		{"a phisher's bucket: its link, not the cloud's domain", offline,
			msg("Ledger <support@ledger-restore.example>", bob, "", `<a href="https://my-ledger-restore.s3.eu-north-1.amazonaws.com/index.html">Restore</a>`),
			"domain-name:", []string{"ind:url:https://my-ledger-restore.s3.eu-north-1.amazonaws.com/index.html"}},
	} {
		got := listed(sharedItems(t, c.an, c.raw, intake.Via{As: intake.AsReceived}), spamRun...)
		if strings.Contains(got, c.hidden) {
			t.Errorf("%s: %s is shared:\n%s", c.name, c.hidden, got)
		}
		for _, w := range c.want {
			if !strings.Contains(got, w+" ") {
				t.Errorf("%s: %s is not shared:\n%s", c.name, w, got)
			}
		}
		if c.hidden == "bnp-banque" && !strings.Contains(got, "links to the From's organisation: not shared") {
			t.Errorf("%s: the report item does not say why the From's links are kept back:\n%s", c.name, got)
		}
	}
	// An unsigned From's own links, alone or beside a brand's logo, are
	// kept back too: the same message is the spammer's own mailing or a
	// phish dressed as a firm, and nothing it writes tells them apart.
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"its own links only", msg("Parcel <track@parcel-scam.example>", bob, "", `<a href="http://parcel-scam.example/pay/77">Payer</a>`)},
		{"its own links beside a brand's logo", msg("Parcel <track@parcel-scam.example>", bob, "", `<img src="https://www.paypal.com/logo.png"><a href="http://parcel-scam.example/pay/77">Payer</a>`)},
	} {
		got := listed(sharedItems(t, offline, c.raw, intake.Via{As: intake.AsReceived}), spamRun...)
		if strings.Contains(got, "parcel-scam") && !strings.Contains(got, "ind:ipv4-addr:12.0.9.97 ") {
			t.Errorf("unsigned, %s: the From's links are shared, or the origin is not:\n%s", c.name, got)
		}
		if !strings.Contains(got, fromWithheld) {
			t.Errorf("unsigned, %s: the report item does not say why:\n%s", c.name, got)
		}
	}
	// A From that looks like a brand's may be the brand's own domain the
	// list lacks, a real regional firm's (the thirteenth review's A5), or
	// a real firm's one letter off a brand's name (paypay.ne.jp,
	// telecom.it: the fifteenth review's C1): kept back like any unsigned
	// From, a phisher's typosquat too.
	for _, from := range []string{"PayPal <service@paypal.ch>", "Sparkasse <service@sparkasse-hannover.de>", "PayPal <service@paypa1.example>", "PayPay <info@paypay.ne.jp>", "Telecom <info@telecom.it>"} {
		dom := from[strings.Index(from, "@")+1 : len(from)-1]
		got := listed(sharedItems(t, offline, msg(from, bob, "", `<a href="https://www.`+dom+`/login">Log in</a>`), intake.Via{As: intake.AsReceived}), spamRun...)
		if strings.Contains(got, dom) {
			t.Errorf("%s: its links are shared:\n%s", from, got)
		}
	}
	// The controls: the From's own links go out when its signature
	// establishes it.
	priv := keyIn(t, zone, "parcel-scam.example")
	for _, c := range []struct {
		name string
		an   *analysis.Analyzer
		raw  []byte
		want []string
	}{
		{"signed, its own links", online, signAs(t, msg("Parcel <track@parcel-scam.example>", bob, "", `<a href="http://parcel-scam.example/pay/77">Payer</a>`), "parcel-scam.example", priv),
			[]string{"ind:domain-name:parcel-scam.example", "ind:url:http://parcel-scam.example/pay/77"}},
		{"signed, beside a brand's logo", online, signAs(t, msg("Parcel <track@parcel-scam.example>", bob, "", `<img src="https://www.paypal.com/logo.png"><a href="http://parcel-scam.example/pay/77">Payer</a>`), "parcel-scam.example", priv),
			[]string{"ind:domain-name:parcel-scam.example", "ind:url:http://parcel-scam.example/pay/77"}},
	} {
		got := listed(sharedItems(t, c.an, c.raw, intake.Via{As: intake.AsReceived}), spamRun...)
		for _, w := range c.want {
			if !strings.Contains(got, w+" ") {
				t.Errorf("control %s: %s is not shared:\n%s", c.name, w, got)
			}
		}
		if strings.Contains(got, fromWithheld) {
			t.Errorf("control %s: the From's links are said kept back:\n%s", c.name, got)
		}
	}
}

// TestOneReportCountsOnce is the eleventh review's F8: one report counted
// twice in an indicator's "reports" when its established sender domain is
// also one of its link domains, and once per link when several of its
// links generalise to the same URL. The docs' safeguard, "one report's
// indicator is one reporter's word", needs the count to be of reports.
func TestOneReportCountsOnce(t *testing.T) {
	zone, err := resolve.LoadZone(filepath.Join("..", "intake", "testdata", "review9", "zone"))
	if err != nil {
		t.Fatal(err)
	}
	priv := keyIn(t, zone, "cheap-pills.example")
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	raw := signAs(t, []byte("Received: from mx.cheap-pills.example (mx.cheap-pills.example [12.0.9.80]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
		"From: Pills <offers@cheap-pills.example>\r\nTo: Bob <bob.durand@gmail.example>\r\nSubject: Pills\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
		"Message-ID: <o1@cheap-pills.example>\r\n\r\nBuy: http://cheap-pills.example/buy?u=1 or http://cheap-pills.example/buy?u=2\r\n"), "cheap-pills.example", priv)
	got := listed(sharedItems(t, an, raw, intake.Via{As: intake.AsReceived}), "ind:")
	if !strings.Contains(got, `"from_domain"`) && !strings.Contains(got, "ind:domain-name:cheap-pills.example ") {
		t.Fatalf("the signed sender is not shared:\n%s", got)
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if !strings.Contains(line, `"reports":1,`) {
			t.Errorf("one report counted more than once: %s", line)
		}
	}
	if !strings.Contains(got, "ind:url:http://cheap-pills.example/buy ") {
		t.Errorf("the link is not shared:\n%s", got)
	}
}

// TestLookAlikeSenderAsALabel is the eleventh review's F7: a look-alike
// From written with a Cyrillic а, signed by its registrant, is the
// spammer's domain and goes out — as its A-label, which does not read as
// the brand it imitates.
func TestLookAlikeSenderAsALabel(t *testing.T) {
	const uni, ace = "p\u0430ypal.example", "xn--pypal-4ve.example"
	zone := &resolve.Zone{}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	zone.AddTXT("s1._domainkey."+ace, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	raw := signAs(t, []byte("Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
		"From: PayPal <service@"+uni+">\r\nTo: Bob <bob@gmail.example>\r\nSubject: Limited\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <h1@x>\r\n\r\n"+
		"Log in: http://paypa1-secure.example/login\r\n"), ace, priv)
	got := listed(sharedItems(t, an, raw, intake.Via{As: intake.AsReceived}), spamRun...)
	if strings.Contains(got, uni) {
		t.Errorf("the look-alike is shared as written:\n%s", got)
	}
	for _, w := range []string{"ind:domain-name:" + ace + " ", `"from_domain":"` + ace + `"`} {
		if !strings.Contains(got, w) {
			t.Errorf("%s is not shared:\n%s", w, got)
		}
	}
}

// TestListRewrittenFromNotTheSender is the eleventh review's F4: a
// mailing list that rewrites its poster's From to its own address (the
// DMARC mitigation) and signs what it re-sends. A spam posted to the list,
// or sent to it by Bcc, verified as the list's: its domain (an
// association's) was shared as the spam's sender. A list's marks beside
// the List-Id (a "via" display name, a List-Post address, X-Original-From)
// keep it back; a sender's own signed newsletter with a List-Id and none
// of them still shares its domain.
func TestListRewrittenFromNotTheSender(t *testing.T) {
	zone := &resolve.Zone{}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"lists.assoc.example", "news.pills-shop.example"} {
		zone.AddTXT("s1._domainkey."+d, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	}
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	msg := func(from, to, extra, d string) []byte {
		return signAs(t, []byte("Received: from lists.assoc.example (lists.assoc.example [198.51.100.30]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:01 +0000\r\n"+
			"Delivered-To: member@gmail.example\r\nFrom: "+from+"\r\nTo: "+to+"\r\n"+extra+"Subject: Cheap pills\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
			"Message-ID: <l1@lists.assoc.example>\r\n\r\nBest prices: http://pills-shop.example/buy/42\r\n"), d, priv)
	}
	const list = "List-Id: Friends <friends.lists.assoc.example>\r\nReply-To: pills@gmail.example\r\n"
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"by Bcc, a via name", msg(`"Pill Seller via Friends" <friends@lists.assoc.example>`, "undisclosed-recipients:;", list, "lists.assoc.example")},
		{"to the list, a via name", msg(`"Pill Seller via Friends" <friends@lists.assoc.example>`, "friends@lists.assoc.example", list, "lists.assoc.example")},
		{"List-Post", msg(`Friends <friends@lists.assoc.example>`, "undisclosed-recipients:;", list+"List-Post: <mailto:friends@lists.assoc.example>\r\n", "lists.assoc.example")},
		{"X-Original-From", msg(`Friends <friends@lists.assoc.example>`, "undisclosed-recipients:;", list+"X-Original-From: pills@gmail.example\r\n", "lists.assoc.example")},
	} {
		got := listed(sharedItems(t, an, c.raw, intake.Via{As: intake.AsReceived}), spamRun...)
		if strings.Contains(got, "assoc.example") {
			t.Errorf("%s: the list's domain is shared:\n%s", c.name, got)
		}
		if !strings.Contains(got, "ind:domain-name:pills-shop.example ") || !strings.Contains(got, "a mailing list's own address") {
			t.Errorf("%s: the spam's link is not shared, or the item does not say why the sender is not:\n%s", c.name, got)
		}
	}
	own := signAs(t, []byte("Received: from mx.pills-shop.example (mx.pills-shop.example [12.0.9.80]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:01 +0000\r\n"+
		"From: Pills Shop <offers@news.pills-shop.example>\r\nTo: bob@gmail.example\r\nList-Id: <offers.news.pills-shop.example>\r\nList-Unsubscribe: <http://pills-shop.example/u>\r\n"+
		"Subject: Cheap pills\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <n1@pills-shop.example>\r\n\r\nBest prices: http://pills-shop.example/buy/42\r\n"), "news.pills-shop.example", priv)
	if got := listed(sharedItems(t, an, own, intake.Via{As: intake.AsReceived}), spamRun...); !strings.Contains(got, `"from_domain":"news.pills-shop.example"`) {
		t.Errorf("a sender's own signed newsletter does not share its domain:\n%s", got)
	}
	// The twelfth review's F6: marks a spammer writes on its own signed
	// mail with no poster elsewhere (X-Original-From: x, a "via" name)
	// do not make it a list's. With a Reply-To elsewhere too, its mail
	// reads as a list's own in every field: its domain and its links are
	// kept back as a list's, its origin goes out — what not signing at all
	// would have got it (links.go).
	forged := func(extra, name string) []byte {
		return signAs(t, []byte("Received: from mx.pills-shop.example (mx.pills-shop.example [12.0.9.80]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:01 +0000\r\n"+
			"From: "+name+" <offers@news.pills-shop.example>\r\nTo: bob@gmail.example\r\nList-Id: <offers.news.pills-shop.example>\r\n"+extra+
			"Subject: Cheap pills\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <n2@pills-shop.example>\r\n\r\nBest prices: http://pills-shop.example/buy/42\r\n"), "news.pills-shop.example", priv)
	}
	for name, raw := range map[string][]byte{"X-Original-From: x": forged("X-Original-From: x\r\n", "Pills"), "a via name": forged("", "Deals via Pills Shop")} {
		if got := listed(sharedItems(t, an, raw, intake.Via{As: intake.AsReceived}), spamRun...); !strings.Contains(got, `"from_domain":"news.pills-shop.example"`) {
			t.Errorf("forged marks (%s) keep a signed spammer's domain back:\n%s", name, got)
		}
	}
	if got := listed(sharedItems(t, an, forged("Reply-To: pills@gmail.example\r\n", "Deals via Pills Shop"), intake.Via{As: intake.AsReceived}), spamRun...); strings.Contains(got, "pills-shop") || !strings.Contains(got, "ind:ipv4-addr:12.0.9.80 ") {
		t.Errorf("forged marks and a Reply-To elsewhere: the list's domain is shared, or the origin is not:\n%s", got)
	}
	// The twelfth review's F5: a spam with no link of its own, Bcc'd to an
	// association's list: the list's footer (its listinfo page, the host
	// of its List-* fields) is the list's, signed or not.
	footer := func(sign bool) []byte {
		m := "From: \"Prince via Friends\" <friends@lists.assoc.example>\r\nReply-To: prince@gmail.example\r\nTo: undisclosed-recipients:;\r\n" + list +
			"List-Unsubscribe: <https://lists.assoc.example/mailman/options/friends>\r\nList-Help: <mailto:friends-request@lists.assoc.example?subject=help>\r\n" +
			"Subject: Business proposal\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <l9@lists.assoc.example>\r\n\r\nReply for the transfer.\r\n" +
			"-- \r\nFriends mailing list https://lists.assoc.example/mailman/listinfo/friends\r\n"
		raw := []byte("Received: from lists.assoc.example (lists.assoc.example [198.51.100.30]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:01 +0000\r\n" + m)
		if sign {
			raw = signAs(t, raw, "lists.assoc.example", priv)
		}
		return raw
	}
	offline := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	for name, c := range map[string]struct {
		an  *analysis.Analyzer
		raw []byte
	}{"signed": {an, footer(true)}, "offline": {offline, footer(false)},
		// The thirteenth review's A11: the footer's link to the
		// association's home page, on another host than its List-* fields.
		"signed, a home-page link": {an, signAs(t, bytes.Replace(footer(false), []byte("-- \r\n"), []byte("-- \r\nhttps://www.assoc.example/\r\n"), 1), "lists.assoc.example", priv)},
		// A8: an open list that keeps its poster's From.
		"an open list, the poster's From kept": {offline, []byte("Received: from lists.assoc.example (lists.assoc.example [198.51.100.30]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:01 +0000\r\n" +
			"From: Prince <prince@gmail.example>\r\nTo: undisclosed-recipients:;\r\n" + list + "Subject: Business proposal\r\n\r\nReply for the transfer.\r\n-- \r\nFriends mailing list https://lists.assoc.example/mailman/listinfo/friends https://www.assoc.example/\r\n")},
	} {
		if got := listed(sharedItems(t, c.an, c.raw, intake.Via{As: intake.AsReceived}), spamRun...); strings.Contains(got, "assoc.example") {
			t.Errorf("%s: the list's footer is shared:\n%s", name, got)
		}
	}
}

// TestIndicatorsNeedTheReportsTheAgreementAsks is the eleventh review's
// F3: one report of a firm's genuine signed mail (a password reset) names
// the firm, and its signature is real. An agreement's min_reports = 2
// keeps an indicator back until a second report bears it out; the
// default (1) shares it, with its count. The firm's indicators from one
// report are denied under 2, and allowed once a second recipient's
// report of the same firm arrives.
func TestIndicatorsNeedTheReportsTheAgreementAsks(t *testing.T) {
	zone := &resolve.Zone{}
	priv := keyIn(t, zone, "acme-shop.example")
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	reset := func(to string) []byte {
		return signAs(t, []byte("Received: from mail.acme-shop.example (mail.acme-shop.example [198.51.100.20]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
			"From: ACME Shop <no-reply@acme-shop.example>\r\nTo: "+to+"\r\nSubject: Reset your password\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
			"Message-ID: <pw-"+to+"@acme-shop.example>\r\n\r\nReset it here: https://acme-shop.example/reset\r\n"), "acme-shop.example", priv)
	}
	peer := PeerState{Name: "us", Status: StatusActive}
	const terms = "id = \"x\"\nversion = 1\naudience = [\"us\"]\nshare = [\"indicators\"]\ntlp_max = \"green\"\norigins = [\"*\"]\n"
	one, two := agreement(t, terms), agreement(t, terms+"min_reports = 2\n")
	firm := func(raws ...[]byte) []Item {
		m := &memSource{reporters: map[string]string{}}
		for i, raw := range raws {
			v, err := an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(raw, mail.DefaultLimits())})
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("r%d", i)
			m.reports = append(m.reports, &intake.Report{ID: id, CampaignID: "c", Raw: raw, SHA256: HashBody(raw), ReceivedAt: time.Date(2026, 11, 28, 10, 0, i, 0, time.UTC), Verdict: v})
		}
		sh, err := Collect(context.Background(), m, "FR")
		if err != nil {
			t.Fatal(err)
		}
		var out []Item
		for _, g := range sh.ItemsFor(nil) {
			for _, it := range g.Items {
				if strings.HasPrefix(it.Key, "ind:") && strings.Contains(it.Key, "acme-shop") {
					out = append(out, it)
				}
			}
		}
		if len(out) == 0 {
			t.Fatal("the firm's signed mail gives no indicator at all")
		}
		return out
	}
	for _, it := range firm(reset("bob@gmail.example")) {
		if d := Decide(one, peer, it, now); !d.Allow {
			t.Errorf("one report, default terms: %s denied: %v", it.Key, d)
		}
		if d := Decide(two, peer, it, now); d.Allow || d.Clause != "min_reports" {
			t.Errorf("one report, min_reports = 2: %s: %v", it.Key, d)
		}
	}
	// One recipient reporting the mail twice (the mail client's button,
	// then a forward) is one recipient's word (the thirteenth review's A10).
	for _, it := range firm(reset("bob@gmail.example"), reset("bob@gmail.example")) {
		if d := Decide(two, peer, it, now); d.Allow || d.Clause != "min_reports" {
			t.Errorf("one recipient twice, min_reports = 2: %s: %v", it.Key, d)
		}
	}
	for _, it := range firm(reset("bob@gmail.example"), reset("ann@yahoo.example")) {
		if d := Decide(two, peer, it, now); !d.Allow {
			t.Errorf("two reports, min_reports = 2: %s denied: %v", it.Key, d)
		}
	}
}

// TestRedirectTargetShared is the twelfth review's F12: a landing page
// behind a well-known redirector (google.com/url?q=…, youtube.com/redirect,
// l.facebook.com) reached partners in no form, the redirector being a
// well-known site's. Its target is shared under the same rules as any
// link: a well-known site's target is not, and a path like /url on any
// other host is that host's own link.
func TestRedirectTargetShared(t *testing.T) {
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	mk := func(href string) []byte {
		return []byte("Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
			"From: Service <service@mail-notice.example>\r\nTo: Bob <bob@gmail.example>\r\nSubject: Verify\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
			"Message-ID: <r1@mail-notice.example>\r\nContent-Type: text/html\r\n\r\n<p><a href=\"" + href + "\">Verify your account</a></p>\r\n")
	}
	for _, wrap := range []string{
		"https://www.google.com/url?q=https://evil-login.example/x&sa=D",
		"https://www.youtube.com/redirect?q=https%3A%2F%2Fevil-login.example%2Fx",
		"https://l.facebook.com/l.php?u=https%3A%2F%2Fevil-login.example%2Fx",
		// Mail filters' link rewriting, on every link of a report
		// forwarded from a protected company mailbox.
		"https://urldefense.com/v3/__https://evil-login.example/x__;!!ABCdef!xyz$",
		"https://urldefense.proofpoint.com/v2/url?u=https-3A__evil-2Dlogin.example_x&d=DwMF&c=abc",
		"https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fevil-login.example%2fx&c=E,1,abc",
		"https://www.bing.com/ck/a?!&&p=abc&u=a1" + base64.RawURLEncoding.EncodeToString([]byte("https://evil-login.example/x")) + "&ntb=1",
	} {
		got := listed(sharedItems(t, an, mk(wrap), intake.Via{As: intake.AsReceived}), spamRun...)
		for _, w := range []string{"ind:domain-name:evil-login.example ", "ind:url:https://evil-login.example/x "} {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %s is not shared:\n%s", wrap, w, got)
			}
		}
		if strings.Contains(got, "google.com") || strings.Contains(got, "facebook.com") || strings.Contains(got, "youtube.com") ||
			strings.Contains(got, "urldefense") || strings.Contains(got, "cudasvc") || strings.Contains(got, "bing.com") {
			t.Errorf("%s: the redirector is shared:\n%s", wrap, got)
		}
	}
	if got := listed(sharedItems(t, an, mk("https://www.google.com/url?q=https://www.paypal.com/signin"), intake.Via{As: intake.AsReceived}), spamRun...); strings.Contains(got, "paypal") {
		t.Errorf("a redirect to a well-known site shares it:\n%s", got)
	}
	if got := listed(sharedItems(t, an, mk("https://tracker.example/url?q=https://innocent-shop.example/"), intake.Via{As: intake.AsReceived}), spamRun...); strings.Contains(got, "innocent-shop") || !strings.Contains(got, "ind:domain-name:tracker.example ") {
		t.Errorf("another host's /url is read as a redirect:\n%s", got)
	}
}

// FuzzRedirectTarget: any link text a message carries gives "" or an
// http(s) link with a host, never a panic.
func FuzzRedirectTarget(f *testing.F) {
	for _, s := range []string{"https://www.google.com/url?q=https://evil-login.example/x", "https://l.facebook.com/l.php?u=%zz", "http://google.com/url?q=javascript:alert(1)", "https://[::1]/url?q=http://a", "://", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := redirectTarget(raw)
		if got == "" {
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("%q gave %q", raw, got)
		}
	})
}

// TestSignedForwarderNotShared is the thirteenth review's A9: a lawyer
// forwards a spam inline to a client, and the client's report is taken
// whole (nobody said it is a forward). On a checking resolver the
// lawyer's firm's DKIM signature verifies — but the report may be a
// person's forward, whose From is the forwarder's: the firm's links (its
// signature block) are not the spam run's, and the spam's are.
func TestSignedForwarderNotShared(t *testing.T) {
	zone := &resolve.Zone{}
	priv := keyIn(t, zone, "dubois-avocats.example")
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	raw := signAs(t, []byte("Received: from mail.dubois-avocats.example (mail.dubois-avocats.example [198.51.100.44]) by mx.gmail.example; Sat, 28 Nov 2026 11:00:01 +0000\r\n"+
		"From: Me Dubois <m.dubois@dubois-avocats.example>\r\nTo: Alice Martin <alice.martin@gmail.example>\r\nSubject: TR: Facture impayee\r\nDate: Sat, 28 Nov 2026 11:00:00 +0000\r\n"+
		"Message-ID: <fw1@dubois-avocats.example>\r\n\r\nAlice, regarde ce mail bizarre.\r\n\r\n--\r\nCabinet Dubois, https://www.dubois-avocats.example/contact\r\n\r\n-------- Message transfere --------\r\nDe : Compta <compta@bec-pay.example>\r\n"+
		"Objet : Facture impayee\r\n\r\nReglez ici : http://bec-pay.example/pay/1\r\n"), "dubois-avocats.example", priv)
	for _, via := range []intake.Via{{}, {Declared: "message/rfc822"}} {
		got := listed(sharedItems(t, an, raw, via), spamRun...)
		if strings.Contains(got, "dubois") {
			t.Errorf("%+v: the forwarding lawyer's firm is shared:\n%s", via, got)
		}
		if !strings.Contains(got, "ind:domain-name:bec-pay.example ") {
			t.Errorf("%+v: the spam's link is not shared:\n%s", via, got)
		}
	}
}

// keyIn publishes one new Ed25519 DKIM key at s1._domainkey of each
// domain in zone and returns its private half.
func keyIn(t *testing.T, zone *resolve.Zone, domains ...string) ed25519.PrivateKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range domains {
		zone.AddTXT("s1._domainkey."+d, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	}
	return priv
}

// sharedOne analyses one message, collects it as the node's only report
// and lists what a partner could receive of it (indicators, campaign,
// report item).
func sharedOne(t *testing.T, an *analysis.Analyzer, raw []byte) string {
	t.Helper()
	v, err := an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(raw, mail.DefaultLimits())})
	if err != nil {
		t.Fatal(err)
	}
	m := &memSource{reporters: map[string]string{}, reports: []*intake.Report{{ID: "ra", CampaignID: "c", Raw: raw, SHA256: HashBody(raw), Verdict: v,
		ReceivedAt: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}}}
	sh, err := Collect(context.Background(), m, "FR")
	if err != nil {
		t.Fatal(err)
	}
	var items []Item
	for _, g := range sh.ItemsFor(nil) {
		items = append(items, g.Items...)
	}
	return listed(items, spamRun...)
}

// helpdeskAnswer is a firm's helpdesk answer quoting a spammer's text,
// signed by firm-help.example with priv To the spammer's drop box: what
// a replayer sends again to others.
func helpdeskAnswer(t *testing.T, priv ed25519.PrivateKey) string {
	t.Helper()
	var signed bytes.Buffer
	body := "From: Helpdesk <support@firm-help.example>\r\nTo: <drop@spam-drop.example>\r\nSubject: Re: your order\r\nDate: Sat, 28 Nov 2026 08:00:00 +0000\r\nMessage-ID: <t1@firm-help.example>\r\n\r\n" +
		"Hello, you wrote:\r\n> Cheap pills today: http://pills-shop.example/buy/42\r\nWe will look into it.\r\n"
	if err := dkim.Sign(&signed, strings.NewReader(body), &dkim.SignOptions{Domain: "firm-help.example", Selector: "s1", Signer: priv}); err != nil {
		t.Fatal(err)
	}
	return signed.String()
}

// TestServiceOnlyLinksNotShared is the sixteenth trial's finding 4: a
// link at a host where anyone publishes, once generalised, kept only the
// service's own path ("ci3.googleusercontent.com/proxy/",
// "www.anpdm.com/oa/") and went out as the spam run's. Such a link is
// no longer shared; one that keeps its author's part (a short link, a
// channel) is, and the mail web client's image proxy stands for the
// image it proxies.
func TestServiceOnlyLinksNotShared(t *testing.T) {
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	raw := []byte("Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
		"From: Deals <deals@gmail.com>\r\nTo: Bob <bob@gmail.example>\r\nSubject: Offer\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
		"Message-ID: <s1@mail.gmail.com>\r\nContent-Type: text/html\r\n\r\n" +
		`<img src="https://ci3.googleusercontent.com/proxy/Xk2m9QpL0aZ7vB3nR8tY1uW4eS6dF5gH2jK0lM9nB7vC3xZ1qW8eR4tY6uI2oP0aS5dF7gH9jK1l=s0-d-e1-ft#http://img.spam-run.example/banner.png">` +
		`<a href="https://www.anpdm.com/oa/4A5B4659794A4B0A47724B4A5942/8FE3DF4E">view online</a>` +
		`<a href="https://docs.google.com/forms/d/e/1FAIpQLSdX9kq0bZ7mYwPp3rT5uV8sN2cL4hJ6gF1dE0aQ/viewform">claim</a>` +
		`<a href="https://bit.ly/3kQx7Zp">claim now</a>` +
		// The sixteenth review's H1: what names its author once cut stays
		// shared — a tenant's host, an account or bucket in the path.
		`<a href="https://pills-shop.wordpress.com/2026/11/a8f3k2m9q7x1z4">blog</a>` +
		`<a href="https://pills-bucket.s3.amazonaws.com/9f8e7d6c5b4a39281706/index.html">bucket</a>` +
		`<a href="https://storage.googleapis.com/pills-gcs/k2m9q7x1z4a8f3b6.html">gcs</a>` +
		`<a href="https://sites.google.com/view/pillsdeals/a8f3k2m9q7x1z4b6">site</a>` +
		`<a href="https://t.me/+a8f3k2m9q7x1z4b6">chat</a>` +
		// The seventeenth review's H2: an id in the query, or a path of
		// the service's own, names only the service.
		`<a href="https://drive.google.com/uc?id=1a8f3k2m9q7x1z4b6&export=download">drive</a>` +
		`<a href="https://forms.office.com/Pages/ResponsePage.aspx?id=a8f3k2m9q7x1z4b6">ms form</a>` +
		`<a href="https://r20.rs6.net/tn.jsp?f=001a8f3k2m9q7x1z4b6">cc</a>` +
		`<a href="https://ct.sendgrid.net/ls/click?upn=a8f3k2m9q7x1z4b6">sg</a>` +
		`<a href="https://www.dropbox.com/scl/fi/a8f3k2m9q7x1z4b6/invoice.pdf?rlkey=x">dropbox</a>` +
		`<a href="https://k2m9q7x1z4a8f3b6.wordpress.com/2026/11/deal">token blog</a>` +
		// Its M1: a bucket named like a machine is its owner's; at a
		// service that gives customers subdomains, a two-letter or shard
		// name may be the service's own (the eighteenth review: "en.",
		// "s0."), so it is not shared — the price of failing closed.
		`<a href="https://pk1.s3.amazonaws.com/a8f3k2m9q7x1z4b6/index.html">pk1</a>` +
		`<a href="https://pills.weebly.com/a8f3k2m9q7x1z4b6">weebly</a>` +
		`<a href="https://go.weebly.com/a8f3k2m9q7x1z4b6">go</a>` +
		// The eighteenth review's H1: a query dropped, or a service's own
		// host or page, leaves only the service.
		`<a href="https://sns.us-east-1.amazonaws.com/unsubscribe.html?SubscriptionArn=arn:aws:sns:x">sns</a>` +
		`<a href="https://subscribe.wordpress.com/?key=a8f3k2m9q7x1z4b6">wp</a>` +
		`<a href="https://github.com/login?return_to=%2Fpills">gh</a>` +
		`<a href="https://github.com/notifications/unsubscribe-auth/a8f3k2m9q7x1z4b6">gh2</a>` +
		`<a href="https://user-images.githubusercontent.com/12345/a8f3k2m9q7x1z4b6.png">img</a>` +
		`<a href="https://form.typeform.com/to/a8f3k2m9q7x1z4b6">tf</a>` +
		// The nineteenth review's H2: a tenant's or an author's link with
		// a query keeps its query-less part; its H3: services' own hosts
		// and mail services' domains.
		`<a href="https://pills-blog.wordpress.com/2026/11/deal?utm_source=x">wpq</a>` +
		`<a href="https://storage.googleapis.com/pills-gcsq/k.html?x=1">gcsq</a>` +
		`<a href="https://github.com/user-attachments/assets/a8f3k2m9-q7x1-z4b6-9f8e-7d6c5b4a3928">gha</a>` +
		`<a href="https://cloud.githubusercontent.com/assets/12345/a8f3k2m9q7x1z4b6.png">ghc</a>` +
		`<a href="https://blogger.googleusercontent.com/img/b/R29vZ2xl/a8f3k2m9q7x1z4b6/s1600/x.png">blogger</a>` +
		`<a href="https://us5.campaign-archive.com/?u=a8f3k2m9q7x1&id=z4b6">archive</a>` + "\r\n")
	got := sharedOne(t, an, raw)
	for _, want := range []string{"ind:url:http://img.spam-run.example/banner.png", "ind:domain-name:spam-run.example", "ind:url:https://bit.ly/3kQx7Zp",
		"ind:url:https://pills-shop.wordpress.com/2026/11/", "ind:url:https://pills-bucket.s3.amazonaws.com/", "ind:url:https://storage.googleapis.com/pills-gcs/",
		"ind:url:https://sites.google.com/view/pillsdeals/", "ind:url:https://pk1.s3.amazonaws.com/", "ind:url:https://pills.weebly.com/",
		"ind:url:https://pills-blog.wordpress.com/2026/11/deal", "ind:url:https://storage.googleapis.com/pills-gcsq/k.html"} {
		if !strings.Contains(got, want+" ") {
			t.Errorf("%s not shared:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ind:url:https://t.me") {
		t.Errorf("t.me's own root shared:\n%s", got)
	}
	if strings.Contains(got, "ind:domain-name:campaign-archive.com") {
		t.Errorf("Mailchimp's archive domain shared:\n%s", got)
	}
	for _, not := range []string{"googleusercontent", "anpdm", "docs.google.com", "drive.google.com", "forms.office.com", "r20.rs6.net", "ct.sendgrid.net", "www.dropbox.com", "wordpress.com/", "go.weebly.com",
		"sns.us-east-1.amazonaws.com", "subscribe.wordpress.com", "github.com", "user-images.githubusercontent.com", "form.typeform.com",
		"cloud.githubusercontent.com", "blogger.googleusercontent.com", "us5.campaign-archive.com"} {
		if strings.Contains(got, "ind:url:https://"+not) || strings.Contains(got, "ind:url:https://www."+not) || strings.Contains(got, "ind:domain-name:"+not) {
			t.Errorf("the service's own %s shared:\n%s", not, got)
		}
	}
}
