package filter

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// held checks one message for rcpt and reports whether the sender was
// blocked (ACCORD_SENDER_BLOCKED) for it.
func blockedFor(t *testing.T, s *Service, raw, mailFrom, rcpt string) bool {
	t.Helper()
	d, err := s.Check(context.Background(), []byte(raw), Envelope{MailFrom: mailFrom, Rcpts: []string{rcpt}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rd := range d.Recipients {
		for _, sy := range rd.Symbols {
			if sy.Name == SymbolBlocked {
				return true
			}
		}
	}
	return false
}

func plain(from string) string {
	return "To: ana@example.org\r\nSubject: hi\r\nDate: Mon, 30 Nov 2026 00:00:00 +0000\r\nMessage-ID: <x@y>\r\n" + from + "\r\nbody\r\n"
}

// TestBlockListEveryAuthorAndEnvelope: a block entry counts for every
// author (each mailbox of each From field) and for the envelope sender;
// before, only the first mailbox of the first From was matched, so
// "From: good@good.test, spam@evil.test", a second From field, or a
// blocked envelope sender under an innocent From were delivered (attack
// 26 A3).
func TestBlockListEveryAuthorAndEnvelope(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	if _, err := s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "ana@example.org", Spam: ptr(4.0), Action: ptr(ActionQuarantine), Block: []string{"evil.test"}}, "t"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, mailFrom string }{
		{"From: good@good.test, spam@evil.test\r\n", "bounce@good.test"},
		{"From: spam@evil.test, good@good.test\r\n", "bounce@good.test"},
		{"From: good@good.test\r\nFrom: spam@evil.test\r\n", "bounce@good.test"},
		{"From: good@good.test\r\n", "spam@evil.test"},
		{"From: good@good.test\r\n", "<spam@sub.evil.test>"},
	} {
		if !blockedFor(t, s, plain(c.from), c.mailFrom, "ana@example.org") {
			t.Errorf("%q MAIL FROM %s: not blocked", c.from, c.mailFrom)
		}
	}
	if blockedFor(t, s, plain("From: good@good.test\r\n"), "bounce@good.test", "ana@example.org") {
		t.Error("an innocent message blocked")
	}
}

// TestAllowListNotWidened: more identities never widen an allow list: an
// allow entry counts only for a single authenticated author (with no
// From, the envelope sender); a block entry of the same scope for any
// identity wins.
func TestAllowListNotWidened(t *testing.T) {
	e := Resolve(Builtin(), nil, &Policy{Kind: ScopeDomain, Key: "example.org", Block: []string{"evil.test"}},
		&Policy{Kind: ScopeRecipient, Key: "ana@example.org", Allow: []string{"good.test"}, Block: []string{"spam@bad.test"}})
	for _, c := range []struct {
		authors  []string
		envelope string
		allowed  bool
		blocked  bool
	}{
		{[]string{"a@good.test"}, "b@other.test", true, false},      // the one author, authenticated
		{[]string{"a@good.test", "b@other.test"}, "", false, false}, // two authors: no allow
		{[]string{"a@good.test", "a@good.test"}, "", true, false},   // one author named twice
		{[]string{"a@good.test", "x@evil.test"}, "", false, true},   // the domain's block of the other
		{[]string{"a@good.test"}, "spam+x@bad.test", false, true},   // the same scope's block of the envelope
		{nil, "a@good.test", true, false},                           // no From: the envelope sender
		{[]string{"x@other.test"}, "a@good.test", false, false},     // the envelope is no author
	} {
		lm := e.MatchSenders(c.authors, c.envelope, true)
		if lm.Allowed != c.allowed || lm.Blocked != c.blocked {
			t.Errorf("authors %v envelope %q: %+v, want allowed %v blocked %v", c.authors, c.envelope, lm, c.allowed, c.blocked)
		}
	}
}

// TestListSpellings: the same mailbox or domain gets the same verdict
// however it is spelt — a sub-address (with the configured delimiter),
// an IDN as U-labels or A-labels, either way round — for the lists and
// for a domain policy's recipients; before, each spelling but the
// stored one escaped (attack 26 A4). Entries are stored as given, so
// those stored before keep working.
func TestListSpellings(t *testing.T) {
	for _, delim := range []string{"", "+-"} {
		s, st := newService(t, Deps{}, Config{RecipientDelimiter: delim})
		ctx := context.Background()
		if _, err := s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "dora@example.org", Action: ptr(ActionQuarantine),
			Block: []string{"bücher.test", "spam@evil2.test", "xn--mnchen-3ya.test", "Spam+Promo@Evil3.test"}}, "t"); err != nil {
			t.Fatal(err)
		}
		for _, from := range []string{"a@xn--bcher-kva.test", "a@bücher.test", "a@BÜCHER.test", "a@München.test", "a@xn--mnchen-3ya.test",
			"spam@evil2.test", "spam+x@evil2.test", "SPAM+x@EVIL2.test", "spam@evil3.test", "spam+other@evil3.test", "a@sub.xn--bcher-kva.test"} {
			if !blockedFor(t, s, plain("From: "+from+"\r\n"), "", "dora@example.org") {
				t.Errorf("delimiter %q: From %s not blocked", delim, from)
			}
		}
		if delim == "+-" && !blockedFor(t, s, plain("From: spam-x@evil2.test\r\n"), "", "dora@example.org") {
			t.Errorf("the configured delimiter '-' is not removed")
		}
		if blockedFor(t, s, plain("From: spammer@evil2.test\r\n"), "", "dora@example.org") {
			t.Errorf("another mailbox of the domain blocked")
		}
		// Stored as given: the policy reads back as it was set.
		p, _ := st.Policy(ctx, ScopeRecipient, "dora@example.org")
		if got := strings.Join(p.Block, ","); got != "bücher.test,spam@evil2.test,xn--mnchen-3ya.test,spam+promo@evil3.test" {
			t.Errorf("stored block list %q", got)
		}
	}
	// A domain policy set on a U-label domain applies to the A-label
	// recipient an MTA without SMTPUTF8 passes, and the other way round.
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	s.PutPolicy(ctx, Policy{Kind: ScopeDomain, Key: "bücher.test", Block: []string{"ok.test"}}, "t")
	s.PutPolicy(ctx, Policy{Kind: ScopeDomain, Key: "xn--mnchen-3ya.test", Block: []string{"ok.test"}}, "t")
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "ana@bücher.test", Spam: ptr(7.0)}, "t")
	for _, rc := range []string{"x@bücher.test", "x@xn--bcher-kva.test", "x@münchen.test", "x@XN--MNCHEN-3YA.test"} {
		if !blockedFor(t, s, plain("From: a@ok.test\r\n"), "", rc) {
			t.Errorf("the domain's policy does not reach %s", rc)
		}
	}
	if e := s.Effective(s.Mailbox("Ana+x@xn--bcher-kva.test")); e.Spam != 7 {
		t.Errorf("ana@bücher.test's policy does not reach her A-label address: spam %v", e.Spam)
	}
}

func ExampleListKey() {
	for _, s := range []string{"Spam+X@Evil.test", "a@München.test", "Bücher.Test.", "xn--bcher-kva.test"} {
		fmt.Println(ListKey(s, "+"))
	}
	// Output:
	// spam@evil.test
	// a@xn--mnchen-3ya.test
	// xn--bcher-kva.test
	// xn--bcher-kva.test
}
