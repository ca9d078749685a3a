package sinktest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/outbound/sinktest"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable time for backoff tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func store(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var dkimKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func queue(t *testing.T, st outbound.Store, cfg outbound.Config) *outbound.Queue {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "Accord desk <desk@desk.example>"
	}
	cfg.Secret = secret
	if cfg.DKIM == nil {
		cfg.DKIM = dkimKey
	}
	q, err := outbound.New(st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// crlf turns the sink's dump back into wire form.
func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// TestDeliveredSignedAndMarked: a mail goes through a real SMTP server
// (Postfix's smtp-sink), arrives with the node's bounce address as envelope
// sender, Auto-Submitted, its Message-ID, and a DKIM signature that
// verifies against the published record (a fixture DNS zone), and no
// field a caller's text tried to inject.
func TestDeliveredSignedAndMarked(t *testing.T) {
	sink := sinktest.Start(t)
	st := store(t)
	q := queue(t, st, outbound.Config{Relay: "smtp://" + sink.Addr, TLS: "none"})
	it, err := q.Send(context.Background(), outbound.Mail{Kind: outbound.KindAck, Ref: "complaint:c1", To: "Reporter <reporter@example.net>",
		Subject: "Merci\r\nBcc: victim@example.org", Text: "Votre signalement est enregistré.\nhttps://desk.example/r/x?t=y\n", Lang: "fr", Answer: true,
		InReplyTo: "<orig@example.net>"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := q.DeliverDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("deliver: %d sent, %v", n, err)
	}
	ms := sink.Wait(t, 1, 5*time.Second)
	m := ms[0]
	if m.MailFrom != it.From || !strings.HasPrefix(m.MailFrom, "bounce+"+it.ID+".") || len(m.Rcpt) != 1 || m.Rcpt[0] != "reporter@example.net" {
		t.Fatalf("envelope: %s (item from %s)", m, it.From)
	}
	raw := crlf(m.Data)
	pm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := pm.Header
	if h.Get("Auto-Submitted") != "auto-replied" || h.Get("Message-Id") != "<"+it.MessageID+">" || h.Get("In-Reply-To") != "<orig@example.net>" ||
		h.Get("Content-Language") != "fr" || h.Get("X-Auto-Response-Suppress") != "All" {
		t.Errorf("header: %v", h)
	}
	if h.Get("Bcc") != "" {
		t.Errorf("a Bcc field was injected through the subject: %q", h.Get("Bcc"))
	}
	dec := new(mime.WordDecoder)
	if subj, _ := dec.DecodeHeader(h.Get("Subject")); subj != "Merci  Bcc: victim@example.org" {
		t.Errorf("subject %q: the injected line should stay inside the subject", subj)
	}
	// DKIM against a fixture DNS zone with the published record.
	name, value, err := q.DNSRecord()
	if err != nil {
		t.Fatal(err)
	}
	zone := &resolve.Zone{}
	zone.AddTXT(name, value)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(d string) ([]string, error) {
		return zone.LookupTXT(context.Background(), d)
	}})
	if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "desk.example" {
		t.Fatalf("DKIM: %+v %v", vs, err)
	}
	// The check can fail: the same mail with its text changed does not verify.
	tampered := bytes.Replace(raw, []byte("enregistr"), []byte("supprim"), 1)
	if vs, _ := dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{LookupTXT: func(d string) ([]string, error) {
		return zone.LookupTXT(context.Background(), d)
	}}); len(vs) != 1 || vs[0].Err == nil {
		t.Fatal("a tampered body still verifies")
	}
	got, _ := q.Status(context.Background(), it.ID)
	if got.State != outbound.Sent || got.Attempts != 1 {
		t.Fatalf("state %s after %d attempts", got.State, got.Attempts)
	}
}

// TestReleaseRelayedUnsigned (attack review 26, A1): a quarantine release
// is someone else's message. Signed with the node's key at delivery, a
// message any mailbox owner had held for themselves and released —
// "From: desk@" the node's own domain and a phishing text — left with a
// valid d=<node domain> signature over From, aligned for DMARC and
// replayable to anyone. It is relayed as queued: no DKIM-Signature, no
// own-mail mark, the sender's bytes unchanged; the node's own mail from
// the same queue is still signed and marked. Resend with another kind,
// which delivery would sign, is refused.
func TestReleaseRelayedUnsigned(t *testing.T) {
	sink := sinktest.Start(t)
	st := store(t)
	q := queue(t, st, outbound.Config{Relay: "smtp://" + sink.Addr, TLS: "none", MarkKey: []byte("own-mail key of the node")})
	ctx := context.Background()
	spoof := "From: \"Accord complaint desk\" <desk@desk.example>\r\nTo: ana@example.org\r\nSubject: Your complaint account will be closed\r\n" +
		"Date: Mon, 30 Nov 2026 00:00:00 +0000\r\nMessage-ID: <spoof1@desk.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Dear user, confirm your password at http://phish.test/authority-login within 24 hours.\r\n"
	raw := "X-Accord-Release: v=1; q=q-1; r=ana@example.org; x=1; s=x\r\n" + spoof
	rel, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindRelease, Ref: "quarantine:q-1", To: "ana@example.org", Raw: []byte(raw), Resend: true})
	if err != nil {
		t.Fatal(err)
	}
	own, err := q.Send(ctx, outbound.Mail{Kind: "quarantine-digest", Ref: "quarantine-digest", To: "ana@example.org", Subject: "1 held message", Text: "own-digest\n"})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := q.DeliverDue(ctx); err != nil || n != 2 {
		t.Fatalf("deliver: %d sent, %v", n, err)
	}
	name, value, err := q.DNSRecord()
	if err != nil {
		t.Fatal(err)
	}
	zone := &resolve.Zone{}
	zone.AddTXT(name, value)
	verify := func(raw []byte) []*dkim.Verification {
		vs, _ := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: func(d string) ([]string, error) {
			return zone.LookupTXT(ctx, d)
		}})
		return vs
	}
	for _, m := range sink.Wait(t, 2, 5*time.Second) {
		data := crlf(m.Data)
		switch {
		case bytes.Contains(data, []byte("phish.test")):
			if vs := verify(data); len(vs) != 0 {
				t.Errorf("the release carries %d DKIM signature(s), first d=%s err=%v", len(vs), vs[0].Domain, vs[0].Err)
			}
			if bytes.Contains(data, []byte("X-Accord-Mail:")) {
				t.Errorf("the release carries the node's own-mail mark:\n%s", data)
			}
			if !bytes.HasSuffix(bytes.TrimRight(data, "\r\n"), []byte(strings.TrimRight(raw, "\r\n"))) {
				t.Errorf("the release is not the queued bytes:\n%s", data)
			}
			if m.MailFrom != rel.From {
				t.Errorf("release envelope sender %s, want the bounce address %s", m.MailFrom, rel.From)
			}
		case bytes.Contains(data, []byte("own-digest")):
			if vs := verify(data); len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "desk.example" {
				t.Errorf("the node's own digest is not signed: %+v", vs)
			}
			if !bytes.Contains(data, []byte("X-Accord-Mail: v=1; m="+own.ID+";")) {
				t.Errorf("the node's own digest is not marked:\n%s", data)
			}
		default:
			t.Errorf("unexpected mail:\n%s", data)
		}
	}
	if _, err := q.Send(ctx, outbound.Mail{Kind: "digest", To: "ana@example.org", Raw: []byte(spoof), Resend: true}); err == nil {
		t.Error("a resent message of another kind (which delivery signs) was queued")
	}
	if _, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindRelease, To: "ana@example.org", Raw: []byte(spoof)}); err == nil {
		t.Error("a release not marked Resend (composed as the node's own mail, then relayed unsigned) was queued")
	}
}

// TestRetryWithBackoffThenDelivered: while the relay is down, the mail stays
// queued with a growing delay; once it is back, the mail goes out.
func TestRetryWithBackoffThenDelivered(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	st := store(t)
	clk := &clock{t: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)}
	q := queue(t, st, outbound.Config{Relay: "smtp://" + addr, TLS: "none", Now: clk.now, Backoff: time.Minute})
	ctx := context.Background()
	it, err := q.Send(ctx, outbound.Mail{Kind: "digest", Ref: "quarantine:q1", To: "user@example.net", Subject: "Digest", Text: "3 messages held"})
	if err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	for i := 0; i < 3; i++ {
		if n, _ := q.DeliverDue(ctx); n != 0 {
			t.Fatal("sent to nothing")
		}
		got, _ := q.Status(ctx, it.ID)
		if got.State != outbound.Queued || got.Attempts != i+1 || got.LastError == "" {
			t.Fatalf("attempt %d: %+v", i+1, got)
		}
		delays = append(delays, got.NextAt.Sub(clk.now()))
		// Not due yet: nothing is tried.
		if n, _ := q.DeliverDue(ctx); n != 0 {
			t.Fatal("retried before due")
		}
		if again, _ := q.Status(ctx, it.ID); again.Attempts != i+1 {
			t.Fatalf("retried before due: %d attempts", again.Attempts)
		}
		clk.add(got.NextAt.Sub(clk.now()))
	}
	if !(delays[0] >= time.Minute && delays[1] >= 2*time.Minute && delays[2] >= 4*time.Minute && delays[2] < 5*time.Minute+time.Second) {
		t.Fatalf("backoff delays %v: want 1, 2, 4 minutes (plus jitter)", delays)
	}
	// The relay comes back on the same address.
	sink := sinktest.StartAt(t, addr)
	if n, err := q.DeliverDue(ctx); n != 1 || err != nil {
		t.Fatalf("after the relay came back: %d, %v", n, err)
	}
	sink.Wait(t, 1, 5*time.Second)
	if got, _ := q.Status(ctx, it.ID); got.State != outbound.Sent || got.Attempts != 4 {
		t.Fatalf("final: %s after %d", got.State, got.Attempts)
	}
}

// TestPermanentFailureIsRecorded: a 5xx from the relay ends the mail as
// failed, with the relay's answer, and it is not tried again.
func TestPermanentFailureIsRecorded(t *testing.T) {
	sink := sinktest.Start(t, "-f", "RCPT")
	st := store(t)
	q := queue(t, st, outbound.Config{Relay: "smtp://" + sink.Addr, TLS: "none"})
	ctx := context.Background()
	it, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: "nobody@example.net", Subject: "x", Text: "y"})
	if err != nil {
		t.Fatal(err)
	}
	q.DeliverDue(ctx)
	got, _ := q.Status(ctx, it.ID)
	if got.State != outbound.Failed || !strings.Contains(got.LastError, "500") {
		t.Fatalf("state %s, error %q", got.State, got.LastError)
	}
	if items, _ := st.ClaimMail(ctx, "x", time.Now().Add(24*time.Hour), time.Minute, 10); len(items) != 0 {
		t.Fatal("a failed mail is still due")
	}
}

// TestSoftFailureRetries: a 4xx keeps the mail queued.
func TestSoftFailureRetries(t *testing.T) {
	sink := sinktest.Start(t, "-r", "RCPT")
	q := queue(t, store(t), outbound.Config{Relay: "smtp://" + sink.Addr, TLS: "none"})
	ctx := context.Background()
	it, _ := q.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: "later@example.net", Subject: "x", Text: "y"})
	q.DeliverDue(ctx)
	if got, _ := q.Status(ctx, it.ID); got.State != outbound.Queued || !strings.Contains(got.LastError, "450") {
		t.Fatalf("state %s, error %q", got.State, got.LastError)
	}
}

// TestAnswersAreBounded: no more than MaxPerHour answers to one address, and
// never a mail to the node itself or to its bounce addresses.
func TestAnswersAreBounded(t *testing.T) {
	q := queue(t, store(t), outbound.Config{MaxPerHour: 3})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: "Loop@Example.net", Subject: "x", Text: "y", Answer: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: "loop@example.net", Subject: "x", Text: "y", Answer: true}); !errors.Is(err, outbound.ErrTooMany) {
		t.Fatalf("fourth answer in an hour: %v", err)
	}
	for _, to := range []string{"desk@desk.example", "DESK@desk.example", "bounce+abc.def@desk.example"} {
		if _, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: to, Subject: "x", Text: "y"}); err == nil {
			t.Errorf("mail to %s (the node itself) was queued", to)
		}
	}
	for _, to := range []string{"", "not an address", "a@b\r\nRCPT TO:<x@y>"} {
		if _, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: to, Subject: "x", Text: "y"}); err == nil {
			t.Errorf("recipient %q accepted", to)
		}
	}
}

// relay is an in-process go-smtp server standing in for a submission
// relay that requires STARTTLS and AUTH: Postfix's smtp-sink speaks
// neither TLS nor checks passwords, and this sink checks what the client
// did (the client under test is the real one).
type relay struct {
	mu    sync.Mutex
	tls   []bool
	users []string
	got   [][]byte
}

type relaySession struct {
	r    *relay
	conn *smtp.Conn
	user string
}

func (r *relay) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &relaySession{r: r, conn: c}, nil
}
func (s *relaySession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *relaySession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "desk" || pass != "s3cret-relay-pass" {
			return errors.New("bad credentials")
		}
		s.user = user
		return nil
	}), nil
}
func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return &smtp.SMTPError{Code: 530, Message: "auth first"}
	}
	return nil
}
func (s *relaySession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *relaySession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	_, isTLS := s.conn.TLSConnectionState()
	s.r.mu.Lock()
	s.r.got, s.r.tls, s.r.users = append(s.r.got, b), append(s.r.tls, isTLS), append(s.r.users, s.user)
	s.r.mu.Unlock()
	return nil
}
func (s *relaySession) Reset()        {}
func (s *relaySession) Logout() error { return nil }

func TestStartTLSAndAuth(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	r := &relay{}
	srv := smtp.NewServer(r)
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	ctx := context.Background()
	st := store(t)

	q := queue(t, st, outbound.Config{Relay: "smtp://localhost:" + port, Username: "desk", Password: "s3cret-relay-pass", RootCAs: pool})
	it, _ := q.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: "r@example.net", Subject: "x", Text: "y"})
	if n, err := q.DeliverDue(ctx); n != 1 {
		got, _ := q.Status(ctx, it.ID)
		t.Fatalf("not sent: %v %s", err, got.LastError)
	}
	r.mu.Lock()
	if len(r.got) != 1 || !r.tls[0] || r.users[0] != "desk" {
		t.Fatalf("relay saw tls=%v users=%v", r.tls, r.users)
	}
	r.mu.Unlock()

	// A wrong password is the operator's error: the mail waits, it is not lost.
	bad := queue(t, st, outbound.Config{Relay: "smtp://localhost:" + port, Username: "desk", Password: "wrong", RootCAs: pool})
	it2, _ := bad.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: "r2@example.net", Subject: "x", Text: "y"})
	bad.DeliverDue(ctx)
	if got, _ := bad.Status(ctx, it2.ID); got.State != outbound.Queued || !strings.Contains(got.LastError, "AUTH") {
		t.Fatalf("wrong password: %s %q", got.State, got.LastError)
	}
	// An untrusted certificate is refused: nothing is sent in clear.
	untrusted := queue(t, st, outbound.Config{Relay: "smtp://localhost:" + port, Username: "desk", Password: "s3cret-relay-pass"})
	it3, _ := untrusted.Send(ctx, outbound.Mail{Kind: outbound.KindAck, To: "r3@example.net", Subject: "x", Text: "y"})
	untrusted.DeliverDue(ctx)
	if got, _ := untrusted.Status(ctx, it3.ID); got.State != outbound.Queued || !strings.Contains(got.LastError, "certificate") {
		t.Fatalf("untrusted relay: %s %q", got.State, got.LastError)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 1 {
		t.Fatalf("relay received %d mails, want 1", len(r.got))
	}
	// A password is never configured for a plain connection to a remote relay.
	if _, err := outbound.New(st, outbound.Config{From: "d@desk.example", Secret: secret, Relay: "smtp://relay.example.org:25", TLS: "none", Username: "u", Password: "p"}, nil); err == nil {
		t.Fatal("plain AUTH to a remote relay was accepted")
	}
}
