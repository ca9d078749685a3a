package sqlitetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
)

// forwardOf is a forward of a Bcc spam whose links and subject name the
// forwarder, as the attack review built them: the From is the forwarder's
// own, written as their mail client writes it.
func forwardOf(from, tag string) []byte {
	spam := "Received: from relay.example ([12.0.9.1]) by mx.fr.example with SMTP id " + tag + "; Tue, 24 Nov 2026 10:00:01 +0000\r\n" +
		"From: La Poste Colis <colis@" + tag + "-mailer.example>\r\nTo: undisclosed-recipients:;\r\nSubject: Alice Martin, votre colis\r\n" +
		"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + tag + ".1@" + tag + "-scam.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour,\r\nvotre colis attend. Payez ici:\r\nhttp://" + tag + "-scam.example/r/alice-martin/ref\r\n" +
		"http://" + tag + "-scam.example/t/AliceMartin/ref\r\n"
	return []byte("From: " + from + "\r\nTo: report@localhost\r\nSubject: Fwd: votre colis\r\nDate: Tue, 24 Nov 2026 11:00:00 +0000\r\n" +
		"Message-ID: <" + tag + "@fwd.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"OUTER\"\r\n\r\n" +
		"--OUTER\r\nContent-Type: text/plain\r\n\r\nVoici un spam.\r\n--OUTER\r\nContent-Type: message/rfc822\r\n\r\n" + spam + "\r\n--OUTER--\r\n")
}

// TestForwarderNameNeverShared is the third attack review's first two
// findings, end to end: a forward uploaded through the API whose From the
// standard library cannot read (windows-1252 or iso-8859-15 words, raw
// 8-bit Latin-1, an unquoted "Last, First", two addresses) still has its
// reporter, and the reporter's display name — not spelled by their
// address — is cut from every item the node would share, through the
// mailbox too.
func TestForwarderNameNeverShared(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	for i, c := range []struct{ from, addr string }{
		{"=?windows-1252?Q?Alice_Mart=EDn?= <am1987@orange-fr.example>", "am1987@orange-fr.example"},
		{"=?iso-8859-15?Q?Alice_Mart=EDn?= <am1988@orange-fr.example>", "am1988@orange-fr.example"},
		{"Alice Mart\xedn <am1989@orange-fr.example>", "am1989@orange-fr.example"},
		{"Martin, Alice <am1990@orange-fr.example>", "am1990@orange-fr.example"},
		{"Alice Martin <am1991@orange-fr.example>, Secretariat <sec@orange-fr.example>", "am1991@orange-fr.example"},
		{"Alice Martin <am1992@orange-fr.example>", "am1992@orange-fr.example"},
	} {
		tag := fmt.Sprintf("parcel%d", i)
		rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: forwardOf(c.from, tag), SubmittedBy: "token:x"})
		if err != nil {
			t.Fatal(err)
		}
		r, err := n.store.Report(ctx, rec.Reports[0].ID)
		if err != nil || r.Form != intake.FormAttached {
			t.Fatalf("%s: %v %v", c.from, r, err)
		}
		if a, err := n.store.ReporterAddress(ctx, r.ReporterID); err != nil || a != c.addr {
			t.Errorf("From %q: reporter %q %v, want %s", c.from, a, err, c.addr)
		}
	}
	// The mailbox: the envelope sender is the reporter, the header From
	// carries their name.
	if _, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: forwardOf("Alice Martin <am1993@orange-fr.example>", "parcel9"),
		Reporter: "am1993@orange-fr.example", SubmittedBy: "smtp"}); err != nil {
		t.Fatal(err)
	}
	src, ok := n.store.(federation.Source)
	if !ok {
		t.Fatal("the store is no federation source")
	}
	sh, err := federation.Collect(ctx, src, "FR")
	if err != nil {
		t.Fatal(err)
	}
	urls := 0
	for _, g := range sh.ItemsFor(nil) {
		for _, it := range g.Items {
			if strings.HasPrefix(it.Key, "ind:url:") {
				urls++
			}
			if l := strings.ToLower(string(it.Body)); strings.Contains(l, "martin") || strings.Contains(l, "am19") {
				t.Errorf("%s names the forwarder: %s", it.Key, it.Body)
			}
		}
	}
	if urls < 7 {
		t.Errorf("%d URL indicators: the links were not shared at all", urls)
	}
}

// TestSpamFromItsAuthorHasNoReporter: a spam its author mailed straight
// to the mailbox (a spam trap's hit, the eighth attack review's LOW 6) is
// stored whole with no reporter and no reporter authentication — the
// spammer is not the desk's reporter, to be answered, cut from what is
// shared or exported.
func TestSpamFromItsAuthorHasNoReporter(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	raw := []byte("Received: from mx.spam.example (mx.spam.example [12.0.9.80]) by mx.mail.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
		"From: PayPal <service@paypal-verify.com>\r\nTo: bob.durand@gmail.com\r\nSubject: Account limited\r\n" +
		"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <t1@paypal-verify.com>\r\n\r\nVerify http://paypal-verify.com/login\r\n")
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: raw, Reporter: "service@paypal-verify.com",
		ReporterAuth: "spf", SubmittedBy: "smtp", Desk: []string{"report@localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := n.store.Report(ctx, rec.Reports[0].ID)
	if err != nil || r.Form != intake.FormRaw || r.ReporterID != "" || r.ReporterAuth != "" {
		t.Fatalf("report %s: form %s, reporter %q, auth %q (%v)", rec.Reports[0].ID, r.Form, r.ReporterID, r.ReporterAuth, err)
	}
}
