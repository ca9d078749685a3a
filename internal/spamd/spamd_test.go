package spamd

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/ownmail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

func start(t *testing.T, allowTell bool) (string, *filter.Service) {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", MaxScan: 64 << 10},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore(), Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{F: f, AllowTell: allowTell, Timeout: 2 * time.Second}
	go s.Serve(l)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return l.Addr().String(), f
}

func message(subject, body string) []byte {
	return []byte(fmt.Sprintf("From: s@sender.example\r\nTo: ana@example.org\r\nSubject: %s\r\nX-Spam-Flag: NO\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <%d@sender.example>\r\n\r\n%s\r\n", subject, time.Now().UnixNano(), body))
}

func raw(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestProtocol(t *testing.T) {
	addr, _ := start(t, false)
	m := message("test", filter.GTUBE)
	out := raw(t, addr, fmt.Sprintf("CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m))
	if !strings.HasPrefix(out, "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 2.0\r\n") {
		t.Errorf("CHECK: %q", out)
	}
	out = raw(t, addr, fmt.Sprintf("SYMBOLS SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m))
	if !strings.Contains(out, "\r\n\r\nGTUBE,") {
		t.Errorf("SYMBOLS: %q", out)
	}
	// GTUBE is held by the built-in policy at the milter; this door holds
	// nothing, and its report says spam, not quarantine, and that the
	// recipient's policy would hold it.
	out = raw(t, addr, fmt.Sprintf("REPORT SPAMC/1.5\r\nUser: ana@example.org\r\nContent-length: %d\r\n\r\n%s", len(m), m))
	if !strings.Contains(out, "outcome spam (") || strings.Contains(out, "outcome quarantine") || strings.Contains(out, filter.SymbolNoRecipient) {
		t.Errorf("REPORT: %q", out)
	}
	// Without a recipient: the default policy, tagged at most, said so.
	out = raw(t, addr, fmt.Sprintf("REPORT SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m))
	if !strings.Contains(out, "outcome spam") || !strings.Contains(out, filter.SymbolNoRecipient) {
		t.Errorf("REPORT without a recipient: %q", out)
	}
	out = raw(t, addr, fmt.Sprintf("PROCESS SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m))
	if !strings.Contains(out, "X-Spam-Flag: YES\r\n") || strings.Contains(out, "X-Spam-Flag: NO") || !strings.Contains(out, filter.GTUBE) {
		t.Errorf("PROCESS: %q", out)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(m)
	zw.Close()
	out = raw(t, addr, fmt.Sprintf("CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: %d\r\n\r\n%s", z.Len(), z.Bytes()))
	if !strings.Contains(out, "Spam: True ; 1000.0") {
		t.Errorf("CHECK zlib: %q", out)
	}
	if out := raw(t, addr, "PING SPAMC/1.5\r\n\r\n"); out != "SPAMD/1.5 0 PONG\r\n" {
		t.Errorf("PING: %q", out)
	}
	// Garbage and abuse.
	for req, want := range map[string]string{
		"HELLO\r\n\r\n":                                                                     "EX_PROTOCOL",
		"FROB SPAMC/1.5\r\n\r\n":                                                            "EX_PROTOCOL",
		"CHECK SPAMC/1.5\r\nContent-length: x\r\n\r\n":                                      "EX_PROTOCOL",
		"CHECK SPAMC/1.5\r\nContent-length: 999999\r\n\r\n":                                 "EX_DATAERR",
		"CHECK SPAMC/1.5\r\nContent-length: 50\r\n\r\nshort":                                "EX_PROTOCOL",
		"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: 4\r\n\r\nabcd":                "EX_DATAERR",
		"TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local\r\nContent-length: 1\r\n\r\nx": "EX_NOPERM",
		"CHECK SPAMC/1.5\r\n" + strings.Repeat("X", 9000) + "\r\n\r\n":                      "EX_PROTOCOL",
	} {
		if out := raw(t, addr, req); !strings.Contains(out, want) {
			t.Errorf("%q: %q, want %s", truncate(req), out, want)
		}
	}
	// A slow client is cut off at the timeout, and the server goes on.
	c, _ := net.Dial("tcp", addr)
	io.WriteString(c, "CHECK SPAMC/1.5\r\nContent-length: 100\r\n\r\nabc")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	c.Close()
	if time.Since(start) > 4*time.Second || !strings.Contains(line, "EX_PROTOCOL") {
		t.Errorf("slow client: %q after %v", line, time.Since(start))
	}
}

// TestRealSpamc runs Debian's spamc against the door and parses its
// output: check (-c), symbols (-y), report (-R), process (default),
// ping (-K) and learn (-L). (Debian's spamc is built without -z; the
// protocol test covers compressed bodies.)
func TestRealSpamc(t *testing.T) {
	bin, err := exec.LookPath("spamc")
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("spamc is required (Debian package spamc)")
		}
		t.Skip("spamc not installed")
	}
	addr, f := start(t, true)
	host, port, _ := net.SplitHostPort(addr)
	run := func(stdin []byte, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-d", host, "-p", port, "-t", "10"}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	spam := message("test", "hello "+filter.GTUBE)
	if out, code := run(spam, "-c"); strings.TrimSpace(out) != "1000.0/2.0" || code != 1 {
		t.Errorf("spamc -c: %q exit %d, want 1000.0/2.0 and 1", out, code)
	}
	if out, code := run(message("lunch", "see you at noon"), "-c"); code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "/2.0") {
		t.Errorf("spamc -c on ham: %q exit %d", out, code)
	}
	if out, _ := run(spam, "-y"); !strings.HasPrefix(strings.TrimSpace(out), "GTUBE") {
		t.Errorf("spamc -y: %q", out)
	}
	if out, _ := run(spam, "-R"); !strings.Contains(out, "GTUBE") || !strings.Contains(out, "1000.0") {
		t.Errorf("spamc -R: %q", out)
	}
	if out, _ := run(spam); !strings.Contains(out, "X-Spam-Flag: YES") || !strings.Contains(out, filter.GTUBE) {
		t.Errorf("spamc (process): %q", out)
	}
	if out, code := run(nil, "-K"); code != 0 || !strings.HasPrefix(out, "SPAMD/1.5 0") {
		t.Errorf("spamc -K: %q exit %d", out, code)
	}
	out, code := run(message("offer", "cheap pills viagra"), "-L", "spam")
	if code != 0 || !strings.Contains(out, "Message successfully un/learned") {
		t.Errorf("spamc -L spam: %q exit %d", out, code)
	}
	if ns, _ := f.Model().Trained(); ns != 1 {
		t.Errorf("the model learned %d spam, want 1", ns)
	}
}

// capture is the node's outbound mail in TestRealSpamcMarksNeedTheirRecipient:
// it keeps what a release would send.
type capture struct{ raw []byte }

func (c *capture) Deliver(_ context.Context, _, _ string, _ []string, raw []byte) (bool, error) {
	c.raw = raw
	return true, nil
}

// TestRealSpamcMarksNeedTheirRecipient (attack review 26, A5): ana
// releases a GTUBE message held for her; the released copy carries the
// node's release mark for ana. Debian's spamc without -u, or with the
// usual bare "-u bob" (procmail, per-user spamc), named no recipient, and
// the mark let the copy through unscanned (0.0/2.0) for anyone. The same
// for the node's own-mail mark on a digest. Now a mark counts only where
// spamc names its recipient (-u with the full address, in any spelling
// of the mailbox); elsewhere the message is scanned like any other.
func TestRealSpamcMarksNeedTheirRecipient(t *testing.T) {
	bin, err := exec.LookPath("spamc")
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("spamc is required (Debian package spamc)")
		}
		t.Skip("spamc not installed")
	}
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out := &capture{}
	ownKey := []byte("own-mail key of the node")
	f, err := filter.New(ctx, filter.Config{AuthServID: "mx.example.org"}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}},
		Store: filter.NewMemStore(), Secret: []byte("release secret"), OwnMailKey: ownKey, Outbound: out})
	if err != nil {
		t.Fatal(err)
	}
	quarantine := filter.ActionQuarantine
	if _, err := f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "ana@example.org", Action: &quarantine}, "test"); err != nil {
		t.Fatal(err)
	}
	d, err := f.Check(ctx, message("held for ana", "a deployment test "+filter.GTUBE), filter.Envelope{MailFrom: "s@sender.example", Rcpts: []string{"ana@example.org"}})
	if err != nil || d.Outcome != filter.OutcomeQuarantine {
		t.Fatalf("GTUBE for ana: %v %v", d, err)
	}
	ids, err := f.Quarantine(ctx, d, []string{"ana@example.org"})
	if err != nil || len(ids) != 1 {
		t.Fatalf("quarantine: %v %v", ids, err)
	}
	if _, err := f.Release(ctx, filter.Actor{Label: "user:ana", Mailbox: "ana@example.org"}, ids[0]); err != nil || !bytes.HasPrefix(out.raw, []byte(filter.ReleaseField+":")) {
		t.Fatalf("release: %v\n%.200s", err, out.raw)
	}
	released := out.raw
	digest := ownmail.New(ownKey).Mark([]byte("From: Accord <desk@node.example>\r\nTo: ana@example.org\r\nSubject: 1 held message\r\n"+
		"Message-ID: <d1@node.example>\r\n\r\nFrom: s@sender.example Subject: "+filter.GTUBE+"\r\n"), "mail-1", "ana@example.org", time.Now())

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{F: f, Timeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	host, port, _ := net.SplitHostPort(l.Addr().String())
	check := func(stdin []byte, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-d", host, "-p", port, "-t", "10", "-c"}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		b, err := cmd.Output()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for name, raw := range map[string][]byte{"release": released, "digest": digest} {
		for _, args := range [][]string{nil, {"-u", "bob"}, {"-u", "ana"}, {"-u", "bob@example.org"}} {
			if got := check(raw, args...); got != "1000.0/2.0" {
				t.Errorf("%s, spamc %q: %s, want 1000.0/2.0 (scanned: the mark's recipient is not named)", name, args, got)
			}
		}
		for _, u := range []string{"ana@example.org", "Ana+x@Example.ORG"} {
			if got := check(raw, "-u", u); got != "0.0/2.0" {
				t.Errorf("%s, spamc -u %s: %s, want 0.0/2.0 (its recipient named: not scanned again)", name, u, got)
			}
		}
	}
}

// FuzzRequest: no request, however broken, panics the reader or makes it
// read past its bounds; seeds in testdata/fuzz.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		"CHECK SPAMC/1.5\r\nContent-length: 5\r\n\r\nhello",
		"TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local\r\nContent-length: 1\r\n\r\nx",
		"PING SPAMC/1.5\r\n\r\n",
		"PROCESS SPAMC/1.3\r\nCompress: zlib\r\nContent-length: 3\r\n\r\nabc",
		"SYMBOLS SPAMC/1.5\r\nUser: ana@example.org\r\n\r\nno length",
	} {
		f.Add([]byte(s))
	}
	lib, _ := rules.Embedded()
	fs, _ := filter.New(context.Background(), filter.Config{MaxScan: 4096},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore()})
	s := &Server{F: fs}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, _, err := s.read(bufio.NewReader(bytes.NewReader(b)), nil)
		if err == nil && int64(len(req.body)) > 4096 {
			t.Fatalf("body of %d bytes over the limit", len(req.body))
		}
		if req != nil {
			// The body is held within what was reserved of the budget.
			var n int64
			for _, r := range req.reserved {
				n += r
				fs.Unreserve(r)
			}
			if int64(len(req.body)) > n {
				t.Fatalf("body of %d bytes, %d reserved", len(req.body), n)
			}
		}
		if now, _ := fs.BodyBytes(); now != 0 {
			t.Fatalf("%d bytes still reserved", now)
		}
	})
}

// A sender's Authentication-Results in our name, in the forms RFC 8601
// allows (folded, after a comment, quoted), never come back in PROCESS;
// an LF-only message keeps its body, and its line endings, whole.
func TestProcessRemovesOurAuthResults(t *testing.T) {
	addr, _ := start(t, false)
	m := "From: a@example.com\r\nTo: ana@example.org\r\nSubject: forged\r\n" +
		"Authentication-Results:\r\n mx.example.org; dkim=pass header.d=paypal.com; dmarc=pass header.from=paypal.com\r\n" +
		"Authentication-Results: (comment) mx.example.org; spf=pass smtp.mailfrom=paypal.com\r\n" +
		"Authentication-Results: \"mx.example.org\"; dkim=pass header.d=bank3.com\r\n" +
		"Authentication-Results: other.example; spf=none\r\n\r\nhello\r\n"
	out := raw(t, addr, fmt.Sprintf("PROCESS SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m))
	if strings.Contains(out, "paypal.com") || strings.Contains(out, "bank3.com") || !strings.Contains(out, "Authentication-Results: other.example; spf=none\r\n") {
		t.Errorf("PROCESS kept a forged field in our name:\n%s", out)
	}
	lf := "From: a@example.com\nSubject: lf\n\nbody line\r\n\r\nX-Spam-Flag: kept in the body\n"
	out = raw(t, addr, fmt.Sprintf("PROCESS SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(lf), lf))
	if !strings.HasSuffix(out, "\n\nbody line\r\n\r\nX-Spam-Flag: kept in the body\n") || strings.Contains(out, "X-Spam-Flag: NO\r\n") {
		t.Errorf("PROCESS of an LF message:\n%q", out)
	}
}

// A client neither on loopback nor in allowed_ips is refused (EX_NOPERM),
// as spamd does outside --allowed-ips.
func TestUnlistedClientRefused(t *testing.T) {
	_, f := start(t, false)
	s := &Server{F: f, Timeout: time.Second}
	a, b := net.Pipe() // its address is no IP: not loopback, not allowed
	go s.handle(a)
	b.SetDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(b)
	if !strings.Contains(string(out), "EX_NOPERM") {
		t.Errorf("unlisted client: %q", out)
	}
}

// A client that sends a request line and nothing more loses its slot after
// the header timeout, not the whole request timeout: idle connections
// cannot fill the slots and make spamc fail open.
func TestIdleClientCutOff(t *testing.T) {
	_, f := start(t, false)
	s := &Server{F: f, Timeout: time.Minute, HeaderTimeout: 300 * time.Millisecond}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "CHECK SPAMC/1.5\r\n")
	start := time.Now()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.ReadAll(c)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("an idle client kept its slot for %v", el)
	}
}

// A message over the scan size is answered EX_DATAERR (65), as spamd
// answers a message it will not take, after the door has read what the
// client sends: closing on a client still writing reset the connection
// and the client saw no answer at all. Real spamc then falls back as it
// does for any spamd error: -c prints 0/0, and without -c the message
// comes back unchanged (untagged, never lost).
func TestOverScanSizeAnswered(t *testing.T) {
	addr, _ := start(t, false)                                                      // MaxScan 64 KiB
	big := message("big", strings.Repeat("lorem ipsum dolor sit amet\r\n", 300000)) // 8.4 MB
	for name, req := range map[string]string{
		"content-length": fmt.Sprintf("CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(big), big),
		"no length":      fmt.Sprintf("CHECK SPAMC/1.5\r\n\r\n%s", big),
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			io.WriteString(c, req)
			c.(*net.TCPConn).CloseWrite()
		}()
		out, err := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(out), "SPAMD/1.5 65 EX_DATAERR message") {
			t.Errorf("%s: %q (%v), want SPAMD/1.5 65 EX_DATAERR", name, out, err)
		}
	}
	bin, err := exec.LookPath("spamc")
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("spamc is required (Debian package spamc)")
		}
		return
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-d", host, "-p", port, "-t", "10", "-s", "16000000")
	cmd.Stdin = bytes.NewReader(big)
	out, err := cmd.Output()
	if err != nil || !bytes.Equal(out, big) {
		t.Errorf("spamc over the scan size: %v, %d bytes back of %d (want the message unchanged)", err, len(out), len(big))
	}
}

// One client cannot take every connection slot: past MaxConnsPerIP its
// connections are answered EX_TEMPFAIL at once. A check that finds every
// scan slot taken (MaxScans) is answered EX_TEMPFAIL too, not scanned
// late or passed as ham — unless what needs no slot (GTUBE) decides.
func TestPerClientCapAndScanBudget(t *testing.T) {
	lib, _ := rules.Embedded()
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", MaxScans: 1, ScanWait: 50 * time.Millisecond},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{F: f, Timeout: 5 * time.Second, MaxConnsPerIP: 2}
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	addr := l.Addr().String()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "CHECK SPAMC/1.5\r\n") // and nothing more
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // both accepted
	m := message("test", filter.GTUBE)
	req := fmt.Sprintf("CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m)
	if out := raw(t, addr, req); !strings.HasPrefix(out, "SPAMD/1.5 75 EX_TEMPFAIL too many connections from one address") {
		t.Errorf("third connection from one address: %q", out)
	}
	for _, c := range held {
		c.Close()
	}
	time.Sleep(100 * time.Millisecond) // their slots freed
	release, ok := f.Acquire(context.Background())
	if !ok {
		t.Fatal("no scan slot")
	}
	ham := message("test", "see you at noon")
	if out := raw(t, addr, fmt.Sprintf("CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(ham), ham)); !strings.HasPrefix(out, "SPAMD/1.1 75 EX_TEMPFAIL the filter is busy") {
		t.Errorf("every scan slot taken: %q", out)
	}
	// GTUBE needs no scan slot: it decides even when the filter is busy.
	if out := raw(t, addr, req); !strings.HasPrefix(out, "SPAMD/1.1 0 EX_OK\r\nSpam: True") {
		t.Errorf("GTUBE with every scan slot taken: %q", out)
	}
	release()
	if out := raw(t, addr, req); !strings.HasPrefix(out, "SPAMD/1.1 0 EX_OK\r\nSpam: True") {
		t.Errorf("after the slot is free: %q", out)
	}
}

// TestRefusedTellIsLogged: Debian's spamc -L hides the EX_NOPERM answer
// ("Message was already un/learned", exit 0), so the node warns, once a
// minute however many are refused.
func TestRefusedTellIsLogged(t *testing.T) {
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org"},
		filter.Deps{Analyzer: &analysis.Analyzer{Resolver: resolve.Offline{}}, Store: filter.NewMemStore(), Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	s := &Server{F: f, Log: slog.New(slog.NewTextHandler(&logs, nil)), Timeout: 2 * time.Second}
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	for range 3 {
		if out := raw(t, l.Addr().String(), "TELL SPAMC/1.5\r\nMessage-class: spam\r\nSet: local\r\nContent-length: 1\r\n\r\nx"); !strings.Contains(out, "EX_NOPERM") {
			t.Fatalf("TELL while off: %q", out)
		}
	}
	got := logs.String()
	if strings.Count(got, "TELL (learning, spamc -L) refused") != 1 || !strings.Contains(got, "spamd_allow_tell = true") {
		t.Fatalf("refused TELLs logged:\n%s", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Stalled bodies from the MTA's own address (a local user on the mail
// host: "Content-length: 1000" and two bytes) no longer lock spamc out:
// a new connection at the bound takes the place of the one that has
// waited longest on its client.
func TestStalledBodiesDoNotLockOutTheMTA(t *testing.T) {
	lib, _ := rules.Embedded()
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org"},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{F: f, Timeout: time.Minute, MaxConnsPerIP: 2}
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	addr := l.Addr().String()
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "CHECK SPAMC/1.5\r\nContent-length: 1000\r\n\r\nab")
	}
	time.Sleep(1200 * time.Millisecond) // past connlimit's EvictAfter
	m := message("test", filter.GTUBE)
	req := fmt.Sprintf("CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m)
	if out := raw(t, addr, req); !strings.HasPrefix(out, "SPAMD/1.1 0 EX_OK\r\nSpam: True") {
		t.Errorf("the MTA's check while stalled bodies held the address's share: %q", out)
	}
}

// The door reserves a body's bytes of the filter's byte budget before
// reading it and returns them after the answer; with the budget taken it
// answers EX_TEMPFAIL.
func TestBodyBudget(t *testing.T) {
	m := message("budget", "see you at noon")
	lib, _ := rules.Embedded()
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", BodyBudget: 2 * int64(len(m)), ScanWait: 20 * time.Millisecond},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{F: f, Timeout: 5 * time.Second}
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	req := fmt.Sprintf("CHECK SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m)
	f.Reserve(context.Background(), 2*int64(len(m)))
	if out := raw(t, l.Addr().String(), req); !strings.HasPrefix(out, "SPAMD/1.5 75 EX_TEMPFAIL the filter is busy") {
		t.Errorf("with the byte budget taken: %q", out)
	}
	f.Unreserve(2 * int64(len(m)))
	if out := raw(t, l.Addr().String(), req); !strings.HasPrefix(out, "SPAMD/1.1 0 EX_OK") {
		t.Errorf("with the budget free: %q", out)
	}
	if now, peak := f.BodyBytes(); now != 0 || peak != 2*int64(len(m)) {
		t.Errorf("%d bytes still reserved, peak %d", now, peak)
	}
}

// TestProcessRemovesOtherFiltersVerdicts: a sender's SpamAssassin and
// rspamd verdict fields that the node does not write (X-Spam-Level's
// stars, which Sieve and procmail rules test, X-Spam-Bar,
// X-Spamd-Result, X-Rspamd-Action, …) never come back in PROCESS; before,
// only the fields the node writes were removed (attack 26 A10).
func TestProcessRemovesOtherFiltersVerdicts(t *testing.T) {
	addr, _ := start(t, false)
	m := "From: a@good.test\r\nTo: ana@example.org\r\nSubject: t\r\nX-Spam-Level: **********\r\n" +
		"X-Spam-Checker-Version: SpamAssassin 4.0\r\nX-Spam-Bar: +++++\r\nX-Spamd-Result: default: False [-10 / 15]\r\n" +
		"X-Rspamd-Action: no action\r\nx-spam-virus: No\r\nX-Spam-Flag: YES\r\nX-Spammy-Name: kept\r\n" +
		"Date: Mon, 30 Nov 2026 00:00:00 +0000\r\nMessage-ID: <p@y>\r\n\r\nbody\r\n"
	out := raw(t, addr, fmt.Sprintf("PROCESS SPAMC/1.5\r\nContent-length: %d\r\n\r\n%s", len(m), m))
	for _, planted := range []string{"**********", "SpamAssassin 4.0", "+++++", "[-10 / 15]", "X-Rspamd-Action", "x-spam-virus"} {
		if strings.Contains(out, planted) {
			t.Errorf("PROCESS kept the sender's %q:\n%s", planted, out)
		}
	}
	if !strings.Contains(out, "X-Spammy-Name: kept\r\n") {
		t.Errorf("a field outside the verdict prefixes was removed:\n%s", out)
	}
}
