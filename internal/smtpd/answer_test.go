package smtpd_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/i18n"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/smtpd"
	"github.com/accord-antispam/accord/internal/spool"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// recorder is the node's store, keeping what the mailbox queues to send.
type recorder struct {
	*sqlstore.Store
	mu   sync.Mutex
	sent []outbound.Item
}

func (r *recorder) EnqueueMail(ctx context.Context, it outbound.Item) error {
	r.mu.Lock()
	r.sent = append(r.sent, it)
	r.mu.Unlock()
	return r.Store.EnqueueMail(ctx, it)
}

func (r *recorder) mails() []outbound.Item {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]outbound.Item(nil), r.sent...)
}

type answering struct {
	addr string
	st   *recorder
	q    *outbound.Queue
}

// startAnswering runs a mailbox that answers reporters through a queue
// with no relay: what it would mail stays in the store, to be read.
func startAnswering(t *testing.T, cfg smtpd.Config) answering {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Store: st}
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	d, err := intake.New(st, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := outbound.New(rec, outbound.Config{From: "Desk <desk@desk.example>", Secret: []byte("fedcba9876543210fedcba9876543210")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hostname = "desk.example"
	mailbox := "" // Unless the test says: report@ the mail domain.
	if cfg.Answers != nil {
		mailbox = cfg.Answers.Mailbox
	}
	cfg.Answers = &smtpd.Answers{Queue: q, Catalogue: cat, Name: "Desk of Testland", PublicURL: "https://desk.example", Mailbox: mailbox}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := smtpd.New(d, cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	go s.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		d.Close()
		st.Close()
	})
	return answering{l.Addr().String(), rec, q}
}

// send runs one SMTP transaction and returns the answer to DATA.
func (a answering) send(t *testing.T, from, to string, msg []byte) (int, string) {
	t.Helper()
	s := dial(t, a.addr)
	s.cmd("EHLO client.example")
	if code, m := s.cmd("MAIL FROM:<%s>", from); code != 250 {
		t.Fatalf("MAIL FROM:<%s>: %d %s", from, code, m)
	}
	if code, m := s.cmd("RCPT TO:<%s>", to); code != 250 {
		t.Fatalf("RCPT TO:<%s>: %d %s", to, code, m)
	}
	code, m := s.data(msg)
	s.cmd("QUIT")
	return code, m
}

func (a answering) reports(t *testing.T) int {
	t.Helper()
	n, err := a.st.CountReports(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const question = "From: Victim <victim@example.com>\r\nTo: report@desk.example\r\nSubject: question\r\nMessage-ID: <q@example.com>\r\n\r\nHello, how do I report spam?\r\n"

// TestHowToNamesTheMailboxNotTheRecipient: the mailbox takes any RCPT; an
// attacker named a quoted local part holding a phishing pitch, and the
// node mailed "send it to <that text>", DKIM-signed, to the forged sender.
func TestHowToNamesTheMailboxNotTheRecipient(t *testing.T) {
	a := startAnswering(t, smtpd.Config{})
	evil := `"CHEAP-PILLS-AT-http://evil.example/buy"@evil.example`
	code, msg := a.send(t, "victim@example.com", evil, []byte(question))
	if code != 250 {
		t.Fatalf("question: %d %s", code, msg)
	}
	ms := a.st.mails()
	if len(ms) != 1 || ms[0].Kind != outbound.KindHowTo {
		t.Fatalf("%d mails queued, want the how-to", len(ms))
	}
	body := string(ms[0].Raw)
	if strings.Contains(strings.ToLower(body), "evil.example") || strings.Contains(strings.ToLower(body), "cheap-pills") {
		t.Fatalf("the how-to carries the attacker's recipient text:\n%s", body)
	}
	if !strings.Contains(body, "report@desk.example") {
		t.Fatalf("the how-to does not name the desk's mailbox:\n%s", body)
	}
}

// TestNoAcknowledgementToTheSpammer: a server that forwards mail keeping
// its envelope sender (an alias, a .forward) made the spammer the
// "reporter": the acknowledgement with the private status link went to
// them. A spam sent to the desk by its own author is not answered either;
// a person's forward still is.
func TestNoAcknowledgementToTheSpammer(t *testing.T) {
	a := startAnswering(t, smtpd.Config{})
	spam := fixture(t, "forward-two-attached.eml") // a person's forward first
	if code, msg := a.send(t, "alice@example.net", "report@desk.example", spam); code != 250 || !strings.Contains(msg, "Stored:") {
		t.Fatalf("forward: %d %s", code, msg)
	}
	if ms := a.st.mails(); len(ms) != 1 || ms[0].Kind != outbound.KindAck || ms[0].To != "alice@example.net" {
		t.Fatalf("a person's forward was not acknowledged: %+v", ms)
	}
	phish := "Return-Path: <verify@freshmail.example>\r\nFrom: \"service@bank.example\" <alerts@secure-login.example>\r\nTo: you@example.net\r\n" +
		"Subject: Your account is suspended\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <x1@secure-login.example>\r\n\r\n" +
		"Dear customer, verify now at http://login.bank.example@198.51.100.4/verify\r\n"
	// Forwarded by the reporter's server: the spam's envelope sender kept
	// (in transit, with no Return-Path yet).
	relayed := "Delivered-To: you@example.net\r\n" + strings.Replace(phish, "Return-Path: <verify@freshmail.example>\r\n", "", 1)
	if code, msg := a.send(t, "verify@freshmail.example", "report@desk.example", []byte(relayed)); code != 250 || !strings.Contains(msg, "Stored:") {
		t.Fatalf("server forward: %d %s", code, msg)
	}
	// Sent by its author straight to the desk.
	if code, msg := a.send(t, "verify@freshmail.example", "report@desk.example", []byte(strings.Replace(phish, "x1@", "x2@", 1))); code != 250 || !strings.Contains(msg, "Stored:") {
		t.Fatalf("spam to the desk: %d %s", code, msg)
	}
	for _, m := range a.st.mails()[1:] {
		t.Errorf("mailed %s to %s: the spammer gets the reporter's status link", m.Kind, m.To)
	}
	if n := a.reports(t); n != 4 {
		t.Fatalf("%d reports stored, want 4 (all kept)", n)
	}
}

// TestAnswersAreBoundedPerMailboxAndClient: "10 answers an hour" was per
// address string (victim+0…+11 got 12 more), and one client could have
// the node mail every forged sender it named.
func TestAnswersAreBoundedPerMailboxAndClient(t *testing.T) {
	a := startAnswering(t, smtpd.Config{AnswersPerIP: 1000})
	for i := 0; i < 12; i++ {
		a.send(t, fmt.Sprintf("victim+%d@example.com", i), "report@desk.example", []byte(question))
	}
	if n := len(a.st.mails()); n != 10 {
		t.Errorf("%d answers to one mailbox under 12 subaddresses, want 10", n)
	}

	b := startAnswering(t, smtpd.Config{AnswersPerIP: 5})
	for i := 0; i < 8; i++ {
		b.send(t, fmt.Sprintf("forged%d@example.org", i), "report@desk.example", []byte(question))
	}
	if n := len(b.st.mails()); n != 5 {
		t.Errorf("%d answers caused by one client in an hour, want 5", n)
	}
}

// TestTheSpamsOwnHeadersDoNotDecide: the spammer writes the reported
// message's header; only the complaint's own fields say what the mail is.
func TestTheSpamsOwnHeadersDoNotDecide(t *testing.T) {
	a := startAnswering(t, smtpd.Config{})
	spam := func(id, extra string) string {
		return "Received: from spam.example (spam.example [203.0.113.9]) by mx.example.net; Tue, 3 Nov 2026 10:00:00 +0100\r\n" + extra +
			"From: Deals <deals@spam.example>\r\nTo: bob@example.net\r\nSubject: Cheap watches\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\n" +
			"Message-ID: <" + id + "@spam.example>\r\n\r\nBuy now at http://watches.spam.example/buy\r\n"
	}
	redirect := func(inner string) []byte {
		return []byte("Resent-From: Bob <bob@example.net>\r\nResent-Date: Tue, 3 Nov 2026 11:00:00 +0100\r\nResent-To: report@desk.example\r\n" + inner)
	}
	stored := 0
	for _, c := range []struct {
		name string
		from string
		msg  []byte
		ack  bool
	}{
		{"redirect of a spam marked Auto-Submitted", "bob@example.net", redirect(spam("a1", "Auto-Submitted: auto-generated\r\n")), true},
		{"redirect of a spam carrying List-Unsubscribe", "bob@example.net", redirect(spam("a2", "List-Unsubscribe: <mailto:u@spam.example>\r\nPrecedence: bulk\r\n")), true},
		{"redirect of a phishing mail dressed as a bounce", "bob@example.net", redirect("From: MAILER-DAEMON@mx.spam.example\r\nX-Autogenerated: Reply\r\n" +
			"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <a3@spam.example>\r\nTo: bob@example.net\r\n\r\nYour mailbox is full, log in at http://mail-login.spam.example/\r\n"), true},
		{"a mail rule's forward", "bob@example.net", []byte("From: bob@example.net\r\nTo: report@desk.example\r\nSubject: Fwd: spam\r\nAuto-Submitted: auto-forwarded\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nspam\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" +
			spam("a4", "") + "--b--\r\n"), false},
	} {
		before := len(a.st.mails())
		code, msg := a.send(t, c.from, "report@desk.example", c.msg)
		if code != 250 || !strings.Contains(msg, "Stored:") {
			t.Errorf("%s: %d %s, want it stored", c.name, code, msg)
			continue
		}
		stored++
		if got := len(a.st.mails()) > before; got != c.ack {
			t.Errorf("%s: acknowledged %v, want %v", c.name, got, c.ack)
		}
	}
	if n := a.reports(t); n != stored {
		t.Fatalf("%d reports, want %d", n, stored)
	}
}

// TestAnswersToTheDeskAreNotReports: a reporter's "Thanks!" to the
// acknowledgement (quoting its status link) and an autoresponder without
// RFC 3834 fields were stored as reports and answered again.
func TestAnswersToTheDeskAreNotReports(t *testing.T) {
	a := startAnswering(t, smtpd.Config{})
	if code, msg := a.send(t, "alice@example.net", "report@desk.example", fixture(t, "forward-two-attached.eml")); code != 250 {
		t.Fatalf("forward: %d %s", code, msg)
	}
	ms := a.st.mails()
	if len(ms) != 1 {
		t.Fatalf("%d mails, want the acknowledgement", len(ms))
	}
	ack := ms[0]
	link := "https://desk.example/r/"
	if i := strings.Index(string(ack.Raw), link); i < 0 {
		t.Fatalf("no status link in the acknowledgement:\n%s", ack.Raw)
	}
	for _, c := range []struct{ name, from, msg string }{
		{"a thank-you", "alice@example.net", "From: alice@example.net\r\nTo: desk@desk.example\r\nSubject: Re: Your spam report was received\r\n" +
			"In-Reply-To: <" + ack.MessageID + ">\r\nReferences: <" + ack.MessageID + ">\r\nMessage-ID: <r1@example.net>\r\n\r\nThanks!\r\n\r\n> " + link + "abc?t=def\r\n"},
		{"a Dutch autoresponder", "alice@example.net", "From: alice@example.net\r\nTo: desk@desk.example\r\nSubject: Automatisch antwoord: Your spam report was received\r\n" +
			"In-Reply-To: <" + ack.MessageID + ">\r\nMessage-ID: <r2@example.net>\r\n\r\nIk ben afwezig tot maandag. Zie http://example.net/afwezig\r\n"},
	} {
		code, msg := a.send(t, c.from, "report@desk.example", []byte(c.msg))
		if code != 250 || strings.Contains(msg, "Stored:") {
			t.Errorf("%s: %d %s, want taken as an answer", c.name, code, msg)
		}
	}
	if n := a.reports(t); n != 2 {
		t.Errorf("%d reports, want the 2 forwarded spams only", n)
	}
	if n := len(a.st.mails()); n != 1 {
		t.Errorf("%d mails, want only the first acknowledgement", n)
	}
	// Linked to the acknowledgement they answer.
	id := a.q.MailIDFrom(ack.MessageID)
	if bs, err := a.st.Bounces(context.Background(), id); err != nil || len(bs) != 2 {
		t.Errorf("%d answers linked to the acknowledgement, want 2 (%v)", len(bs), err)
	}
}

// TestComplaintsWaitForTheMemoryBudget: DATA was read whole into memory
// outside the node's budget (8 × 24 MB → 444 MB). A complaint now waits,
// spooled, until the budget has room: while the test holds all of it, no
// answer comes; once released, the complaint is stored.
func TestComplaintsWaitForTheMemoryBudget(t *testing.T) {
	budget := spool.NewBudget(1 << 20)
	mb := start(t, smtpd.Config{Budget: budget})
	release, err := budget.Admit(context.Background(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	s := dial(t, mb.addr)
	s.cmd("EHLO client.example")
	s.cmd("MAIL FROM:<alice@example.net>")
	s.cmd("RCPT TO:<report@desk.example>")
	if code, m := s.cmd("DATA"); code != 354 {
		t.Fatalf("DATA: %d %s", code, m)
	}
	w := s.c.DotWriter()
	w.Write(fixture(t, "forward-two-attached.eml"))
	w.Close()
	answered := make(chan string, 1)
	go func() {
		code, m, _ := s.c.ReadResponse(0)
		answered <- fmt.Sprint(code, " ", m)
	}()
	select {
	case a := <-answered:
		t.Fatalf("answered %q while the budget was full", a)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	select {
	case a := <-answered:
		if !strings.Contains(a, "Stored:") {
			t.Fatalf("after the budget freed: %s", a)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no answer after the budget freed")
	}
}

// TestLongMessageIDIsNotCopied: a 30 KB Message-ID was copied into the
// answer's In-Reply-To and References (30,027-byte header lines).
func TestLongMessageIDIsNotCopied(t *testing.T) {
	a := startAnswering(t, smtpd.Config{})
	long := strings.Replace(question, "Message-ID: <q@example.com>", "Message-ID: <"+strings.Repeat("x", 30000)+"@example.com>", 1)
	if code, msg := a.send(t, "victim@example.com", "report@desk.example", []byte(long)); code != 250 {
		t.Fatalf("question: %d %s", code, msg)
	}
	ms := a.st.mails()
	if len(ms) != 1 {
		t.Fatalf("%d mails", len(ms))
	}
	for _, line := range strings.Split(string(ms[0].Raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("a header line of %d bytes: %.80s…", len(line), line)
		}
	}
}

// TestSpamTrapHitAndPublicAddress: a spam mailed to the desk by its own
// author, written to its victim, is stored whole with no reporter (the
// eighth attack review's LOW 6); a person's note written to the desk's
// public address — an alias at another host passing mail on to the
// mailbox under another recipient — stays their note, its sender the
// reporter.
func TestSpamTrapHitAndPublicAddress(t *testing.T) {
	a := startAnswering(t, smtpd.Config{Answers: &smtpd.Answers{Mailbox: "Plainte@Gouv.example"}})
	stored := func(code int, msg string) *intake.Report {
		t.Helper()
		i := strings.Index(msg, "report ")
		if code != 250 || i < 0 {
			t.Fatalf("%d %s", code, msg)
		}
		id := strings.TrimRight(strings.Fields(msg[i+len("report "):])[0], ".,")
		r, err := a.st.Report(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	trap := "From: PayPal <service@paypal-verify.com>\r\nTo: bob.durand@gmail.com\r\nSubject: Account limited\r\n" +
		"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <t1@paypal-verify.com>\r\n\r\nVerify http://paypal-verify.com/login\r\n"
	if r := stored(a.send(t, "service@paypal-verify.com", "report@desk.example", []byte(trap))); r.Form != intake.FormRaw || r.ReporterID != "" {
		t.Errorf("spam trap hit: form %s, reporter %q", r.Form, r.ReporterID)
	}
	note := "From: Ann Leroy <ann@leroy-famille.example>\r\nTo: plainte@gouv.example\r\nSubject: spam\r\n" +
		"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <n1@leroy-famille.example>\r\n\r\nI got this: http://pharma.example/buy\r\n"
	if r := stored(a.send(t, "ann@leroy-famille.example", "report@desk.example", []byte(note))); r.Form != intake.FormPaste || r.ReporterID == "" {
		t.Errorf("a note to the public address: form %s, reporter %q", r.Form, r.ReporterID)
	}
}

// TestAnAlmostEmptyMailIsNotAReport: a mail with no From and no To, a
// subject and a line of words, was stored as a report and acknowledged
// (its headers made it "a message", and a message mailed to the desk was
// taken as the spam whatever it held). The form and the API refuse the
// same text pasted: it names nothing to act on. The mailbox judges it as
// they do: the how-to, no report. One with a link in it is still a
// report, and so is a complete message.
func TestAnAlmostEmptyMailIsNotAReport(t *testing.T) {
	a := startAnswering(t, smtpd.Config{})
	for _, msg := range []string{
		"Subject: hi\r\n\r\nhello there\r\n",
		"Date: Sun, 29 Nov 2026 21:00:00 +0000\r\n\r\nplease look\r\nat this\r\n",
	} {
		code, answer := a.send(t, "victim@example.com", "report@desk.example", []byte(msg))
		if code != 250 || !strings.Contains(answer, "no report was stored") {
			t.Errorf("%q: %d %s, want 250 with the how-to", msg, code, answer)
		}
	}
	if n := a.reports(t); n != 0 {
		t.Fatalf("%d reports stored for a mail with nothing to act on, want 0", n)
	}
	ms := a.st.mails()
	if len(ms) != 2 || ms[0].Kind != outbound.KindHowTo || ms[1].Kind != outbound.KindHowTo {
		kinds := make([]string, len(ms))
		for i, m := range ms {
			kinds[i] = string(m.Kind)
		}
		t.Fatalf("mails queued: %v, want two how-tos", kinds)
	}
	code, answer := a.send(t, "victim2@example.com", "report@desk.example", []byte("Subject: hi\r\n\r\nthey sent me to http://pay-now.example/x\r\n"))
	if code != 250 || !strings.Contains(answer, "Stored:") {
		t.Fatalf("a mail with a link: %d %s, want it stored", code, answer)
	}
	if n := a.reports(t); n != 1 {
		t.Fatalf("%d reports stored, want 1", n)
	}
}
