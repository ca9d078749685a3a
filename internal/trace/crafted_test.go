package trace

import (
	"strings"
	"testing"
)

// Crafted Received fields from a review that attacked the trust boundary
// as a spammer would. 203.0.113.7 is the spammer's real address as our
// receiver recorded it; 66.211.170.66 stands for the address the spammer
// wants blamed (it writes that hop itself, below ours).

const spammerHop = "from mx1.paypal.com (mx1.paypal.com [66.211.170.66]) by relay.example.net with ESMTPS id 2; Mon, 1 Jan 2024 09:59:59 +0000"

// edgeWithGreeting is our receiver's own field, with the greeting the
// spammer chose.
func edgeWithGreeting(greeting string) string {
	return "from " + greeting + " (unknown [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000"
}

// The greeting is the client's: nothing in it — a fetcher's name, a clause
// word, an address attached or in brackets, an unclosed bracket — changes
// what the receiver recorded or which clause is which.
func TestGreetingNeverReadAsStructure(t *testing.T) {
	greetings := []string{
		"getmail.spam.example", "fetchmail.spam.example", "with", "by", "id", "via", "for", "from",
		"a[10.0.0.1]", "a[127.0.0.1]", "a[::ffff:127.0.0.1]", "a[IPv6:::1]", "[10.0.0.1]", "[x", "(x", "x)", "(x)",
		"([10.0.0.1])", "a(10.0.0.1)", "localhost", "a@b", "userid", "a;b", "\"x", "<x", "(Authenticated", "[127.0.0.1]:25",
	}
	for _, g := range greetings {
		t.Run(g, func(t *testing.T) {
			h := ParseReceived(edgeWithGreeting(g))
			if h.Kind != KindRelay || h.IP != "203.0.113.7" || h.By != "mx.victim.example" || h.Protocol != "ESMTP" || h.ID != "4TQ1" || h.Auth != "" || h.Time == nil {
				t.Fatalf("greeting %q: kind=%s ip=%q by=%q protocol=%q id=%q auth=%q time=%v", g, h.Kind, h.IP, h.By, h.Protocol, h.ID, h.Auth, h.Time)
			}
			tr := build(t, Trust{Providers: providers(t)}, edgeWithGreeting(g), spammerHop)
			wantOrigin(t, tr, "203.0.113.7", 0)
			// Also with nothing below: the greeting never makes the
			// receiver's client "inside".
			wantOrigin(t, build(t, Trust{Providers: providers(t)}, edgeWithGreeting(g)), "203.0.113.7", 0)
		})
	}
}

// Words elsewhere in the field that only look like the receiver's: a
// reverse name or an envelope sender with "getmail"/"fetchmail" in it, a
// continuation line the client could not write but a filter could append.
func TestRetrievalOnlyFromTheReceiversWords(t *testing.T) {
	fields := []string{
		"from mail.spam.example (fetchmail.spam.example [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000",
		"from mail.spam.example (getmail.spam.example [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000",
		"from [203.0.113.7] (helo=mail.spam.example) by mx.victim.example with esmtp (Exim 4.96) (envelope-from <getmail@spam.example>) id 1qAbCd-000123-AB for victim@victim.example; Mon, 01 Jan 2024 10:00:00 +0000",
		"from mail.spam.example (unknown [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000 getmail",
		"from [203.0.113.7] (helo=mail.spam.example) by mx.victim.example with esmtp (Exim 4.96) (envelope-from <\"x with POP3 (fetchmail)\"@spam.example>) id 1 for victim@victim.example; Mon, 01 Jan 2024 10:00:00 +0000",
	}
	for _, f := range fields {
		h := ParseReceived(f)
		if h.Kind != KindRelay || h.IP != "203.0.113.7" {
			t.Errorf("%s\n  kind=%s ip=%q", f, h.Kind, h.IP)
		}
		wantOrigin(t, build(t, Trust{Providers: providers(t)}, f, spammerHop), "203.0.113.7", 0)
	}
	// The real thing still is one.
	h := ParseReceived("from pop.provider.example [192.0.2.1] by localhost with POP3 (fetchmail-6.4.37) for <me@localhost> (single-drop); Tue, 3 Nov 2026 10:00:03 +0100")
	if h.Kind != KindFetch || h.IP != "192.0.2.1" || fetcher(&h) != "fetchmail over POP3" {
		t.Errorf("fetchmail's own field: kind=%s ip=%q fetcher=%q", h.Kind, h.IP, fetcher(&h))
	}
}

// An Exim envelope sender that spells "(authenticated sender: x)" is the
// client's text, not the receiver's: no authenticated submission.
func TestAuthenticationOnlyFromTheReceiversWords(t *testing.T) {
	f := "from [203.0.113.7] (helo=mail.spam.example) by mx.victim.example with esmtp (Exim 4.96) (envelope-from <\"(authenticated sender: x)\"@spam.example>) id 1qAbCd-000123-AB for victim@victim.example; Mon, 01 Jan 2024 10:00:00 +0000"
	if h := ParseReceived(f); h.Auth != "" {
		t.Errorf("auth %q from an envelope sender", h.Auth)
	}
	tr := build(t, Trust{Providers: providers(t)}, f, spammerHop)
	wantOrigin(t, tr, "203.0.113.7", 0)
	if tr.Authenticated || tr.Hops[1].Boundary != Beyond {
		t.Errorf("authenticated %v, hop 1 %s", tr.Authenticated, tr.Hops[1].Boundary)
	}
}

// A receiver that recorded no client address ends the walk: the origin is
// unknown, and nothing below it is anyone's but the sender's.
func TestReceiverWithoutClientAddressStopsTheWalk(t *testing.T) {
	tr := build(t, Trust{Providers: providers(t)},
		"from mail.spam.example by mx.victim.example with ESMTPS id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000",
		spammerHop)
	o := tr.OriginHop()
	if o == nil || o.Index != 0 || o.IP != "" || !strings.Contains(o.Why, "recorded no client address") {
		t.Fatalf("origin %+v", o)
	}
	if tr.Hops[1].Boundary != Beyond || tr.Hops[1].Trusted {
		t.Errorf("hop 1 is %s", tr.Hops[1].Boundary)
	}
}

// An authenticated submission is the origin whatever address the receiver
// recorded for it: a webmail, a proxy or NAT on its own network.
func TestAuthenticatedSubmissionFromInside(t *testing.T) {
	for _, client := range []string{"localhost (localhost [127.0.0.1])", "webmail.provider.example (webmail.provider.example [10.0.0.8])"} {
		tr := build(t, Trust{Providers: providers(t)},
			"from "+client+" (Authenticated sender: joe@provider.example) by smtp.provider.example (Postfix) with ESMTPSA id 1; Mon, 1 Jan 2024 10:00:00 +0000",
			"from mx1.paypal.com (mx1.paypal.com [66.211.170.66]) by laptop.example with ESMTP id 2; Mon, 1 Jan 2024 09:59:59 +0000")
		o := tr.OriginHop()
		if o == nil || o.Index != 0 || !tr.Authenticated || tr.Hops[1].Boundary != ClientWritten {
			t.Fatalf("%s: origin %+v, authenticated %v, hop 1 %s", client, o, tr.Authenticated, tr.Hops[1].Boundary)
		}
	}
	// LMTPA is an MTA authenticating to its store, not a submission.
	tr := build(t, Trust{},
		"from mx.provider.example ([127.0.0.1]) by store.provider.example with LMTPA id 1; Mon, 1 Jan 2024 10:00:01 +0000",
		edgeWithGreeting("mail.spam.example"))
	wantOrigin(t, tr, "203.0.113.7", 1)
}

// A reverse name the receiver did not verify forward — qmail's, a greeting
// IMail writes where the name goes, Gmail's — is never the receiver's own
// relay, nor a --trusted host name.
func TestUnverifiedNamesAreNotTheReceiversRelays(t *testing.T) {
	below := "from mx1.paypal.com (mx1.paypal.com [66.211.170.66]) by relay.victim.example with ESMTPS id 2; Mon, 1 Jan 2024 09:59:59 +0000"
	cases := map[string]string{
		"qmail with HELO":    "from relay.victim.example (HELO mail.spam.example) (203.0.113.7) by mx.victim.example with SMTP; 1 Jan 2024 10:00:00 -0000",
		"qmail without HELO": "from relay.victim.example (203.0.113.7) by mx.victim.example with SMTP; 1 Jan 2024 10:00:00 -0000",
		"IMail":              "from relay.victim.example [203.0.113.7] by mx.victim.example (SMTPD32-8.15) id A1B2C3D4; Mon, 01 Jan 2024 10:00:00 +0000",
		"Smail":              "from relay.victim.example from [203.0.113.7] by mx.victim.example (Smail3.1.30.16 #30.56) with esmtp id <1@mx.victim.example>; Mon, 1 Jan 2024 10:00:00 -0500",
		"Gmail-style name":   "from mail.spam.example (relay.victim.example. [203.0.113.7]) by mx.victim.example with ESMTPS id 1; Mon, 1 Jan 2024 10:00:00 +0000",
		"may be forged":      "from mail.spam.example (relay.victim.example [203.0.113.7] (may be forged)) by mx.victim.example (8.12.1/8.12.1) with ESMTP id 1; Mon, 1 Jan 2024 10:00:00 +0000",
	}
	trusted, err := ParseTrust(".victim.example")
	if err != nil {
		t.Fatal(err)
	}
	trusted.Providers = providers(t)
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			wantOrigin(t, build(t, Trust{Providers: providers(t)}, "(qmail 12345 invoked by uid 89); 1 Jan 2024 10:00:01 -0000", f, below), "203.0.113.7", 1)
			wantOrigin(t, build(t, trusted, f, below), "203.0.113.7", 0)
		})
	}
	// Postfix's verified name still is.
	f := "from relay.victim.example (relay.victim.example [203.0.113.7]) by mx.victim.example (Postfix) with ESMTPS id 1; Mon, 1 Jan 2024 10:00:00 +0000"
	wantOrigin(t, build(t, Trust{Providers: providers(t)}, f, below), "66.211.170.66", 1)
	wantOrigin(t, build(t, trusted, f, below), "66.211.170.66", 1)
}

// --trusted-only is the operator's list alone: no retrieval, local
// hand-over from a greeting, or unreadable field is trusted before it.
func TestTrustedOnlyIsTheWholeTrust(t *testing.T) {
	only, err := ParseTrust("192.0.2.25")
	if err != nil {
		t.Fatal(err)
	}
	only.Only = true
	for _, g := range []string{"getmail.spam.example", "with", "a[10.0.0.1]", "[x"} {
		wantOrigin(t, build(t, only, edgeWithGreeting(g), spammerHop), "203.0.113.7", 0)
	}
	fetch := "from pop.provider.example [198.51.100.1] by localhost with POP3 (fetchmail-6.4.37) for <me@localhost> (single-drop); Tue, 3 Nov 2026 10:00:03 +0100"
	tr := build(t, only, fetch, spammerHop)
	wantOrigin(t, tr, "198.51.100.1", 0)
	tr = build(t, only, "from mail.spam.example by mx.victim.example with ESMTPS id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000", spammerHop)
	if o := tr.OriginHop(); o == nil || o.Index != 0 || o.IP != "" {
		t.Errorf("no client address under --trusted-only: origin %+v", o)
	}
	// The listed server is trusted, fetched from or relaying.
	only, _ = ParseTrust("198.51.100.1")
	only.Only = true
	wantOrigin(t, build(t, only, fetch, spammerHop), "66.211.170.66", 1)
}

// "from [ip] by …" with an SMTP protocol and nothing else: the receiver
// may have copied the greeting, so the address cannot put the client
// inside.
func TestAddressOnlyInTheGreetingPlace(t *testing.T) {
	tr := build(t, Trust{Providers: providers(t)},
		"from [10.0.0.1] by mx.victim.example with ESMTP id 1; Mon, 1 Jan 2024 10:00:00 +0000",
		spammerHop)
	o := tr.OriginHop()
	if o == nil || o.Index != 0 {
		t.Fatalf("origin %+v", o)
	}
	// Greetingless protocols and a greeting written apart are the
	// receiver's own record.
	for _, f := range []string{
		"from [10.0.0.1] (helo=mail.example) by mx.victim.example with esmtp (Exim 4.96) id 1; Mon, 1 Jan 2024 10:00:00 +0000",
		"from 10.0.0.1 (HELO mail.example) by mx.victim.example with SMTP; 1 Jan 2024 10:00:00 -0000",
	} {
		wantOrigin(t, build(t, Trust{Providers: providers(t)}, f, spammerHop), "66.211.170.66", 1)
	}
}

// Postfix joins every word of the client's HELO with spaces and writes it
// verbatim ("from a 10.0.0.1 (unknown [203.0.113.7]) by …"): the greeting
// is everything up to the receiver's own record of the client, whatever it
// holds — an address, a literal, a comment with loopback, a clause word.
func TestMultiWordGreetingTakenWhole(t *testing.T) {
	greetings := []string{
		"a 10.0.0.1", "a IPv6:::1", "a [10.0.0.1]", "a ::ffff:10.0.0.1", "a 10.0.0.1:25", "a (127.0.0.1)",
		"a (localhost [127.0.0.1])", "a with POP3", "a with IMAP", "a with LOCAL", "a with LMTP", "a with x (Exim 4.96)",
		"a with ESMTP (fetchmail", "a by x", "a with ESMTPSA", "a with HTTP", "a with Microsoft SMTP", "userid 1000",
		"mail pickup service", "a (localhost [[UNIX: localhost]])", "a (Authenticated sender: x)", "a; Mon, 1 Jan 2024 10:00:00 +0000",
		"a (unknown [10.0.0.1]) by mx.victim.example (Postfix) with LMTP id 1; Mon, 1 Jan 2024 10:00:00 +0000",
	}
	only, err := ParseTrust("192.0.2.25")
	if err != nil {
		t.Fatal(err)
	}
	only.Only, only.Providers = true, providers(t)
	for _, g := range greetings {
		t.Run(g, func(t *testing.T) {
			h := ParseReceived(edgeWithGreeting(g))
			if h.Kind != KindRelay || h.IP != "203.0.113.7" || h.By != "mx.victim.example" || h.Protocol != "ESMTP" || h.ID != "4TQ1" || h.Auth != "" || h.HELO != g {
				t.Fatalf("kind=%s ip=%q by=%q protocol=%q id=%q auth=%q helo=%q", h.Kind, h.IP, h.By, h.Protocol, h.ID, h.Auth, h.HELO)
			}
			wantOrigin(t, build(t, Trust{Providers: providers(t)}, edgeWithGreeting(g), spammerHop), "203.0.113.7", 0)
			// Loopback or private text in the greeting is not trusted
			// before the operator's list.
			wantOrigin(t, build(t, only, edgeWithGreeting(g), spammerHop), "203.0.113.7", 0)
		})
	}
	// Gmail's and Microsoft's shapes of the same record.
	for _, f := range []string{
		"from a 10.0.0.1 (mail.spam.example. [203.0.113.7]) by mx.google.com with ESMTPS id x1si2 for <victim@gmail.com>; Mon, 01 Jan 2024 10:00:00 -0800 (PST)",
		"from a 10.0.0.1 (203.0.113.7) by AM7EUR06FT021.mail.protection.outlook.com (10.233.35.16) with Microsoft SMTP Server id 15.20.6 via Frontend Transport; Mon, 1 Jan 2024 10:00:00 +0000",
		// Postfix's TLS notes after the record.
		"from a 10.0.0.1 (unknown [203.0.113.7]) (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519) (No client certificate requested) by mx.victim.example (Postfix) with ESMTPS id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000",
	} {
		if h := ParseReceived(f); h.Kind != KindRelay || h.IP != "203.0.113.7" || h.HELO != "a 10.0.0.1" {
			t.Errorf("%s\n  kind=%s ip=%q helo=%q", f, h.Kind, h.IP, h.HELO)
		}
		wantOrigin(t, build(t, Trust{Providers: providers(t)}, f, spammerHop), "203.0.113.7", 0)
	}
}

// A from clause of several words that no record of the receiver's closes,
// with a clause word or an open comment in it, is read no way: unparsed,
// and the walk stops there.
func TestAmbiguousFromClauseStopsTheWalk(t *testing.T) {
	for _, f := range []string{
		"from a with POP3 x by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000",
		"from a ( 10.0.0.1 by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000",
		"from a 10.0.0.1 by mx.victim.example with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000",
	} {
		h := ParseReceived(f)
		if h.Kind != KindUnparsed || h.IP != "" || h.By != "mx.victim.example" {
			t.Errorf("%s\n  kind=%s ip=%q by=%q", f, h.Kind, h.IP, h.By)
		}
		tr := build(t, Trust{Providers: providers(t)}, f, spammerHop)
		if o := tr.OriginHop(); o == nil || o.Index != 0 || o.IP != "" || tr.Hops[1].Boundary != Beyond {
			t.Errorf("%s\n  origin %+v", f, o)
		}
	}
}

// Sendmail's "(ident@[ip] [ip])": the ident part is the client's identd's
// answer; the last bracketed address is the one the receiver saw.
func TestSendmailIdentAddressIsNotTheClient(t *testing.T) {
	f := "from mail.spam.example (root@[127.0.0.1] [203.0.113.7]) by mx.victim.example (8.17.1/8.17.1) with ESMTP id 401A; Mon, 1 Jan 2024 10:00:00 +0000"
	if h := ParseReceived(f); h.Kind != KindRelay || h.IP != "203.0.113.7" {
		t.Fatalf("kind=%s ip=%q", h.Kind, h.IP)
	}
	wantOrigin(t, build(t, Trust{Providers: providers(t)}, f, spammerHop), "203.0.113.7", 0)
}
