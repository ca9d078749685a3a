package outbound

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

func testQueue(t testing.TB) *Queue {
	q, err := New(nil, Config{From: "Desk <desk@desk.example>", Secret: []byte("0123456789abcdef0123456789abcdef")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestRealBouncesAreRecognised: every real notification in testdata is a
// bounce or an automatic answer, read as a file (no envelope) and as the
// mailbox receives it (null sender, except for automatic answers which
// come from a person's address).
func TestRealBouncesAreRecognised(t *testing.T) {
	q := testQueue(t)
	files, _ := filepath.Glob("testdata/bounces/*.eml")
	if len(files) < 30 {
		t.Fatalf("%d fixtures", len(files))
	}
	kinds := map[string]int{}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		b := q.Recognize(raw, Envelope{}, time.Now())
		if b == nil {
			t.Errorf("%s: not recognised as a bounce", f)
			continue
		}
		kinds[b.Kind]++
		env := Envelope{Known: true, MailFrom: ""}
		if strings.Contains(f, "rfc3834") {
			env.MailFrom = "someone@example.org"
		}
		if q.Recognize(raw, env, time.Now()) == nil {
			t.Errorf("%s: not recognised with its SMTP envelope", f)
		}
	}
	if kinds["dsn"] < 10 || kinds["bounce"] < 5 || kinds["auto-reply"] < 2 {
		t.Errorf("kinds %v", kinds)
	}
	// A DSN's fields are read.
	raw, _ := os.ReadFile("testdata/bounces/lhost-postfix-01.eml")
	b := q.Recognize(raw, Envelope{}, time.Now())
	if b.Status != "5.1.1" || b.Action != "failed" || b.Recipient != "r@p351355.pool.example.ne.jp" || b.ReportingMTA != "p351355.pool.example.ne.jp" ||
		!strings.Contains(b.Diagnostic, "No such user") || !b.Failure() {
		t.Errorf("postfix DSN fields: %+v", b)
	}
}

// TestComplaintsAreNotBounces: feedback reports (ARF, even from a machine),
// forwarded spam, and spam redirected by a person whose text imitates a
// bounce are complaints.
func TestComplaintsAreNotBounces(t *testing.T) {
	q := testQueue(t)
	for _, f := range []string{"arf-01.eml", "arf-22.eml", "forward-inline-gmail.eml", "forward-two-attached.eml", "forward-eml-octet.eml"} {
		raw, err := os.ReadFile(filepath.Join("../intake/testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range []Envelope{{}, {Known: true, MailFrom: "reporter@example.net"}, {Known: true, MailFrom: ""}} {
			// A feedback report is a complaint whatever its envelope; other
			// mail with the null sender is a notification.
			if b := q.Recognize(raw, env, time.Now()); b != nil && !(env.Known && env.MailFrom == "" && f != "arf-01.eml") {
				t.Errorf("%s with %+v: recognised as %s", f, env, b.Kind)
			}
		}
	}
	// Phishing that looks like a bounce, redirected by a person: the
	// envelope says a person sent it.
	fake := []byte("From: Mail Delivery System <MAILER-DAEMON@bank.example>\r\nTo: victim@example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Content-Type: text/plain\r\n\r\nYour mailbox is full. Log in at http://bank.example.phish/login to release your messages.\r\n")
	if b := q.Recognize(fake, Envelope{Known: true, MailFrom: "victim@example.net"}, time.Now()); b != nil {
		t.Errorf("redirected phishing taken for a %s", b.Kind)
	}
	// The same as a bounce really arrives (null sender) is one.
	if b := q.Recognize(fake, Envelope{Known: true}, time.Now()); b == nil {
		t.Error("null-sender failure notice not recognised")
	}
}

// TestBouncesLinkOnlyToOwnMail: a bounce is linked through the node's
// bounce address or Message-ID when its tag is right; a forged one (right
// shape, wrong tag) links to nothing.
func TestBouncesLinkOnlyToOwnMail(t *testing.T) {
	q := testQueue(t)
	id := "abcdefghijklmnop"
	own := q.bounceAddress(id)
	if q.MailIDFrom(own) != id || q.MailIDFrom("<"+id+"."+q.tag(id)+"@desk.example>") != id {
		t.Fatal("own addresses not read back")
	}
	forged := "bounce+" + id + ".aaaaaaaa@desk.example"
	if q.MailIDFrom(forged) != "" || q.MailIDFrom("bounce+"+id+"."+q.tag(id)+"@other.example") != "" {
		t.Fatal("forged address accepted")
	}
	raw, _ := os.ReadFile("testdata/bounces/lhost-postfix-01.eml")
	// By envelope recipient (VERP).
	if b := q.Recognize(raw, Envelope{Known: true, Rcpt: []string{own}}, time.Now()); b == nil || b.MailID != id {
		t.Fatalf("VERP link: %+v", b)
	}
	if b := q.Recognize(raw, Envelope{Known: true, Rcpt: []string{forged}}, time.Now()); b == nil || b.MailID != "" {
		t.Fatalf("forged VERP linked: %+v", b)
	}
	// By the Message-ID quoted in the returned message.
	msgid := id + "." + q.tag(id) + "@desk.example"
	quoted := bytes.Replace(raw, []byte("Message-Id: <20130429234532.00000000000@p351355.pool.example.ne.jp>\n\nThis"), []byte("Message-Id: <x@y>\n\nThis"), 1)
	quoted = append(quoted, []byte("\nMessage-ID: <"+msgid+">\n")...)
	if b := q.Recognize(quoted, Envelope{}, time.Now()); b == nil || b.MailID != id {
		t.Fatalf("Message-ID link: %+v", b)
	}
	// Anything sent to a bounce address is a bounce, even if it looks like a complaint.
	arf, _ := os.ReadFile("../intake/testdata/arf-01.eml")
	if b := q.Recognize(arf, Envelope{Known: true, MailFrom: "x@example.org", Rcpt: []string{own}}, time.Now()); b == nil {
		t.Fatal("mail to a bounce address taken for a complaint")
	}
}

func FuzzRecognize(f *testing.F) {
	files, _ := filepath.Glob("testdata/bounces/*.eml")
	for _, n := range files[:5] {
		b, _ := os.ReadFile(n)
		f.Add(b, "")
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5\r\n Action:\r\n--x--"), "")
	q := testQueue(f)
	f.Fuzz(func(t *testing.T, raw []byte, from string) {
		b := q.Recognize(raw, Envelope{Known: from != "", MailFrom: from}, time.Now())
		if b != nil && (len(b.Diagnostic) > 1000 || strings.ContainsAny(b.Status+b.Recipient+b.From+b.Subject, "\r\n")) {
			t.Fatalf("unbounded or multi-line fields: %+v", b)
		}
		_ = mail.DefaultLimits
	})
}

// TestBouncesFromMailSystemRoles: a DSN or failure notice whose envelope
// sender is a mail system's role address (not the null sender) is a
// bounce; the same from a person's address, and a person's forward of a
// bounce from a role address, is a complaint.
func TestBouncesFromMailSystemRoles(t *testing.T) {
	q := testQueue(t)
	for _, a := range []string{"", "<>", "MAILER-DAEMON@mx.example.net", "mailer_daemon@example.org", "Postmaster@example.com", "double-bounce@mx.example.net", "MAILER-DAEMON"} {
		if !SystemSender(a) {
			t.Errorf("%q is a mail system's sender", a)
		}
	}
	for _, a := range []string{"helpdesk@example.com", "alice@example.net", "postmaster-team@example.com", "abuse@example.com"} {
		if SystemSender(a) {
			t.Errorf("%q taken for a mail system's sender", a)
		}
	}
	for _, f := range []string{"lhost-postfix-01.eml", "lhost-exim-01.eml", "lhost-qmail-01.eml", "rfc3464-01.eml"} {
		raw, _ := os.ReadFile("testdata/bounces/" + f)
		for _, from := range []string{"MAILER-DAEMON@mx.example.net", "postmaster@example.com"} {
			if b := q.Recognize(raw, Envelope{Known: true, MailFrom: from}, time.Now()); b == nil || b.Kind != "dsn" && b.Kind != "bounce" {
				t.Errorf("%s from %s: %+v", f, from, b)
			}
		}
		if b := q.Recognize(raw, Envelope{Known: true, MailFrom: "helpdesk@example.com"}, time.Now()); b != nil {
			t.Errorf("%s from a person's address taken for a %s", f, b.Kind)
		}
	}
	// A postmaster forwarding the backscatter they received, as an
	// attachment or with a forward's subject: a complaint.
	dsn, _ := os.ReadFile("testdata/bounces/lhost-postfix-01.eml")
	fwd := append([]byte("From: postmaster@example.com\r\nSubject: Fwd: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNot ours.\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"), dsn...)
	fwd = append(fwd, "\r\n--b--\r\n"...)
	if b := q.Recognize(fwd, Envelope{Known: true, MailFrom: "postmaster@example.com"}, time.Now()); b != nil {
		t.Errorf("postmaster's forward of a bounce taken for a %s", b.Kind)
	}
	attached := bytes.Replace(fwd, []byte("Subject: Fwd: "), []byte("Subject: "), 1)
	if b := q.Recognize(attached, Envelope{Known: true, MailFrom: "postmaster@example.com"}, time.Now()); b != nil {
		t.Errorf("postmaster's bounce attached to a mail taken for a %s", b.Kind)
	}
}
