package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/emersion/go-msgauth/dkim"
)

// TestReplayedSignatureNamesNoFirm is DKIM replay across reports: a mail
// the firm's helpdesk signed, answering the spammer and quoting the
// spammer's text, sent again from the spammer's server to Alice and to
// Bob, verifies as the firm's in both reports — the firm's domain is
// shared in neither report item, nor as an indicator, nor among the
// campaign's sender domains (nor its own links), and the report items say
// why. Shared while
// Alice's report was alone, it stops flowing when Bob's arrives (the
// collector's cached part of Alice's report is not stale). The spammer's
// own signed mail to one recipient stays shared, and so does one mail
// reported twice by its recipient (a duplicate report, not a replay).
func TestReplayedSignatureNamesNoFirm(t *testing.T) {
	zone, err := resolve.LoadZone(filepath.Join("..", "intake", "testdata", "review9", "zone"))
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, dom := range []string{"firm-help.example", "cheap-pills.example"} {
		zone.AddTXT("s1._domainkey."+dom, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	}
	zone.AddTXT("_dmarc.firm-help.example", "v=DMARC1; p=reject")
	sign := func(d, from, to, text string) string {
		body := "From: " + from + "\r\nTo: " + to + "\r\nSubject: Re: your order\r\nDate: Sat, 28 Nov 2026 08:00:00 +0000\r\nMessage-ID: <t1@" + d + ">\r\n\r\n" + text
		var out bytes.Buffer
		// To is left unsigned, as some signers do: the check in one
		// report (TestReplayInOneReport) has nothing to compare, and the
		// grouping across reports is what is tested here.
		if err := dkim.Sign(&out, strings.NewReader(body), &dkim.SignOptions{Domain: d, Selector: "s1", Signer: priv,
			HeaderKeys: []string{"From", "Subject", "Date", "Message-ID"}}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	// The helpdesk's answer to the spammer's mailbox, quoting its text.
	firm := sign("firm-help.example", "Helpdesk <support@firm-help.example>", "<drop@spam-drop.example>",
		"Hello, you wrote:\r\n> Cheap pills today: http://pills-shop.example/buy/42\r\nWe will look into it.\r\n-- \r\nHelp centre: https://help.firm-help.example/contact\r\n")
	own := sign("cheap-pills.example", "Deals <deals@cheap-pills.example>", "<carol@victim-three.example>",
		"Cheap pills today: http://pills-shop.example/buy/42\r\n")
	// delivered is a signed mail as its recipient's provider received it
	// from the spammer's server.
	delivered := func(signed, rcpt string) []byte {
		host := rcpt[strings.Index(rcpt, "@")+1:]
		return []byte("Delivered-To: " + rcpt + "\r\nReceived: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx." + host +
			" for <" + rcpt + ">; Sat, 28 Nov 2026 09:00:00 +0000\r\n" + signed)
	}
	online := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	report := func(id, reporter string, raw []byte) (*intake.Report, string) {
		v, err := online.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(raw, mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		return &intake.Report{ID: id, CampaignID: "c", Raw: raw, SHA256: HashBody(raw), Verdict: v,
			ReceivedAt: time.Date(2026, 11, 28, 10, 0, len(id), 0, time.UTC)}, reporter
	}
	alice, bob := "alice@victim-one.example", "bob@victim-two.example"
	toAlice, toBob := delivered(firm, alice), delivered(firm, bob)
	collect := func(c *Collector) string {
		sh, err := c.Collect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var items []Item
		for _, g := range sh.ItemsFor(nil) {
			items = append(items, g.Items...)
		}
		return listed(items, spamRun...)
	}
	sharedAs := func(name, got, dom string) {
		t.Helper()
		for _, w := range []string{"ind:domain-name:" + dom + " ", `"from_domain":"` + dom + `"`, `"sender_domains":[{"Value":"` + dom + `"`} {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %s is not shared:\n%s", name, w, got)
			}
		}
		if strings.Contains(got, "sender domain: not shared") {
			t.Errorf("%s: a report item says its sender domain is not shared:\n%s", name, got)
		}
	}

	// Alice's report alone: nothing yet tells the replay from the firm's
	// own delivery, so the firm is shared.
	m := &memSource{reporters: map[string]string{}}
	add := func(id, reporter string, raw []byte) {
		r, rep := report(id, reporter, raw)
		m.reports = append(m.reports, r)
		m.reporters[id] = rep
	}
	add("ra", alice, toAlice)
	c := NewCollector(m, "FR")
	sharedAs("alice alone", collect(c), "firm-help.example")
	// Bob's report of the same signed mail, to him: a replay. Neither
	// the firm's domain nor its help centre's link, the firm's own, is
	// shared any more.
	add("rb", bob, toBob)
	got := collect(c)
	if strings.Contains(got, "firm-help.example") {
		t.Errorf("replayed to alice and bob: the firm's domain is shared:\n%s", got)
	}
	if strings.Count(got, `"from_domain":""`) != 2 || !strings.Contains(got, `"sender_domains":[]`) || strings.Count(got, "was also seen by this node in another report") != 2 {
		t.Errorf("replayed to alice and bob: the report items do not both withhold the sender domain and say why:\n%s", got)
	}
	if !strings.Contains(got, "ind:ipv4-addr:12.0.9.97 ") || !strings.Contains(got, "ind:url:http://pills-shop.example/buy/42 ") {
		t.Errorf("replayed: the origin and the link are not shared:\n%s", got)
	}

	// The spammer's own signed mail to one recipient.
	m = &memSource{reporters: map[string]string{}}
	add("rc", "carol@victim-three.example", delivered(own, "carol@victim-three.example"))
	sharedAs("the spammer's own to one", collect(NewCollector(m, "FR")), "cheap-pills.example")

	// Alice reporting the same mail twice.
	m = &memSource{reporters: map[string]string{}}
	add("ra", alice, toAlice)
	add("ra2", alice, toAlice)
	got = collect(NewCollector(m, "FR"))
	sharedAs("reported twice by alice", got, "firm-help.example")
	if strings.Count(got, `"from_domain":"firm-help.example"`) != 2 {
		t.Errorf("reported twice by alice: not both report items name the sender domain:\n%s", got)
	}
}

// TestReplayInOneReport: a firm's helpdesk answer, signed To the
// spammer's mailbox and sent again from the spammer's server, arrives at
// an address its signed To never named — seen in one report, where the
// grouping across reports needs a second. The receiving side's record
// (Delivered-To, Received "for", above the origin's hop) is what counts:
// a Delivered-To the spammer wrote into the message, below it, naming the
// signed To, does not make the copy the addressee's. The firm's own
// delivery to the addressee still shares the domain.
func TestReplayInOneReport(t *testing.T) {
	zone := &resolve.Zone{}
	priv := keyIn(t, zone, "firm-help.example")
	an := &analysis.Analyzer{Resolver: zone, Rules: embeddedRules(t)}
	signed := helpdeskAnswer(t, priv)
	deliver := func(rcpt, inside string) []byte {
		host := rcpt[strings.Index(rcpt, "@")+1:]
		return []byte("Delivered-To: " + rcpt + "\r\nReceived: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx." + host +
			" for <" + rcpt + ">; Sat, 28 Nov 2026 09:00:00 +0000\r\n" + inside + signed)
	}
	shared := func(raw []byte) string { return sharedOne(t, an, raw) }
	for name, raw := range map[string][]byte{
		"replayed to a victim":                       deliver("alice@victim-one.example", ""),
		"replayed, a Delivered-To written inside it": deliver("alice@victim-one.example", "Delivered-To: drop@spam-drop.example\r\n"),
	} {
		got := shared(raw)
		if strings.Contains(got, "firm-help.example") {
			t.Errorf("%s: the firm's domain is shared:\n%s", name, got)
		}
		if !strings.Contains(got, senderReplayedHere) || !strings.Contains(got, "ind:domain-name:pills-shop.example ") {
			t.Errorf("%s: the report item does not say why, or the spam's link is not shared:\n%s", name, got)
		}
	}
	if got := shared(deliver("drop@spam-drop.example", "")); !strings.Contains(got, `"from_domain":"firm-help.example"`) {
		t.Errorf("delivered to its addressee, the firm's mail does not share its domain:\n%s", got)
	}
}
