package milterd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/ownmail"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// sink is a local SMTP server that keeps what Postfix delivers to it.
type sink struct {
	mu   sync.Mutex
	msgs []sunk
}

type sunk struct {
	from string
	to   []string
	data []byte
}

func (s *sink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (x *sinkSession) AuthPlain(string, string) error { return nil }
func (x *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, sunk{x.from, x.to, b})
	x.s.mu.Unlock()
	return nil
}
func (x *sinkSession) Reset()        { x.from, x.to = "", nil }
func (x *sinkSession) Logout() error { return nil }

// find waits for a delivered message whose body contains marker.
func (s *sink) find(marker string, wait time.Duration) *sunk {
	end := time.Now().Add(wait)
	for time.Now().Before(end) {
		s.mu.Lock()
		for i := range s.msgs {
			if bytes.Contains(s.msgs[i].data, []byte(marker)) {
				m := s.msgs[i]
				s.mu.Unlock()
				return &m
			}
		}
		s.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPostfix runs a throwaway Postfix from Debian's package on loopback:
// its own configuration and queue in a temporary folder, smtpd on port,
// the milter at milter, everything relayed to the sink.
func startPostfix(t *testing.T, port int, milter string, sinkPort int) {
	t.Helper()
	if _, err := exec.LookPath("postfix"); err != nil {
		if _, err := os.Stat("/usr/sbin/postfix"); err != nil {
			if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
				t.Fatal("postfix is required (Debian package postfix)")
			}
			t.Skip("postfix not installed")
		}
	}
	if os.Getuid() != 0 {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("the Postfix test runs a mail server and needs root")
		}
		t.Skip("not root")
	}
	dir, err := os.MkdirTemp("", "accord-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.accord.test
mydomain = accord.test
myorigin = $myhostname
mydestination =
relay_domains = example.org
relayhost = [127.0.0.1]:%[2]d
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, permit_auth_destination, reject
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_milters = inet:%[3]s
non_smtpd_milters = $smtpd_milters
milter_protocol = 6
milter_default_action = accept
milter_connect_macros = j {daemon_name} {daemon_addr} v _
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
maximal_backoff_time = 1s
minimal_backoff_time = 1s
queue_run_delay = 1s
`, dir, sinkPort, milter)
	master := fmt.Sprintf(`127.0.0.1:%d inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`, port)
	conf := filepath.Join(dir, "etc")
	os.MkdirAll(conf, 0o755)
	os.WriteFile(filepath.Join(conf, "main.cf"), []byte(main), 0o644)
	os.WriteFile(filepath.Join(conf, "master.cf"), []byte(master), 0o644)
	for _, d := range []string{"queue", "data"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	exec.Command("chown", "postfix", filepath.Join(dir, "data")).Run()
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command("postfix", append([]string{"-c", conf}, args...)...).CombinedOutput()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Fatalf("postfix %v: %v\n%s\n%s", args, err, out, log)
		}
	}
	run("set-permissions")
	run("start")
	t.Cleanup(func() {
		exec.Command("postfix", "-c", conf, "stop").Run()
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "maillog"))
			t.Logf("postfix log:\n%s", log)
		}
		os.RemoveAll(dir)
	})
	// Wait for smtpd.
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("postfix did not start listening")
}

func sendSMTP(addr, from string, to []string, msg []byte) error {
	return smtp.SendMail(addr, nil, from, to, msg)
}

// sendAs sends as a client on another address, the way an MX receives
// from the Internet: Postfix's XCLIENT (allowed from loopback) sets the
// client address, name and HELO the milter is told.
func sendAs(addr, ip, name, from string, to []string, msg []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	cmd := func(code int, format string, args ...any) error {
		id, err := c.Text.Cmd(format, args...)
		if err != nil {
			return err
		}
		c.Text.StartResponse(id)
		defer c.Text.EndResponse(id)
		_, _, err = c.Text.ReadResponse(code)
		return err
	}
	if err := cmd(220, "XCLIENT ADDR=%s NAME=%s HELO=%s", ip, name, name); err != nil {
		return fmt.Errorf("xclient: %w", err)
	}
	if err := cmd(250, "EHLO %s", name); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	w.Write(msg)
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// TestPostfix puts the milter into a real Postfix's mail flow: ham is
// delivered to the sink with the filter's headers, an unsure message
// tagged, spam rejected at DATA or held per each recipient's policy, and
// the sink's copies checked.
func TestPostfix(t *testing.T) {
	out := &queueOut{}
	srv, f, st := startWith(t, filter.Config{AuthServID: "mx.accord.test"}, out)
	ctx := context.Background()
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "rej@example.org", Action: ptr(filter.ActionReject)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "held@example.org", Action: ptr(filter.ActionQuarantine)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "unsure@example.org", Unsure: ptr(-1.0)}, "t")
	sk := &sink{}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ss := gosmtp.NewServer(sk)
	ss.Domain = "sink.test"
	go ss.Serve(sl)
	t.Cleanup(func() { ss.Close() })
	port := freePort(t)
	startPostfix(t, port, srv.Addr().String(), sl.Addr().(*net.TCPAddr).Port)
	mx := fmt.Sprintf("127.0.0.1:%d", port)

	mk := func(marker, body string) []byte {
		return []byte(fmt.Sprintf("From: Sender <s@sender.example>\r\nTo: friend@example.org\r\nSubject: %s\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <%s@sender.example>\r\nX-Spam-Flag: NO\r\n\r\n%s\r\n%s\r\n", marker, marker, body, marker))
	}
	// Ham: delivered with the headers; the forged X-Spam-Flag gone.
	if err := sendSMTP(mx, "s@sender.example", []string{"friend@example.org"}, mk("ham-1", "see you at lunch")); err != nil {
		t.Fatal(err)
	}
	got := sk.find("ham-1", 20*time.Second)
	if got == nil {
		t.Fatal("ham never reached the sink")
	}
	if !bytes.Contains(got.data, []byte("X-Spam-Flag: NO")) || bytes.Count(got.data, []byte("X-Spam-Flag:")) != 1 ||
		!bytes.Contains(got.data, []byte("X-Spam-Status:")) || !bytes.Contains(got.data, []byte("Authentication-Results: mx.accord.test")) ||
		!bytes.Contains(got.data, []byte("X-Accord-Reference:")) {
		t.Errorf("ham headers at the sink:\n%s", got.data)
	}
	// Unsure for a recipient whose policy says so: tagged, delivered.
	sendSMTP(mx, "s@sender.example", []string{"unsure@example.org"}, mk("unsure-1", "see you at lunch"))
	if got := sk.find("unsure-1", 20*time.Second); got == nil || !bytes.Contains(got.data, []byte("X-Spam-Status: No, score=")) ||
		!bytes.Contains(got.data, []byte("X-Accord-Status: unsure")) || bytes.Contains(got.data, []byte("X-Spam-Status: Unsure")) {
		t.Errorf("unsure: %v", got)
	}
	// Spam to a rejecting recipient: refused at DATA with 550 5.7.1.
	err = sendSMTP(mx, "s@sender.example", []string{"rej@example.org"}, mk("spam-rej", filter.GTUBE))
	if err == nil || !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), "5.7.1") {
		t.Errorf("reject: %v", err)
	}
	// Spam to a quarantining and a tagging recipient: the first held, the
	// second gets it flagged (the built-in policy tags under 8 points
	// and holds above: GTUBE's 1000 would be held too, so the tagging
	// recipient here has quarantine off).
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "tag@example.org", Quarantine: ptr(0.0)}, "t")
	if err := sendSMTP(mx, "s@sender.example", []string{"held@example.org", "tag@example.org"}, mk("spam-mixed", filter.GTUBE)); err != nil {
		t.Fatal(err)
	}
	got = sk.find("spam-mixed", 20*time.Second)
	if got == nil || len(got.to) != 1 || !strings.Contains(got.to[0], "tag@example.org") || !bytes.Contains(got.data, []byte("X-Spam-Flag: YES")) {
		t.Fatalf("mixed delivery: %+v", got)
	}
	held, _ := st.HeldMessages(ctx, filter.HeldFilter{Recipient: "held@example.org"})
	if len(held) != 1 {
		t.Fatalf("held for held@: %d", len(held))
	}
	h, _ := st.HeldMessage(ctx, held[0].ID)
	if !bytes.Contains(h.Raw, []byte("spam-mixed")) {
		t.Errorf("the held copy is not the message")
	}
	// The rejected message never reached the sink.
	if sk.find("spam-rej", time.Second) != nil {
		t.Error("a rejected message was delivered")
	}

	// From a client on the Internet, a sender's Authentication-Results in
	// the node's name above a Received field that claims the node took
	// the message from the bank: Postfix's own connection is the top hop,
	// so neither is believed. Every message is spam for ana unless her
	// allow list counts; the forged pass must not make it count, nor come
	// back in our own Authentication-Results.
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "ana@example.org", Allow: []string{"bank.example"}, Spam: ptr(-50.0), Action: ptr(filter.ActionReject)}, "t")
	forged := "Authentication-Results: mx.accord.test; dkim=pass header.d=bank.example header.s=s1; dmarc=pass header.from=bank.example\r\n" +
		"Received: from mail.bank.example (mail.bank.example [198.51.100.7]) by mx.accord.test with ESMTPS id abc; Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
		"From: Bank <alerts@bank.example>\r\nTo: ana@example.org\r\nSubject: forged-ar\r\nMessage-ID: <f1@bank.example>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nclick http://evil.test/login\r\nforged-ar\r\n"
	err = sendAs(mx, "203.0.113.5", "evil.test", "x@evil.test", []string{"ana@example.org"}, []byte(forged))
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("forged Authentication-Results from a public client: %v, want 550 (the allow list must not count)", err)
	}
	if got := sk.find("forged-ar", time.Second); got != nil {
		t.Errorf("the forged message was delivered:\n%s", got.data)
	}
	// Forged verdict fields behind more header fields than the filter
	// reads: refused, never delivered unseen.
	var pad strings.Builder
	pad.WriteString("From: s@sender.example\r\nTo: friend@example.org\r\nSubject: pad\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n")
	for i := 0; i < filter.MaxHeaderFields; i++ {
		pad.WriteString("X-P: x\r\n")
	}
	pad.WriteString("X-Spam-Flag: NO\r\nAuthentication-Results: mx.accord.test; dmarc=pass header.from=bank.example\r\n\r\nhello pad-marker\r\n")
	err = sendSMTP(mx, "s@sender.example", []string{"friend@example.org"}, []byte(pad.String()))
	if err == nil || !strings.Contains(err.Error(), "5.3.4") {
		t.Errorf("padded header: %v, want a 5.3.4 refusal", err)
	}
	if got := sk.find("pad-marker", time.Second); got != nil {
		t.Errorf("the padded message was delivered")
	}

	// Release: the node's outbound queue hands the message to this very
	// Postfix, whose milter is the filter that held it. It must reach the
	// sink, not be held again; the held message says "queued" until the
	// queue delivered it, "released" after.
	ost, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ost.Close()
	q, err := outbound.New(ost, outbound.Config{From: "Accord <desk@desk.accord.test>", Relay: "smtp://" + mx, TLS: "none",
		Secret: []byte("0123456789abcdef0123456789abcdef"), MarkKey: testOwnMailKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	q.OnDone(func(ctx context.Context, it outbound.Item) {
		f.ReleaseDone(ctx, strings.TrimPrefix(it.Ref, "quarantine:"), it.State == outbound.Sent, it.LastError)
	})
	out.q = q
	state, err := f.Release(ctx, filter.Actor{Label: "cli", Admin: true}, held[0].ID)
	if err != nil || state != filter.StateQueued {
		t.Fatalf("release: %q %v", state, err)
	}
	if h, _ := st.HeldMessage(ctx, held[0].ID); h.State != filter.StateQueued {
		t.Errorf("before the queue ran: %s, want queued", h.State)
	}
	if n, err := q.DeliverDue(ctx); n != 1 || err != nil {
		t.Fatalf("outbound delivered %d: %v", n, err)
	}
	end := time.Now().Add(20 * time.Second)
	var rel *sunk
	for rel == nil && time.Now().Before(end) {
		sk.mu.Lock()
		for i := range sk.msgs {
			if bytes.Contains(sk.msgs[i].data, []byte("spam-mixed")) && strings.Contains(strings.Join(sk.msgs[i].to, ","), "held@example.org") {
				rel = &sk.msgs[i]
			}
		}
		sk.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
	if rel == nil {
		again, _ := st.HeldMessages(ctx, filter.HeldFilter{Recipient: "held@example.org"})
		t.Fatalf("the released message never reached the sink; held for held@ now: %d", len(again))
	}
	if !bytes.Contains(rel.data, []byte("X-Accord-Filter: released: "+held[0].ID)) || bytes.Contains(rel.data, []byte(filter.ReleaseField+":")) {
		t.Errorf("released copy's headers:\n%s", rel.data)
	}
	if again, _ := st.HeldMessages(ctx, filter.HeldFilter{Recipient: "held@example.org"}); len(again) != 1 {
		t.Errorf("the release was held again: %d held for held@", len(again))
	}
	if h, _ := st.HeldMessage(ctx, held[0].ID); h.State != filter.StateReleased {
		t.Errorf("after delivery: %s, want released", h.State)
	}

	// The node's own mail through this Postfix: a digest listing a held
	// message whose Subject carried GTUBE was held itself (1000 points),
	// and an ordinary one tagged; the recipient never got the release
	// links. With the queue's mark it is delivered unscanned, the mark
	// removed; the same mark on another body is scanned and held.
	dg, err := q.Send(ctx, outbound.Mail{Kind: "quarantine-digest", Ref: "quarantine-digest", To: "held@example.org",
		Subject: "Held for you: 1 message", Text: "1. own-digest-1 From s@sender.example: " + filter.GTUBE + "\nRelease: https://node.example/q/r?t=x\n"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := q.DeliverDue(ctx); n != 1 || err != nil {
		t.Fatalf("outbound delivered %d: %v", n, err)
	}
	got = sk.find("own-digest-1", 20*time.Second)
	if got == nil {
		again, _ := st.HeldMessages(ctx, filter.HeldFilter{Recipient: "held@example.org"})
		t.Fatalf("the node's digest never reached the sink; held for held@ now: %d", len(again))
	}
	if !bytes.Contains(got.data, []byte("X-Accord-Filter: own-mail: "+dg.ID)) || bytes.Contains(got.data, []byte(ownmail.Field+":")) ||
		bytes.Contains(got.data, []byte("X-Spam-Flag: YES")) {
		t.Errorf("the digest's headers at the sink:\n%s", got.data)
	}
	if it, _ := q.Status(ctx, dg.ID); it.State != outbound.Sent {
		t.Errorf("digest: %s, want sent", it.State)
	}
	copied := ownmail.New(testOwnMailKey).Mark(mk("own-digest-2", filter.GTUBE), dg.ID, "held@example.org", time.Now())
	if err := sendSMTP(mx, "s@sender.example", []string{"held@example.org"}, bytes.Replace(copied, []byte("own-digest-2\r\n"), []byte("own-digest-2 changed\r\n"), 1)); err != nil {
		t.Fatal(err)
	}
	if got := sk.find("own-digest-2", 5*time.Second); got != nil {
		t.Errorf("a copied own-mail mark on another body let GTUBE through:\n%s", got.data)
	}

	// A local user holds the milter's share of connections from
	// 127.0.0.1 (the address Postfix connects from too), each negotiated
	// and then silent. Postfix used to be refused, apply its
	// milter_default_action (accept) and deliver spam for a holding
	// recipient unfiltered, forged X-Spam-Flag: NO included. Now its
	// connection takes the place of the one idle longest: held.
	for i := 0; i < 128; i++ {
		negotiated(t, "tcp", srv.Addr().String())
	}
	time.Sleep(1200 * time.Millisecond) // the idle ones have waited past connlimit's EvictAfter
	if err := sendSMTP(mx, "s@sender.example", []string{"held@example.org"}, mk("spam-held-idle", filter.GTUBE)); err != nil {
		t.Fatal(err)
	}
	if got := sk.find("spam-held-idle", 10*time.Second); got != nil {
		t.Fatalf("spam for a holding recipient reached the sink while a local user held the milter's connections:\n%s", got.data)
	}
	heldNow := false
	for end := time.Now().Add(10 * time.Second); !heldNow && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		all, _ := st.HeldMessages(ctx, filter.HeldFilter{Recipient: "held@example.org"})
		for _, m := range all {
			if hm, _ := st.HeldMessage(ctx, m.ID); bytes.Contains(hm.Raw, []byte("spam-held-idle")) {
				heldNow = true
			}
		}
	}
	if !heldNow {
		t.Error("the message is neither at the sink nor in the quarantine")
	}
}

// queueOut is the node's way out for releases: its outbound queue (set
// once Postfix, its relay, runs).
type queueOut struct{ q *outbound.Queue }

func (o *queueOut) Deliver(ctx context.Context, id, _ string, to []string, raw []byte) (bool, error) {
	for _, t := range to {
		if _, err := o.q.Send(ctx, outbound.Mail{Kind: outbound.KindRelease, Ref: "quarantine:" + id, To: t, Raw: raw, Resend: true}); err != nil {
			return false, err
		}
	}
	return true, nil
}
