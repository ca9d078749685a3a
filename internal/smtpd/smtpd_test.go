package smtpd_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/smtpd"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

type mailbox struct {
	addr  string
	store intake.Store
}

func start(t *testing.T, cfg smtpd.Config) mailbox {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	d, err := intake.New(st, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
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
	return mailbox{l.Addr().String(), st}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "intake", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// session is a raw SMTP client for the cases net/smtp will not produce.
type session struct {
	t *testing.T
	c *textproto.Conn
}

func dial(t *testing.T, addr string) *session {
	t.Helper()
	c, err := textproto.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &session{t, c}
	s.expect(220)
	return s
}

func (s *session) cmd(format string, args ...any) (int, string) {
	s.t.Helper()
	if err := s.c.PrintfLine(format, args...); err != nil {
		s.t.Fatal(err)
	}
	code, msg, err := s.c.ReadResponse(0)
	if err != nil && code == 0 {
		s.t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
	return code, msg
}

func (s *session) expect(want int) string {
	s.t.Helper()
	code, msg, err := s.c.ReadResponse(want)
	if err != nil {
		s.t.Fatalf("want %d, got %d %s (%v)", want, code, msg, err)
	}
	return msg
}

func (s *session) data(msg []byte) (int, string) {
	s.t.Helper()
	if code, m := s.cmd("DATA"); code != 354 {
		s.t.Fatalf("DATA: %d %s", code, m)
	}
	w := s.c.DotWriter()
	w.Write(msg)
	w.Close()
	code, m, _ := s.c.ReadResponse(0)
	return code, m
}

var reportRe = regexp.MustCompile(`report ([a-z0-9, ]+)\.`)

func TestForwardIsStoredBeforeTheAnswer(t *testing.T) {
	mb := start(t, smtpd.Config{})
	complaint := fixture(t, "forward-two-attached.eml")
	c, err := smtp.Dial(mb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("alice@example.net"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("complaints@accord.example"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(complaint)
	// net/smtp hides the 250 text; read it through the raw client below.
	if err := w.Close(); err != nil {
		t.Fatalf("complaint refused: %v", err)
	}
	c.Quit()
	if n, _ := mb.store.CountReports(context.Background()); n != 2 {
		t.Fatalf("%d reports stored, want 2", n)
	}

	s := dial(t, mb.addr)
	s.cmd("EHLO client.example")
	s.cmd("MAIL FROM:<alice@example.net>")
	s.cmd("RCPT TO:<complaints@accord.example>")
	code, msg := s.data(complaint)
	m := reportRe.FindStringSubmatch(msg)
	if code != 250 || m == nil {
		t.Fatalf("answer %d %q", code, msg)
	}
	for _, id := range strings.Split(m[1], ", ") {
		r, err := mb.store.Report(context.Background(), id)
		if err != nil {
			t.Fatalf("report %s named in the 250 is not stored: %v", id, err)
		}
		if r.ReporterID == "" || strings.Contains(r.ReporterID, "alice") {
			t.Errorf("reporter pseudonym %q", r.ReporterID)
		}
	}
}

func TestBadComplaints(t *testing.T) {
	mb := start(t, smtpd.Config{MaxMessageBytes: 256 << 10, MaxRecipients: 50})
	s := dial(t, mb.addr)
	s.cmd("EHLO client.example")

	// Nothing to report: 554 with the reason, which becomes a bounce.
	s.cmd("MAIL FROM:<r@example.net>")
	s.cmd("RCPT TO:<complaints@accord.example>")
	if code, msg := s.data([]byte("From: r@example.net\r\nSubject: look\r\n\r\n\r\n")); code != 554 || !strings.Contains(msg, "attachment") {
		t.Errorf("empty forward: %d %s", code, msg)
	}
	// Binary garbage.
	s.cmd("MAIL FROM:<r@example.net>")
	s.cmd("RCPT TO:<complaints@accord.example>")
	garbage := make([]byte, 8000)
	for i := range garbage {
		garbage[i] = byte(i*131 + 7)
		if garbage[i] == '\r' || garbage[i] == '.' {
			garbage[i] = 0
		}
	}
	if code, msg := s.data(garbage); code != 554 {
		t.Errorf("garbage: %d %s", code, msg)
	}
	// Oversized: 552, and the session goes on.
	s.cmd("MAIL FROM:<r@example.net>")
	s.cmd("RCPT TO:<complaints@accord.example>")
	big := append([]byte("From: x@example.org\r\nSubject: big\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef\r\n"), 8000)...)
	if code, msg := s.data(big); code != 552 {
		t.Errorf("oversized: %d %s", code, msg)
	}
	// 10,000 recipients: the 51st on are refused, the complaint still goes.
	s.cmd("MAIL FROM:<r@example.net>")
	refused := 0
	for i := 0; i < 10000; i++ {
		if code, _ := s.cmd("RCPT TO:<u%d@accord.example>", i); code == 452 {
			refused++
		}
	}
	if refused != 10000-50 {
		t.Errorf("%d recipients refused, want %d", refused, 10000-50)
	}
	if code, msg := s.data(fixture(t, "forward-inline-gmail.eml")); code != 250 {
		t.Errorf("after many recipients: %d %s", code, msg)
	}
	// A header-injection attempt in the envelope: the address is refused
	// or taken as one string, never as a second command.
	// What happened, exactly: the MAIL command is refused whole, the
	// smuggled RCPT never ran (a real RCPT next finds no transaction), and
	// the dialogue is still in step (one answer per command).
	if code, msg := s.cmd("MAIL FROM:<a@example.net>\rRCPT TO:<b@example.net>"); code < 500 {
		t.Errorf("MAIL with a bare CR and a second command: %d %s, want a 5xx refusal", code, msg)
	}
	if code, msg := s.cmd("RCPT TO:<c@example.net>"); code != 502 && code != 503 {
		t.Errorf("after the injection a RCPT found a transaction open: %d %s", code, msg)
	}
	if code, msg := s.cmd("NOOP"); code != 250 {
		t.Errorf("the dialogue is out of step after the injection: NOOP got %d %s", code, msg)
	}
	if n, _ := mb.store.CountReports(context.Background()); n != 1 {
		t.Errorf("%d reports stored, want 1", n)
	}
}

// A zip bomb attached to a complaint is evidence, not something to open:
// it is stored as bytes and costs its size, not its expansion.
func TestZipBombIsNotExpanded(t *testing.T) {
	mb := start(t, smtpd.Config{})
	zb := zipBomb(t, 1024)
	msg := fmt.Sprintf("From: Billing <billing@invoices.example>\r\nTo: victim@example.net\r\nSubject: Your invoice\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nSee the invoice attached.\r\n"+
		"--zz\r\nContent-Type: application/zip; name=invoice.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--zz--\r\n",
		wrap(base64.StdEncoding.EncodeToString(zb.Bytes())))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := dial(t, mb.addr)
	s.cmd("EHLO client.example")
	s.cmd("MAIL FROM:<victim@example.net>")
	s.cmd("RCPT TO:<complaints@accord.example>")
	if code, m := s.data([]byte(msg)); code != 250 {
		t.Fatalf("zip bomb complaint: %d %s", code, m)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 200<<20 {
		t.Errorf("the complaint cost %d MiB of allocation: was the zip expanded?", grew>>20)
	}
}

// zipBomb builds a valid zip of one file of n MiB of zeros without
// compressing n MiB: one MiB is deflated into non-final blocks, which
// decode the same wherever they stand, and repeated.
func zipBomb(t *testing.T, n int) *bytes.Buffer {
	t.Helper()
	zero := make([]byte, 1<<20)
	var chunk, tail bytes.Buffer
	fw, _ := flate.NewWriter(&chunk, flate.BestCompression)
	fw.Write(zero)
	fw.Flush()
	fw2, _ := flate.NewWriter(&tail, flate.BestCompression)
	fw2.Close() // an empty final block
	var data bytes.Buffer
	crc := uint32(0)
	for i := 0; i < n; i++ {
		data.Write(chunk.Bytes())
		crc = crc32.Update(crc, crc32.IEEETable, zero)
	}
	data.Write(tail.Bytes())
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "invoice.pdf", Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(data.Len()), UncompressedSize64: uint64(n) << 20})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data.Bytes())
	zw.Close()
	return &zb
}

func wrap(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

func TestRateLimitPerSender(t *testing.T) {
	mb := start(t, smtpd.Config{RatePerSender: 3})
	s := dial(t, mb.addr)
	s.cmd("EHLO client.example")
	codes := []int{}
	for i := 0; i < 5; i++ {
		code, _ := s.cmd("MAIL FROM:<flood@example.net>")
		codes = append(codes, code)
		s.cmd("RSET")
	}
	if fmt.Sprint(codes) != "[250 250 250 450 450]" {
		t.Errorf("MAIL answers %v, want three accepted then 450", codes)
	}
	// Another sender is not affected.
	if code, _ := s.cmd("MAIL FROM:<other@example.net>"); code != 250 {
		t.Errorf("other sender: %d", code)
	}
}

func TestSlowClientsAreCutOff(t *testing.T) {
	mb := start(t, smtpd.Config{IdleTimeout: 300 * time.Millisecond, MaxSession: 2 * time.Second})
	// Silent after the greeting. The time is taken before dialling: the
	// server's idle clock starts when it has the connection, and on a
	// loaded machine the greeting can reach this side a good part of the
	// timeout later, so a clock started after reading it saw a client cut
	// "before the idle timeout" that was not.
	began := time.Now()
	c, err := net.Dial("tcp", mb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n') // greeting
	// The server must close the connection (EOF, perhaps after a goodbye
	// line) after about the idle timeout; a read that times out on the
	// client's side means the server kept the idle client. (Against a
	// server with a 30 s idle timeout this fails.)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var rerr error
	for rerr == nil {
		_, rerr = r.ReadString('\n')
	}
	waited := time.Since(began)
	switch {
	case isTimeout(rerr):
		t.Errorf("an idle client was still connected after %s (idle timeout 300ms)", waited.Round(time.Millisecond))
	case waited < 250*time.Millisecond:
		t.Errorf("an idle client was cut after %s, before the idle timeout", waited)
	}
	// Trickling a byte at a time, always inside the idle timeout: the
	// session bound ends it.
	c2, err := net.Dial("tcp", mb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	r2.ReadString('\n')
	start := time.Now()
	closed := false
	for time.Since(start) < 8*time.Second {
		if _, err := c2.Write([]byte("N")); err != nil {
			closed = true
			break
		}
		time.Sleep(100 * time.Millisecond)
		c2.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := r2.ReadByte(); err != nil && !isTimeout(err) {
			closed = true
			break
		}
	}
	if !closed {
		t.Error("a trickling client outlived the session bound")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestTooManyConnections(t *testing.T) {
	mb := start(t, smtpd.Config{MaxConns: 2})
	dial(t, mb.addr)
	dial(t, mb.addr)
	c, err := textproto.Dial("tcp", mb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if code, msg, _ := c.ReadResponse(0); code != 421 {
		t.Errorf("third connection: %d %s", code, msg)
	}
}

// TestOneClientCannotHoldEverySlot: one client holding MaxConnsPerIP
// connections gets 421 for the next one, while another client still gets
// in (the attack: 200 connections and a NOOP a minute kept everyone out).
func TestOneClientCannotHoldEverySlot(t *testing.T) {
	mb := start(t, smtpd.Config{MaxConns: 10, MaxConnsPerIP: 2})
	from := func(ip string) (*textproto.Conn, int) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		nc, err := d.Dial("tcp", mb.addr)
		if err != nil {
			t.Fatal(err)
		}
		c := textproto.NewConn(nc)
		t.Cleanup(func() { c.Close() })
		code, _, _ := c.ReadResponse(0)
		return c, code
	}
	for i := 0; i < 2; i++ {
		if _, code := from("127.0.0.2"); code != 220 {
			t.Fatalf("connection %d: %d", i, code)
		}
	}
	if _, code := from("127.0.0.2"); code != 421 {
		t.Errorf("third connection from one client: %d, want 421", code)
	}
	if _, code := from("127.0.0.3"); code != 220 {
		t.Errorf("another client: %d, want 220", code)
	}
}

// swaks is the tool mail administrators test servers with; the test
// command installs it. Without it (outside CI) the test is skipped.
func TestSwaks(t *testing.T) {
	path, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("swaks is not installed")
		}
		t.Skip("swaks not installed")
	}
	mb := start(t, smtpd.Config{})
	host, port, _ := net.SplitHostPort(mb.addr)
	attach := filepath.Join(t.TempDir(), "spam.eml")
	os.WriteFile(attach, fixture(t, "forward-eml-octet.eml"), 0o600)
	out, err := exec.Command(path, "--server", host, "--port", port, "--from", "carol@example.org", "--to", "complaints@accord.example",
		"--header", "Subject: Fwd: spam", "--body", "This arrived today.", "--attach-type", "message/rfc822", "--attach", "@"+filepath.Join("..", "intake", "testdata", "forward-inline-gmail.eml")).CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`<-\s+250 2\.0\.0 Stored: complaint`).Match(out) {
		t.Fatalf("no 250 Stored in swaks' transcript:\n%s", out)
	}
	// And a complaint swaks is refused: a forward with nothing in it.
	out, err = exec.Command(path, "--server", host, "--port", port, "--from", "carol@example.org", "--to", "complaints@accord.example",
		"--header", "Subject: hello", "--body", " ").CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("554 5.6.0")) {
		t.Fatalf("empty complaint: %v\n%s", err, out)
	}
	if n, _ := mb.store.CountReports(context.Background()); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
}

// The bomb is real: it expands to what it claims.
func TestZipBombIsValid(t *testing.T) {
	zb := zipBomb(t, 8)
	zr, err := zip.NewReader(bytes.NewReader(zb.Bytes()), int64(zb.Len()))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	if err != nil || n != 8<<20 {
		t.Fatalf("expands to %d bytes (%v)", n, err)
	}
	if zb.Len() > 64<<10 {
		t.Errorf("bomb of %d bytes is not small", zb.Len())
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "complaints.test"},
		DNSNames: []string{"complaints.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestStartTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	mb := start(t, smtpd.Config{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	c, err := smtp.Dial(mb.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered with a certificate configured")
	}
	if err := c.StartTLS(&tls.Config{ServerName: "complaints.test", RootCAs: pool}); err != nil {
		t.Fatal(err)
	}
	if st, ok := c.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Fatal("no TLS after STARTTLS")
	}
	if err := c.Mail("dan@example.com"); err != nil {
		t.Fatal(err)
	}
	c.Rcpt("complaints@accord.example")
	w, _ := c.Data()
	w.Write(fixture(t, "forward-eml-octet.eml"))
	if err := w.Close(); err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	if n, _ := mb.store.CountReports(context.Background()); n != 1 {
		t.Errorf("%d reports", n)
	}
	// Without a certificate it is not offered.
	plain := start(t, smtpd.Config{})
	c2, err := smtp.Dial(plain.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if ok, _ := c2.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered without a certificate")
	}
}

// fakeOptOut takes tokens "ok…", refuses the rest with an internal error.
type fakeOptOut struct{}

func (fakeOptOut) MailtoToken(addr string) (string, bool, error) {
	local, _, _ := strings.Cut(addr, "@")
	tok, is := strings.CutPrefix(local, "unsubscribe+")
	return tok, is, nil
}

func (fakeOptOut) MailtoOptOut(_ context.Context, tok, _, _ string) (bool, error) {
	if strings.HasPrefix(tok, "ok") {
		return strings.HasPrefix(tok, "okdone"), nil
	}
	return false, errors.New("sqlstore: database is locked (SQLITE_BUSY) at consent_suppressions")
}

// A refused mailto opt-out answers a fixed sentence, never the node's
// error text; when some of several took effect, the answer says so.
func TestMailtoOptOutAnswers(t *testing.T) {
	mb := start(t, smtpd.Config{OptOut: fakeOptOut{}})
	send := func(rcpts ...string) (int, string) {
		s := dial(t, mb.addr)
		s.cmd("EHLO client.example")
		s.cmd("MAIL FROM:<r@example.net>")
		for _, r := range rcpts {
			if code, m := s.cmd("RCPT TO:<%s>", r); code != 250 {
				t.Fatalf("RCPT %s: %d %s", r, code, m)
			}
		}
		return s.data([]byte("Subject: unsubscribe\r\n\r\nplease\r\n"))
	}
	code, msg := send("unsubscribe+bad@node.example")
	if code != 550 || strings.Contains(msg, "sqlstore") || strings.Contains(msg, "SQLITE") {
		t.Errorf("refused opt-out: %d %s", code, msg)
	}
	code, msg = send("unsubscribe+ok1@node.example", "unsubscribe+bad@node.example")
	if code != 250 || !strings.Contains(msg, "1 of 2") || strings.Contains(msg, "sqlstore") {
		t.Errorf("one of two opt-outs: %d %s", code, msg)
	}
	if code, msg = send("unsubscribe+ok1@node.example"); code != 250 || !strings.Contains(msg, "Unsubscribed: this took effect now") {
		t.Errorf("an opt-out: %d %s", code, msg)
	}
	// Used again: it says nothing changed (the new user's trial, F10: it
	// answered "this took effect now" every time).
	if code, msg = send("unsubscribe+okdone1@node.example"); code != 250 || !strings.Contains(msg, "Already unsubscribed") {
		t.Errorf("an opt-out used again: %d %s", code, msg)
	}
	if code, msg = send("unsubscribe+okdone1@node.example", "unsubscribe+ok2@node.example"); code != 250 || !strings.Contains(msg, "took effect now") {
		t.Errorf("one new opt-out beside a used one: %d %s", code, msg)
	}
}
