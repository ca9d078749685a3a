package filter

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/mailauth"
)

// Every form RFC 8601 allows for our authserv-id is ours: a sender's
// field in any of them must be removed, since a reader downstream reads
// it as ours (the engine's own parser does).
func TestOwnAuthResultsForms(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{AuthServID: "mx.accord.test"})
	ours := []string{
		"mx.accord.test; spf=pass",
		"MX.ACCORD.TEST; spf=pass",
		"mx.accord.test 1; spf=pass",
		"\r\n mx.accord.test; dkim=pass header.d=paypal.com",
		"(comment) mx.accord.test; spf=pass smtp.mailfrom=paypal.com",
		"(nested (comment)) mx.accord.test ; spf=pass",
		`"mx.accord.test"; dkim=pass header.d=bank3.com`,
		"mx.accord.test.; dkim=pass",
		"=?utf-8?q?mx.accord.test?=; dkim=pass",
	}
	for _, v := range ours {
		if !s.OwnAuthResults(v) {
			t.Errorf("%q not taken for ours", v)
		}
	}
	for _, v := range []string{"mx.example.org; spf=pass", "mx.accord.test.evil; spf=pass", "(mx.accord.test) other.example; spf=pass", "spf=pass"} {
		if s.OwnAuthResults(v) {
			t.Errorf("%q taken for ours", v)
		}
	}
	raw := []byte("Authentication-Results: other.example; spf=pass\r\nAuthentication-Results:\r\n (c) mx.accord.test; spf=pass\r\nFrom: a@b.example\r\n\r\nAuthentication-Results: mx.accord.test; in the body\r\n")
	if own, total := s.OwnAuthResultsAt(raw); fmt.Sprint(own) != "[2]" || total != 2 {
		t.Errorf("OwnAuthResultsAt: %v of %d", own, total)
	}
}

// A header padded past what the filter reads could hide forged fields
// (a verdict, a second From) behind the limit: such a message is refused
// for everybody, with a 5.3.4 reason.
func TestHeaderOverflowRefused(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{AuthServID: "mx.accord.test"})
	s.PutPolicy(context.Background(), Policy{Kind: ScopeRecipient, Key: "off@example.org", Enabled: ptr(false)}, "t")
	var b strings.Builder
	b.WriteString("From: s@sender.example\r\nTo: bob@example.org\r\nSubject: pad\r\n")
	for i := 0; i < MaxHeaderFields; i++ {
		b.WriteString("X-P: x\r\n")
	}
	b.WriteString("X-Spam-Flag: NO\r\nAuthentication-Results: mx.accord.test; dmarc=pass header.from=bank.example\r\n\r\nhello\r\n")
	d, err := s.Check(context.Background(), []byte(b.String()), Envelope{Rcpts: []string{"bob@example.org", "off@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if !d.HeaderOverflow || d.Outcome != OutcomeReject || !strings.HasPrefix(s.RejectText(d), "5.3.4") {
		t.Errorf("padded header: overflow %v outcome %s %q", d.HeaderOverflow, d.Outcome, s.RejectText(d))
	}
	d, _ = s.Check(context.Background(), msg("s@sender.example", "fine", "hello"), Envelope{Rcpts: []string{"bob@example.org"}})
	if d.HeaderOverflow || d.Outcome == OutcomeReject {
		t.Errorf("plain message: overflow %v outcome %s", d.HeaderOverflow, d.Outcome)
	}
}

// GTUBE in a base64 body part is recognised, as SpamAssassin's body test
// does.
func TestGTUBEInBase64Part(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	raw := "From: a@b.example\r\nTo: ana@example.org\r\nSubject: test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("hello "+GTUBE+"\r\n")) + "\r\n"
	d, err := s.Check(context.Background(), []byte(raw), Envelope{Rcpts: []string{"ana@example.org"}})
	if err != nil || !strings.Contains(symbolNames(d), "GTUBE") {
		t.Errorf("base64 GTUBE: %s %v", symbolNames(d), err)
	}
}

// TestAuthResultsValues: every property the node writes under its
// authserv-id is a valid token — a domain name (A-labels, lower case), a
// selector as an RFC 2045 token — or left out; a signature's d= or s=
// and the From domain come from the sender like MAIL FROM does (attack
// 26 A2).
func TestAuthResultsValues(t *testing.T) {
	v := &analysis.Verdict{Auth: &mailauth.Results{
		SPF: mailauth.SPF{Result: "none", Source: mailauth.SourceComputed, Identity: "mailfrom", Domain: "ok.test;spf=pass"},
		DKIM: []mailauth.DKIMSignature{
			{Result: "fail", Source: mailauth.SourceComputed, Domain: "ok.test; dkim=pass header.d=paypal.com", Selector: "s1;dkim=pass"},
			{Result: "fail", Source: mailauth.SourceComputed, Domain: "Bücher.Test.", Selector: "20230601"},
		},
		DMARC: mailauth.DMARC{Result: "none", Source: mailauth.SourceComputed, Domain: "x.test (dmarc=pass)"},
	}}
	got := authResults("mx.example.org", v)
	want := "mx.example.org; spf=none;\n\tdkim=fail;\n\tdkim=fail header.d=xn--bcher-kva.test header.s=20230601;\n\tdmarc=none"
	if got != want {
		t.Errorf("authResults:\n%q\nwant\n%q", got, want)
	}
}
