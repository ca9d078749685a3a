package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	netmail "net/mail"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/outbound/sinktest"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// sendMail sends one message to the mailbox; from "" is the null sender.
func sendMail(t *testing.T, addr, from, to string, msg []byte) (int, string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(from); err != nil {
		t.Fatalf("MAIL FROM:<%s>: %v", from, err)
	}
	if err := c.Rcpt(to); err != nil {
		t.Fatalf("RCPT: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg)
	err = w.Close()
	c.Quit()
	if err != nil {
		var code int
		fmt.Sscanf(err.Error(), "%d", &code)
		return code, err.Error()
	}
	return 250, ""
}

func decodedBody(t *testing.T, raw []byte) (netmail.Header, string) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	return m.Header, string(b)
}

var linkRe = regexp.MustCompile(`http://localhost:\d+/r/[a-z0-9]+\?t=[a-z0-9]+`)

// TestMailboxAnswersReporters runs the binary with a real SMTP relay
// (Postfix's smtp-sink): a forwarded spam gets an acknowledgement in the
// reporter's language whose status link works and whose DKIM signature
// verifies; a question gets the how-to and stores nothing; real bounces and
// automatic answers are recorded, linked when they name the node's mail,
// never stored as reports and never answered.
func TestMailboxAnswersReporters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	sink := sinktest.Start(t)
	bin := accordBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "accord-data")
	port := freePort(t)
	conf := filepath.Join(dir, "accord.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`data = %q
[node]
name = "Desk of Testland"
[http]
listen = "127.0.0.1:%s"
public_url = "http://localhost:%s/"
[smtp]
hostname = "desk.example"
mailbox = "complaints@desk.example"
[outbound]
relay = "smtp://%s"
tls = "none"
`, data, port, port, sink.Addr)), 0o600)
	s := serve(t, bin, data, "--config", conf, "--http", "127.0.0.1:"+port)
	mailbox := "complaints@desk.example"
	ctx := context.Background()

	// 1. A forward in French: acknowledged in French, with a working link.
	fwd, _ := os.ReadFile("../../internal/intake/testdata/forward-two-attached.eml")
	fwd = append([]byte("Content-Language: fr-FR\r\n"), fwd...)
	if code, msg := sendMail(t, s.smtp, "alice@example.net", mailbox, fwd); code != 250 {
		t.Fatalf("forward: %d %s", code, msg)
	}
	ms := sink.Wait(t, 1, 20*time.Second)
	ack := ms[0]
	if ack.Rcpt[0] != "alice@example.net" || !strings.HasPrefix(ack.MailFrom, "bounce+") || !strings.HasSuffix(ack.MailFrom, "@desk.example") {
		t.Fatalf("ack envelope: %s", ack)
	}
	raw := bytes.ReplaceAll(bytes.ReplaceAll(ack.Data, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	h, body := decodedBody(t, raw)
	subj, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if !strings.HasPrefix(subj, "Votre signalement") || h.Get("Auto-Submitted") != "auto-replied" || h.Get("Content-Language") != "fr" ||
		!strings.Contains(body, "Desk of Testland") {
		t.Fatalf("ack: subject %q, header %v\n%s", subj, h, body)
	}
	links := linkRe.FindAllString(body, -1)
	if len(links) != 2 {
		t.Fatalf("ack has %d status links, want 2 (two spams attached):\n%s", len(links), body)
	}
	for _, l := range links {
		res, err := http.Get(l)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		id := l[strings.Index(l, "/r/")+3 : strings.Index(l, "?")]
		if res.StatusCode != 200 || !bytes.Contains(page, []byte(id)) {
			t.Fatalf("status link %s: %d", l, res.StatusCode)
		}
	}
	// DKIM: the record `accord node dkim` prints, served by a fixture zone.
	rec := runBin(t, bin, "", "node", "dkim", "--config", conf)
	m := regexp.MustCompile(`^(\S+)\. IN TXT "(.+)"`).FindStringSubmatch(strings.TrimSpace(rec))
	if m == nil || m[1] != "accord._domainkey.desk.example" {
		t.Fatalf("node dkim printed %q", rec)
	}
	zone := &resolve.Zone{}
	zone.AddTXT(m[1], m[2])
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(d string) ([]string, error) { return zone.LookupTXT(ctx, d) }})
	if err != nil || len(vs) != 1 || vs[0].Err != nil {
		t.Fatalf("ack DKIM: %+v %v", vs, err)
	}

	st, err := sqlite.Open(ctx, filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func() int { n, _ := st.CountReports(ctx); return n }
	if count() != 2 {
		t.Fatalf("%d reports, want 2", count())
	}

	// 2. A question: the how-to, and nothing stored.
	q := []byte("From: Ann <ann@example.net>\r\nTo: " + mailbox + "\r\nSubject: question\r\nMessage-ID: <q1@example.net>\r\n\r\nHello, how do I report spam?\r\n")
	if code, msg := sendMail(t, s.smtp, "ann@example.net", mailbox, q); code != 250 {
		t.Fatalf("question: %d %s", code, msg)
	}
	ms = sink.Wait(t, 2, 20*time.Second)
	howto := ms[1]
	if howto.Rcpt[0] != "ann@example.net" {
		howto = ms[0]
	}
	h2, body2 := decodedBody(t, howto.Data)
	if howto.Rcpt[0] != "ann@example.net" || !strings.HasPrefix(h2.Get("Subject"), "How to report spam") || h2.Get("In-Reply-To") != "<q1@example.net>" ||
		!strings.Contains(body2, mailbox) || !strings.Contains(body2, "http://localhost:"+port+"/") {
		t.Fatalf("how-to: %v\n%s", h2, body2)
	}
	if count() != 2 {
		t.Fatalf("the question was stored: %d reports", count())
	}

	// 3. Bounces: every real DSN and automatic answer is taken (250), none
	// stored, none answered.
	files, _ := filepath.Glob("../../internal/outbound/testdata/bounces/*.eml")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		from := ""
		if strings.Contains(f, "rfc3834") {
			from = "away@example.org" // automatic answers come from a person's address
		}
		if code, msg := sendMail(t, s.smtp, from, mailbox, b); code != 250 {
			t.Fatalf("%s: %d %s", f, code, msg)
		}
	}
	// A bounce of the acknowledgement, to its bounce address: linked.
	dsn, _ := os.ReadFile("../../internal/outbound/testdata/bounces/lhost-postfix-01.eml")
	if code, msg := sendMail(t, s.smtp, "", ack.MailFrom, dsn); code != 250 {
		t.Fatalf("bounce of the ack: %d %s", code, msg)
	}
	// The same bounce replayed changes nothing; a forged bounce address is no link.
	sendMail(t, s.smtp, "", ack.MailFrom, dsn)
	id := strings.TrimPrefix(ack.MailFrom[:strings.Index(ack.MailFrom, ".")], "bounce+")
	sendMail(t, s.smtp, "", "bounce+"+id+".aaaaaaaa@desk.example", append([]byte("X-Forged: 1\r\n"), dsn...))
	time.Sleep(500 * time.Millisecond)
	if n := count(); n != 2 {
		t.Fatalf("bounces were stored as reports: %d reports", n)
	}
	if got, _ := sink.Messages(); len(got) != 2 {
		t.Fatalf("the node answered bounces: %d mails at the relay", len(got))
	}
	item, err := st.Mail(ctx, id)
	if err != nil || item.State != outbound.Bounced || !strings.Contains(item.LastError, "5.1.1") {
		t.Fatalf("the acknowledgement after its bounce: %+v %v", item.State, err)
	}
	linked, _ := st.Bounces(ctx, id)
	if len(linked) != 1 {
		t.Fatalf("%d bounces linked to the ack, want 1 (the replay is one)", len(linked))
	}
	s.stop(t)
}

// TestMailboxTakesBouncesFromMailSystems runs the binary with a relay: a
// real DSN or failure notice whose envelope sender is a mail system's role
// address (MAILER-DAEMON@, postmaster@) rather than the null sender is a
// bounce — taken (250), not stored, not answered; the same bounce from a
// person's address is backscatter they report, stored and acknowledged;
// a complaint from a role address is stored but never answered, nor is
// a question from one.
func TestMailboxTakesBouncesFromMailSystems(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	sink := sinktest.Start(t)
	bin := accordBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "accord-data")
	conf := filepath.Join(dir, "accord.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`data = %q
[smtp]
hostname = "desk.example"
mailbox = "complaints@desk.example"
[outbound]
relay = "smtp://%s"
tls = "none"
`, data, sink.Addr)), 0o600)
	s := serve(t, bin, data, "--config", conf)
	defer s.stop(t)
	mailbox := "complaints@desk.example"
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func() int { n, _ := st.CountReports(ctx); return n }

	// 1. Every real DSN and failure notice of the fixtures, from
	// MAILER-DAEMON@ (and the DSNs from postmaster@ too): none stored.
	// Left out: the automatic answers (RFC 3834: a person's), a
	// mailing list's notice (fml) and a notice whose subject is a "Re:"
	// (apachejames), bounces only from the null sender.
	files, _ := filepath.Glob("../../internal/outbound/testdata/bounces/*.eml")
	sent := 0
	for _, f := range files {
		if strings.Contains(f, "rfc3834") || strings.Contains(f, "fml-02") || strings.Contains(f, "apachejames-01") || strings.Contains(f, "amazonses-11") {
			continue
		}
		b, _ := os.ReadFile(f)
		if code, msg := sendMail(t, s.smtp, "MAILER-DAEMON@mx.example.net", mailbox, b); code != 250 {
			t.Fatalf("%s from MAILER-DAEMON@: %d %s", f, code, msg)
		}
		sent++
		if bytes.Contains(b, []byte("message/delivery-status")) {
			if code, msg := sendMail(t, s.smtp, "postmaster@example.com", mailbox, b); code != 250 {
				t.Fatalf("%s from postmaster@: %d %s", f, code, msg)
			}
		}
	}
	if sent < 20 {
		t.Fatalf("%d fixtures sent", sent)
	}
	if n := count(); n != 0 {
		t.Fatalf("bounces from mail systems were stored as reports: %d reports", n)
	}

	// 2. The same DSN from a person's address: what they report (the
	// backscatter of spam forged in their name) — stored as it came
	// (not answered: it says it was delivered to another mailbox and is
	// automatic), and acknowledged when they forward it.
	dsn, _ := os.ReadFile("../../internal/outbound/testdata/bounces/lhost-postfix-01.eml")
	if code, msg := sendMail(t, s.smtp, "helpdesk@example.com", mailbox, dsn); code != 250 {
		t.Fatalf("a person's bounce: %d %s", code, msg)
	}
	if n := count(); n != 1 {
		t.Fatalf("a person's bounce: %d reports, want 1", n)
	}
	fwdDSN := append([]byte("From: Help Desk <helpdesk@example.com>\r\nTo: "+mailbox+"\r\nSubject: Fwd: Undelivered Mail Returned to Sender\r\n"+
		"Message-ID: <fwd1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"+
		"We never sent this; someone forged our address.\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"), dsn...)
	fwdDSN = append(fwdDSN, "\r\n--b--\r\n"...)
	if code, msg := sendMail(t, s.smtp, "helpdesk@example.com", mailbox, fwdDSN); code != 250 {
		t.Fatalf("a person's forwarded bounce: %d %s", code, msg)
	}
	reports := count()
	if reports < 2 {
		t.Fatalf("a person's forwarded bounce: %d reports, want more than 1", reports)
	}
	ms := sink.Wait(t, 1, 20*time.Second)
	if ms[0].Rcpt[0] != "helpdesk@example.com" {
		t.Fatalf("the acknowledgement went to %v", ms[0].Rcpt)
	}

	// 3. A forwarded spam from postmaster@: stored, never answered; a
	// question from MAILER-DAEMON@: no how-to, so the SMTP answer says it.
	fwd, _ := os.ReadFile("../../internal/intake/testdata/forward-two-attached.eml")
	if code, msg := sendMail(t, s.smtp, "postmaster@example.com", mailbox, fwd); code != 250 {
		t.Fatalf("postmaster's forward: %d %s", code, msg)
	}
	if n := count(); n != reports+2 {
		t.Fatalf("postmaster's forward: %d reports, want %d", n, reports+2)
	}
	q := []byte("From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\nTo: " + mailbox + "\r\nSubject: hello\r\n\r\nHello, how do I report spam?\r\n")
	if code, _ := sendMail(t, s.smtp, "MAILER-DAEMON@mx.example.net", mailbox, q); code != 554 {
		t.Fatalf("a question from MAILER-DAEMON@: %d, want 554 (no how-to mailed)", code)
	}
	time.Sleep(time.Second)
	if got, _ := sink.Messages(); len(got) != 1 {
		var to []string
		for _, m := range got {
			to = append(to, m.Rcpt...)
		}
		t.Fatalf("the node mailed %v; only the person's acknowledgement was due", to)
	}
}
