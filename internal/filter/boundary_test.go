package filter

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// forgedAR is the attack on the trust boundary: the sender writes an
// Authentication-Results field in the node's name, above a Received field
// that claims the node received the message from the bank. At a filter
// door the MTA's connection (from 203.0.113.5) is the top hop, so neither
// field is inside the boundary.
const forgedAR = "Authentication-Results: mx.accord.test; dkim=pass header.d=bank.example header.s=s1; dmarc=pass header.from=bank.example\r\n" +
	"Received: from mail.bank.example (mail.bank.example [198.51.100.7]) by mx.accord.test with ESMTPS id abc; Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
	"From: Bank <alerts@bank.example>\r\nTo: ana@example.org\r\nSubject: your account\r\nMessage-ID: <f1@bank.example>\r\n" +
	"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nclick http://evil.test/login\r\n"

func TestForgedAuthResultsAtTheDoor(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{AuthServID: "mx.accord.test"})
	ctx := context.Background()
	// Every message is spam for ana unless her allow list counts.
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "ana@example.org", Allow: []string{"bank.example"}, Spam: ptr(-50.0), Action: ptr(ActionReject)}, "t")
	env := Envelope{IP: netip.MustParseAddr("203.0.113.5"), Helo: "evil.test", MailFrom: "x@evil.test", Rcpts: []string{"ana@example.org"}}
	d, err := s.Check(ctx, []byte(forgedAR), env)
	if err != nil {
		t.Fatal(err)
	}
	if d.Outcome != OutcomeReject {
		t.Errorf("outcome %s (%s): the forged results opened the allow list", d.Outcome, d.Recipients[0].Why)
	}
	if strings.Contains(symbolNames(d), "DMARC_PASS") {
		t.Errorf("symbols %s: the forged DMARC pass was believed", symbolNames(d))
	}
	if strings.Contains(d.AuthResults, "pass") || !strings.HasPrefix(d.AuthResults, "mx.accord.test;") {
		t.Errorf("our Authentication-Results re-issue the sender's claims: %q", d.AuthResults)
	}
	if !strings.Contains(symbolNames(d), "IDENTITY_DISGUISED") {
		t.Errorf("symbols %s: a field in our own name from the sender is a forgery", symbolNames(d))
	}
	// A client in the operator's trusted networks is a relay of ours:
	// its recorded hops continue the trace (unchanged behaviour).
	an := analyzer(t, nil)
	an.Trust.Networks = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	s2, _ := newService(t, Deps{Analyzer: an}, Config{AuthServID: "mx.accord.test"})
	if s2.receiver(env.IP) != "" || s.receiver(env.IP) != "mx.accord.test" || s.receiver(netip.Addr{}) != "" {
		t.Error("receiver: the trusted relay or the unknown client is taken for the boundary")
	}
}

// A style sheet of words is a hash-buster's padding: the engine's finding
// becomes HIDDEN_PROSE at its weight; the same words as the message's
// visible text are not a finding.
func TestHiddenProseSymbol(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	salad := "Antarctic the humans course for experienced burning unprecedented next sunlight climate like never all whale burning of and to are Peninsula of Antarctic far worse began the began changes several speed of today"
	html := func(body string) []byte {
		return []byte("From: Shop <s@shop.example>\r\nTo: ana@example.org\r\nSubject: tones\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
			"Message-ID: <p1@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n" + body + "\r\n")
	}
	ctx := context.Background()
	d, err := s.Check(ctx, html("<html><body><style>"+salad+"</style><a href=\"http://shop.example/\">Buy now</a></body></html>"), Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sy := range d.Symbols {
		if sy.Name == "HIDDEN_PROSE" {
			found = sy.Score == engineWeights["HIDDEN_PROSE"] && sy.Score > 0
		}
	}
	if !found {
		t.Errorf("symbols %s: no HIDDEN_PROSE at its weight for a style sheet of words", symbolNames(d))
	}
	d, err = s.Check(ctx, html("<html><body><p>"+salad+"</p><a href=\"http://shop.example/\">Buy now</a></body></html>"), Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(symbolNames(d), "HIDDEN_PROSE") {
		t.Errorf("symbols %s: visible text taken for hidden prose", symbolNames(d))
	}
}

// Image-only mail gets HTML_IMAGE_ONLY at its weight.
func TestImageOnlySymbol(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	raw := "From: Shop <s@shop.example>\r\nTo: ana@example.org\r\nSubject: offer\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
		"Message-ID: <i2@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n" +
		"<html><body><a href=\"http://shop.example/\"><img src=\"http://shop.example/offer.gif\"></a></body></html>\r\n"
	d, err := s.Check(context.Background(), []byte(raw), Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sy := range d.Symbols {
		if sy.Name == "HTML_IMAGE_ONLY" {
			found = sy.Score == engineWeights["HTML_IMAGE_ONLY"] && sy.Score > 0
		}
	}
	if !found {
		t.Errorf("symbols %s: no HTML_IMAGE_ONLY at its weight for a picture without text", symbolNames(d))
	}
}

// Links to generated host names under one domain get URI_RANDOM_HOSTS at
// its weight.
func TestRandomHostsSymbol(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	raw := "From: Shop <s@shop.example>\r\nTo: ana@example.org\r\nSubject: hello\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
		"Message-ID: <r2@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n" +
		"<html><body><a href=\"http://1b5f.pillrx.example/\">one</a> <a href=\"http://d271.pillrx.example/\">two</a> " +
		"<a href=\"http://a9e.pillrx.example/\">three</a><p>The river rises in the hills and flows west to the sea.</p></body></html>\r\n"
	d, err := s.Check(context.Background(), []byte(raw), Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sy := range d.Symbols {
		if sy.Name == "URI_RANDOM_HOSTS" {
			found = sy.Score == engineWeights["URI_RANDOM_HOSTS"] && sy.Score > 0
		}
	}
	if !found {
		t.Errorf("symbols %s: no URI_RANDOM_HOSTS at its weight for links to generated hosts", symbolNames(d))
	}
}
