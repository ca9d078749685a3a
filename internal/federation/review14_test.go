package federation

// The fourteenth attack review's reproductions, kept as they were written
// against the code it reviewed: each comment describes the harm as the
// review found it (then), and each test fails while that harm is present.
// All pass since the fixes (links.go, collect.go): B1 wrapped links, B2
// public suffixes, B3 Proofpoint's own site and nested wrapping, B4 the
// replayer's HELO, B6 one person as two recipient sets, B7 real brand
// domains taken for typosquats, B8 a target host naming the recipient.
// B5 (one forged List-Id keeping a landing domain back) was fixed and the
// fix taken back: it named associations whose list runs on a hosting
// provider's server (the fifteenth review's C7); docs/federation.md says
// so.
// Run: go test -count=1 -run TestReview14 -v ./internal/federation/

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
)

const a14Recv = "Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.client-firm.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"

func a14Msg(from, to, body string) []byte {
	return []byte(a14Recv + "From: " + from + "\r\nTo: " + to + "\r\nSubject: Your account\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n" +
		"Message-ID: <a14@mx.bad.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body + "\r\n")
}

func a14Shared(t *testing.T, raw []byte) string {
	t.Helper()
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	return listed(sharedItems(t, an, raw, intake.Via{As: intake.AsReceived}), spamRun...)
}

const a14Bob = "Bob Durand <bob.durand@client-firm.example>"

// B1 (HIGH): the From's organisation is kept back only when a link's OWN
// host is at it (newLinkRule's "Nothing there to keep back" looks at
// Content.Domains and Content.URLs, never at redirect targets). A phish
// spoofing a firm, unsigned, whose links to the firm all pass through a
// redirector — the recipient's mail filter rewrote every href (Microsoft
// Safe Links, Proofpoint, Barracuda), or the phisher wrapped them — has
// its From's organisation NOT kept back, and derive then shares the
// unwrapped target: the spoofed firm becomes a domain-name indicator.
func TestReview14B1WrappedLinksUnhideTheSpoofedFirm(t *testing.T) {
	sl := func(target string) string {
		return "https://eur01.safelinks.protection.outlook.com/?url=" + url.QueryEscape(target) + "&amp;data=05%7C02%7Cbob.durand%40client-firm.example%7C&amp;reserved=0"
	}
	pp := func(target string) string { return "https://urldefense.com/v3/__" + target + "__;!!AbCdEf!xYz$" }
	gg := func(target string) string {
		return "https://www.google.com/url?q=" + url.QueryEscape(target) + "&amp;sa=D"
	}
	for name, wrap := range map[string]func(string) string{"Safe Links": sl, "Proofpoint v3": pp, "google.com/url": gg} {
		body := `<p>Dear customer, your account is locked. <a href="` + wrap("https://evil-login.example/unlock") + `">Unlock it</a>.</p>` +
			`<p>Acme Bank plc &middot; <a href="` + wrap("https://www.acme-bank.example/privacy") + `">Privacy</a> &middot; <a href="` +
			wrap("https://www.acme-bank.example/contact") + `">Contact</a></p>`
		got := a14Shared(t, a14Msg("Acme Bank <service@acme-bank.example>", a14Bob, body))
		if strings.Contains(got, "acme-bank.example") {
			t.Errorf("%s: the spoofed firm acme-bank.example (the unsigned From) is shared:\n%s", name, got)
		}
		// Control: the same message with the links unwrapped keeps it back.
		if name == "Safe Links" {
			plain := `<p>Dear customer, your account is locked. <a href="https://evil-login.example/unlock">Unlock it</a>.</p>` +
				`<p>Acme Bank plc &middot; <a href="https://www.acme-bank.example/privacy">Privacy</a></p>`
			if got := a14Shared(t, a14Msg("Acme Bank <service@acme-bank.example>", a14Bob, plain)); strings.Contains(got, "acme-bank.example") {
				t.Errorf("control (unwrapped links): the firm is shared:\n%s", got)
			}
		}
	}
}

// B2 (HIGH): a redirect target whose host has no organisational domain —
// a public suffix, often a platform's (github.io, blogspot.com,
// netlify.app, pages.dev), or a bare TLD — is shared as a domain-name
// indicator under its whole host (derive: "if dom == "" { dom = host }").
// A partner that blocks github.io as a malicious domain blocks every
// GitHub Pages site. A direct link does the same (analysis.contentInfo
// falls back to the host when a link has no registrable domain).
func TestReview14B2RedirectTargetAtAPublicSuffix(t *testing.T) {
	for _, target := range []string{"https://github.io/", "https://blogspot.com/", "https://netlify.app/", "https://pages.dev/", "https://co.uk/", "https://com/"} {
		host := strings.TrimSuffix(strings.TrimPrefix(target, "https://"), "/")
		for how, href := range map[string]string{"redirect to": "https://www.google.com/url?q=" + url.QueryEscape(target), "direct link to": target} {
			body := `<p><a href="` + href + `">Open</a> <a href="https://evil-login.example/x">Log in</a></p>`
			got := a14Shared(t, a14Msg("Service <service@mail-notice.example>", a14Bob, body))
			if strings.Contains(got, "ind:domain-name:"+host+" ") || strings.Contains(got, `"Value":"`+host+`"`) {
				t.Errorf("%s %s: the public suffix %q is shared as a spam run's domain:\n%s", how, target, host, got)
			}
		}
	}
}

// B3 (MEDIUM): the hosts the thirteenth review's A4 fix added to
// publishHosts BELOW an organisation no list names are no protection for
// the domain: domain() is asked about the registrable domain
// (Content.Domains, and derive's redirect branch), never the host, so
// urldefense.proofpoint.com (added) still shares proofpoint.com, and a
// nested wrap (Safe Links around Proofpoint v2, the shape of every link
// of a mail forwarded between two protected firms) shares proofpoint.com
// and loses the landing page.
func TestReview14B3PublishHostsBelowAnUnlistedOrg(t *testing.T) {
	l, _ := newLinkRule(&analysis.Verdict{}, false, "")
	for h := range publishHosts {
		org := dnsname.OrgDomain(h)
		if org != "" && org != h && !l.domain(org) {
			t.Errorf("publishHosts[%q]: its domain %q is shared as a spam run's", h, org)
		}
	}
	for h := range siteHosts {
		org := dnsname.OrgDomain(h)
		if org != "" && org != h && !l.domain(org) {
			t.Errorf("siteHosts[%q]: its domain %q is shared as a spam run's", h, org)
		}
	}
	inner := "https://urldefense.proofpoint.com/v2/url?u=https-3A__evil-2Dlogin.example_x&d=DwMF&c=abc"
	body := `<p><a href="https://eur01.safelinks.protection.outlook.com/?url=` + url.QueryEscape(inner) + `&amp;reserved=0">Log in</a></p>`
	got := a14Shared(t, a14Msg("Service <service@mail-notice.example>", a14Bob, body))
	if strings.Contains(got, "proofpoint.com") {
		t.Errorf("Safe Links around Proofpoint: proofpoint.com is shared:\n%s", got)
	}
}

// B4 (HIGH): replayedHere reads the first "for <addr>" anywhere in each
// Received field above and at the origin's hop — including the part of
// the origin hop's field that the SENDER wrote: its HELO name, which the
// receiving server copies in ("from <helo> (<rdns> [ip])"). A replayer
// that says HELO "x for <drop@spam-drop.example>" (Postfix joins HELO
// arguments) makes the node read the drop box as a recorded recipient;
// it is named in the signed To, so the replay establishes the firm, and
// the firm's domain goes out as the spam run's sender.
func TestReview14B4ReplayDefeatedByHelo(t *testing.T) {
	zone := &resolve.Zone{}
	priv := keyIn(t, zone, "firm-help.example")
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	signed := helpdeskAnswer(t, priv)
	shared := func(raw []byte) string { return sharedOne(t, an, raw) }
	for name, recv := range map[string]string{
		"Postfix-style HELO": "Delivered-To: alice@victim-one.example\r\nReceived: from x for <drop@spam-drop.example> (mx.bad.example [12.0.9.97]) by mx.victim-one.example (Postfix) with ESMTP id 4AbC for <alice@victim-one.example>; Sat, 28 Nov 2026 09:00:00 +0000\r\n",
		"Exim-style helo=":   "Delivered-To: alice@victim-one.example\r\nReceived: from [12.0.9.97] (helo=x for <drop@spam-drop.example>) by mx.victim-one.example with esmtp (Exim 4.96) id 1tAbC; Sat, 28 Nov 2026 09:00:00 +0000\r\n",
	} {
		// Control first: the same delivery with a plain HELO is caught.
		plain := strings.Replace(strings.Replace(recv, "from x for <drop@spam-drop.example> (", "from mx.bad.example (", 1), "(helo=x for <drop@spam-drop.example>)", "(helo=mx.bad.example)", 1)
		if got := shared([]byte(plain + signed)); strings.Contains(got, `"from_domain":"firm-help.example"`) {
			t.Errorf("%s control: a plain replay already names the firm (check broken):\n%s", name, got)
		}
		if got := shared([]byte(recv + signed)); strings.Contains(got, "firm-help.example") {
			t.Errorf("%s: a HELO naming the drop box defeats the replay check; the firm is named as the spam run's sender:\n%s", name, got)
		}
	}
}

// B6 (MEDIUM): min_reports counts distinct recipient SETS, and the set
// includes the reporter's address: one person reporting one mail twice —
// once forwarding it from their mailbox, once on the web form giving
// another address of theirs (or none, when the mail was addressed to a
// plus-tagged alias) — is two "recipients" and passes min_reports = 2.
func TestReview14B6OnePersonTwoRecipientSets(t *testing.T) {
	zone := &resolve.Zone{}
	priv := keyIn(t, zone, "acme-shop.example")
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	two := agreement(t, "id = \"x\"\nversion = 1\naudience = [\"us\"]\nshare = [\"indicators\"]\ntlp_max = \"green\"\norigins = [\"*\"]\nmin_reports = 2\n")
	peer := PeerState{Name: "us", Status: StatusActive}
	for _, c := range []struct {
		name, to  string
		reporters [2]string
	}{
		{"forward from the mailbox, then the form with a work address", "bob@gmail.example", [2]string{"bob@gmail.example", "bob.durand@client-firm.example"}},
		{"plus-tagged alias: forward from the mailbox, then the form anonymously", "bob+shop@gmail.example", [2]string{"bob@gmail.example", ""}},
		{"forward from the mailbox, then the form anonymously", "bob@gmail.example", [2]string{"Bob@Gmail.example", ""}},
	} {
		raw := signAs(t, []byte("Received: from mail.acme-shop.example (mail.acme-shop.example [198.51.100.20]) by mx.gmail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
			"From: ACME Shop <no-reply@acme-shop.example>\r\nTo: "+c.to+"\r\nSubject: Reset your password\r\nDate: Sat, 28 Nov 2026 09:00:00 +0000\r\n"+
			"Message-ID: <pw-bob@acme-shop.example>\r\n\r\nReset it here: https://acme-shop.example/reset\r\n"), "acme-shop.example", priv)
		v, err := an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(raw, mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		m := &memSource{reporters: map[string]string{"r0": c.reporters[0], "r1": c.reporters[1]}}
		for i := range 2 {
			m.reports = append(m.reports, &intake.Report{ID: fmt.Sprintf("r%d", i), CampaignID: "c", Raw: raw, SHA256: HashBody(raw),
				ReceivedAt: time.Date(2026, 11, 28, 10, i, 0, 0, time.UTC), Verdict: v})
		}
		sh, err := Collect(context.Background(), m, "FR")
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range sh.ItemsFor(nil) {
			for _, it := range g.Items {
				if strings.HasPrefix(it.Key, "ind:") && strings.Contains(it.Key, "acme-shop") {
					if d := Decide(two, peer, it, now); d.Allow {
						t.Errorf("%s: one person's one mail passes min_reports = 2: %s (count %d)", c.name, it.Key, it.Count)
					}
				}
			}
		}
	}
}

// B7 (HIGH): the look-alike exception now takes only "homoglyph" and
// "typosquat" — but LookAlike calls a brand's real name under another
// suffix a typosquat when the brand's listed domain writes its name
// otherwise (a hyphen, an accent, another spelling): Crédit Agricole
// Italia's credit-agricole.it, Itaú Chile's itau.cl, deutsche-bank.com
// (and, by the probe, the same names under any other suffix). A phish spoofing one of them, unsigned, with the
// bank's real links, shares the real bank's domain and links.
func TestReview14B7RealBrandDomainsTakenForTyposquats(t *testing.T) {
	for _, d := range []string{"credit-agricole.it", "itau.cl", "deutsche-bank.com"} {
		body := `<p><img src="https://www.` + d + `/img/logo.png"> Your account is suspended. <a href="https://evil-login.example/verify">Verify</a>.</p>` +
			`<p><a href="https://www.` + d + `/privacy">Privacy</a></p>`
		got := a14Shared(t, a14Msg("Service <servizio@"+d+">", a14Bob, body))
		if strings.Contains(got, "ind:domain-name:"+d+" ") || strings.Contains(got, "www."+d+"/") {
			t.Errorf("spoofed From %s (the bank's real domain): shared as the spam run's:\n%s", d, got)
		}
	}
}

// B8 (MEDIUM, privacy): the redirect branch of derive checks a target's
// domain against the people's DOMAINS only (people.HoldsDomain), never
// their names or local parts, and takes a host with no registrable domain
// whole (B2). A target whose host spells the recipient's name —
// google.com/url?q=https://Bob.Durand/ — goes out as
// ind:domain-name:bob.durand; the url indicator for the same link is cut
// (people.URL checks names), the domain is not.
func TestReview14B8TargetHostNamesTheRecipient(t *testing.T) {
	for _, tg := range []string{"https://Bob.Durand/", "https://bobdurand/x"} {
		href := "https://www.google.com/url?q=" + url.QueryEscape(tg)
		got := a14Shared(t, a14Msg("Service <service@mail-notice.example>", a14Bob, `<p><a href="`+href+`">Open</a> <a href="https://evil-login.example/x">Log in</a></p>`))
		if strings.Contains(strings.ToLower(got), "bob.durand") || strings.Contains(strings.ToLower(got), "bobdurand") {
			t.Errorf("redirect to %s: the recipient's name reaches partners:\n%s", tg, got)
		}
	}
}
