package rspamdhttp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
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

func ptr[T any](v T) *T { return &v }

func start(t *testing.T, password string) (string, *filter.Service, *filter.MemStore) {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	st := filter.NewMemStore()
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", MaxScan: 64 << 10},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: st, Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHandler(f, password, nil).Server()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String(), f, st
}

func message(subject, body string) []byte {
	return []byte(fmt.Sprintf("From: Sender <s@sender.example>\r\nTo: ana@example.org\r\nSubject: %s\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <%d@sender.example>\r\n\r\n%s\r\n", subject, time.Now().UnixNano(), body))
}

func post(t *testing.T, url string, hdr map[string]string, body []byte) (*http.Response, Result) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r Result
	json.NewDecoder(resp.Body).Decode(&r)
	return resp, r
}

func TestCheckV2JSON(t *testing.T) {
	addr, f, st := start(t, "")
	f.PutPolicy(context.Background(), filter.Policy{Kind: filter.ScopeRecipient, Key: "q@example.org", Action: ptr(filter.ActionQuarantine)}, "t")
	f.PutPolicy(context.Background(), filter.Policy{Kind: filter.ScopeRecipient, Key: "r@example.org", Action: ptr(filter.ActionReject)}, "t")
	base := "http://" + addr
	_, r := post(t, base+"/checkv2", map[string]string{"IP": "192.0.2.7", "Helo": "mx.sender.example", "From": "<s@sender.example>", "Rcpt": "<ana@example.org>", "Queue-Id": "ABC"}, message("hi", "lunch at noon"))
	if r.Action != "no action" || r.RequiredScore != filter.DefaultSpam || r.Reference == "" || r.Milter == nil || r.Milter.AddHeaders["X-Spam-Flag"].Value != "NO" {
		t.Fatalf("ham: %+v", r)
	}
	_, r = post(t, base+"/checkv2", map[string]string{"Rcpt": "<tag@example.org>"}, message("test", filter.GTUBE))
	if _, ok := r.Symbols["GTUBE"]; !ok || r.Score < 1000 || r.Action != "discard" {
		t.Fatalf("GTUBE (built-in policy quarantines at 8): %+v", r)
	}
	_, r = post(t, base+"/checkv2", map[string]string{"Rcpt": "r@example.org"}, message("test", filter.GTUBE))
	if r.Action != "reject" || !strings.Contains(r.Messages["smtp_message"], r.Reference) {
		t.Fatalf("reject: %+v", r)
	}
	// Deliver-To picks the policy.
	_, r = post(t, base+"/checkv2", map[string]string{"Rcpt": "r@example.org", "Deliver-To": "q@example.org"}, message("test", filter.GTUBE))
	if r.Action != "discard" || r.Milter.Reject != "discard" {
		t.Fatalf("deliver-to: %+v", r)
	}
	if held, _ := st.HeldMessages(context.Background(), filter.HeldFilter{Recipient: "q@example.org"}); len(held) != 1 {
		t.Fatalf("q@ has %d held", len(held))
	}
	// Oversized: skipped, not blocked.
	_, r = post(t, base+"/checkv2", nil, message("big", strings.Repeat("x", 70<<10)+filter.GTUBE))
	if !r.IsSkipped || r.Action != "no action" {
		t.Fatalf("oversized: %+v", r)
	}
	// Garbage: an empty body, an unknown command.
	if resp, _ := post(t, base+"/checkv2", nil, nil); resp.StatusCode != 400 {
		t.Errorf("empty body: %d", resp.StatusCode)
	}
	if resp, _ := post(t, base+"/nothing", nil, []byte("x")); resp.StatusCode != 404 {
		t.Errorf("unknown command: %d", resp.StatusCode)
	}
}

func TestLearnPassword(t *testing.T) {
	addr, _, _ := start(t, "q1")
	resp, _ := post(t, "http://"+addr+"/learnspam", nil, message("x", "y"))
	if resp.StatusCode != 403 {
		t.Errorf("learn without the password: %d", resp.StatusCode)
	}
	resp, _ = post(t, "http://"+addr+"/learnspam", map[string]string{"Password": "q1"}, message("x", "y"))
	if resp.StatusCode != 200 {
		t.Errorf("learn with the password: %d", resp.StatusCode)
	}
}

// TestRealRspamc runs Debian's rspamc against the door: check, symbols,
// learn_spam / learn_ham, its output parsed.
func TestRealRspamc(t *testing.T) {
	bin, err := exec.LookPath("rspamc")
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("rspamc is required (Debian package rspamd)")
		}
		t.Skip("rspamc not installed")
	}
	addr, f, _ := start(t, "")
	f.PutPolicy(context.Background(), filter.Policy{Kind: filter.ScopeDefault, Quarantine: ptr(0.0)}, "t")
	run := func(stdin []byte, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-h", addr, "-t", "10"}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("rspamc %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run(message("test", "hello "+filter.GTUBE), "symbols")
	score := regexp.MustCompile(`(?m)^Score: ([0-9.]+) / ([0-9.]+)`).FindStringSubmatch(out)
	if score == nil || !strings.Contains(out, "Action: add header") || !strings.Contains(out, "Spam: true") || !strings.Contains(out, "Symbol: GTUBE (1000.00)") {
		t.Fatalf("rspamc symbols:\n%s", out)
	}
	if s, _ := strconv.ParseFloat(score[1], 64); s < 1000 {
		t.Errorf("score %s", score[1])
	}
	// --compressed (zstd) is refused, never scanned as compressed bytes.
	zc := exec.Command(bin, "-h", addr, "-t", "10", "--compressed", "symbols")
	zc.Stdin = bytes.NewReader(message("test", "hello "+filter.GTUBE))
	if zout, _ := zc.CombinedOutput(); strings.Contains(string(zout), "Action: no action") || strings.Contains(string(zout), "Spam: false") {
		t.Errorf("rspamc --compressed was scanned as garbage:\n%s", zout)
	}
	// The MTA's word that the client has no reverse name (rspamc
	// --hostname unknown, as rspamd's integrations send it): RDNS_NONE.
	out = run(message("lunch", "see you at noon"), "-i", "198.51.100.7", "--hostname", "unknown", "symbols")
	if !strings.Contains(out, "Symbol: RDNS_NONE (1.50)") {
		t.Errorf("rspamc --hostname unknown: no RDNS_NONE:\n%s", out)
	}
	out = run(message("lunch", "see you at noon"), "-i", "198.51.100.7", "--hostname", "mail.sender.example", "symbols")
	if strings.Contains(out, "RDNS_NONE") {
		t.Errorf("rspamc --hostname mail.sender.example: RDNS_NONE:\n%s", out)
	}
	out = run(message("lunch", "see you at noon"), "check")
	if !strings.Contains(out, "Action: no action") || !strings.Contains(out, "Spam: false") {
		t.Fatalf("rspamc check:\n%s", out)
	}
	spam := message("offer", "cheap pills viagra casino winner")
	out = run(spam, "learn_spam")
	if !strings.Contains(out, "success = true") {
		t.Fatalf("rspamc learn_spam:\n%s", out)
	}
	if ns, _ := f.Model().Trained(); ns != 1 {
		t.Errorf("the model learned %d spam, want 1", ns)
	}
	out = run(message("notes", "meeting agenda review"), "learn_ham")
	if !strings.Contains(out, "success = true") {
		t.Fatalf("rspamc learn_ham:\n%s", out)
	}
	if out := run(nil, "stat"); !strings.Contains(out, "Messages learned") && !strings.Contains(out, "learned") {
		t.Logf("rspamc stat:\n%s", out)
	}
}

// The rspamd door asks the MTA to remove a sender's Authentication-Results
// in our name (by position when it is the only one of ours), and at the
// door nothing the sender wrote is believed: a forged pass is neither
// scored nor re-issued.
func TestCheckRemovesForgedAuthResults(t *testing.T) {
	addr, f, _ := start(t, "")
	f.PutPolicy(context.Background(), filter.Policy{Kind: filter.ScopeRecipient, Key: "ana@example.org", Allow: []string{"bank.example"}, Spam: ptr(-50.0), Action: ptr(filter.ActionReject)}, "t")
	m := []byte("Authentication-Results: other.example; spf=none\r\n" +
		"Authentication-Results: (c) mx.example.org; dkim=pass header.d=bank.example header.s=s1; dmarc=pass header.from=bank.example\r\n" +
		"Received: from mail.bank.example (mail.bank.example [198.51.100.7]) by mx.example.org with ESMTPS id abc; Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
		"From: Bank <alerts@bank.example>\r\nTo: ana@example.org\r\nSubject: account\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nclick http://evil.test/login\r\n")
	_, r := post(t, "http://"+addr+"/checkv2", map[string]string{"IP": "203.0.113.5", "Helo": "evil.test", "From": "x@evil.test", "Rcpt": "ana@example.org"}, m)
	if r.Milter == nil || r.Milter.RemoveHeaders["Authentication-Results"] != 2 {
		t.Errorf("remove_headers %+v: want Authentication-Results at 2", r.Milter)
	}
	if _, ok := r.Symbols["DMARC_PASS"]; ok || r.Action != "reject" || strings.Contains(r.Milter.AddHeaders["Authentication-Results"].Value, "pass") {
		t.Errorf("the forged results were believed: action %s, symbols %v, our A-R %q", r.Action, r.Symbols, r.Milter.AddHeaders["Authentication-Results"].Value)
	}
}

// TestCheckRemovesOtherFiltersVerdicts: remove_headers names the
// SpamAssassin and rspamd verdict fields the node does not write, those
// always named and those under X-Spam-, X-Spamd-, X-Rspamd- that the
// message carries; before, X-Spam-Level, X-Spam-Bar, X-Spamd-Result and
// X-Rspamd-Action a sender planted reached the mailbox (attack 26 A10).
func TestCheckRemovesOtherFiltersVerdicts(t *testing.T) {
	addr, _, _ := start(t, "")
	m := []byte("From: a@good.test\r\nTo: ana@example.org\r\nSubject: t\r\nX-Spam-Level: **********\r\n" +
		"X-Spam-Checker-Version: SpamAssassin 4.0\r\nX-Spam-Bar: +++++\r\nX-Spamd-Result: default: False [-10 / 15]\r\n" +
		"X-Rspamd-Action: no action\r\nx-spam-virus: No\r\nX-Spammy-Name: kept\r\nDate: Mon, 30 Nov 2026 00:00:00 +0000\r\nMessage-ID: <p@y>\r\n\r\nbody\r\n")
	_, r := post(t, "http://"+addr+"/checkv2", map[string]string{"IP": "203.0.113.5", "Rcpt": "ana@example.org"}, m)
	if r.Milter == nil {
		t.Fatal("no milter section")
	}
	for _, n := range []string{"X-Spam-Level", "X-Spam-Checker-Version", "X-Spam-Bar", "X-Spamd-Result", "X-Rspamd-Action", "x-spam-virus", "X-Spam-Flag"} {
		if v, ok := r.Milter.RemoveHeaders[n]; !ok || v != 0 {
			t.Errorf("remove_headers lacks %s: %v", n, r.Milter.RemoveHeaders)
		}
	}
	if _, ok := r.Milter.RemoveHeaders["X-Spammy-Name"]; ok {
		t.Errorf("remove_headers names a field outside the verdict prefixes: %v", r.Milter.RemoveHeaders)
	}
}

// TestAuthResultsTakeNoInjection: the envelope sender (rspamd's From
// header) reaches the node's own Authentication-Results only as a domain
// name; what is not one is left out. Before, it was copied raw:
// "smtp.mailfrom=ok.test;spf=pass", "…ok.test> ; dkim=pass
// header.d=paypal.com" under the node's authserv-id (attack 26 A2). The
// fixture resolver (no records) makes SPF computed, as on a live node.
func TestAuthResultsTakeNoInjection(t *testing.T) {
	lib, _ := rules.Embedded()
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org"},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: &resolve.Zone{}}, Store: filter.NewMemStore(), Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHandler(f, "", nil).Server()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	m := []byte("From: a@ok.test\r\nTo: carl@example.org\r\nSubject: hello\r\nDate: Mon, 30 Nov 2026 00:00:00 +0000\r\nMessage-ID: <g@ok.test>\r\n\r\nhi\r\n")
	ar := func(mailFrom string) string {
		_, r := post(t, "http://"+l.Addr().String()+"/checkv2", map[string]string{"Rcpt": "carl@example.org", "IP": "203.0.113.20", "From": mailFrom}, m)
		if r.Milter == nil {
			t.Fatalf("%q: no milter section", mailFrom)
		}
		return r.Milter.AddHeaders["Authentication-Results"].Value
	}
	for _, mf := range []string{"a@ok.test;spf=pass", "<a@ok.test> ; dkim=pass header.d=paypal.com", "a@ok.test(spf=pass)", "a@[1.2.3.4];spf=pass", "a@ok.test\"; dkim=pass"} {
		got := ar(mf)
		if !strings.HasPrefix(got, "mx.example.org; spf=none") || strings.Contains(got, "pass") || strings.Contains(got, "paypal") || strings.Contains(got, "smtp.mailfrom") {
			t.Errorf("MAIL FROM %q: Authentication-Results %q", mf, got)
		}
	}
	if got := ar("a@OK.test"); !strings.Contains(got, "spf=none smtp.mailfrom=ok.test;") {
		t.Errorf("a plain sender's domain is not written: %q", got)
	}
	if got := ar("a@bücher.test"); !strings.Contains(got, "smtp.mailfrom=xn--bcher-kva.test;") {
		t.Errorf("an IDN sender's domain is not written as its A-label: %q", got)
	}
}

// Over a quarantine quota the door cannot hold for everybody: it answers
// "add header" (delivered, tagged as spam) instead of discarding.
func TestQuarantineQuotaTags(t *testing.T) {
	lib, _ := rules.Embedded()
	st := filter.NewMemStore()
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", QuarantineMaxPerRecipient: 1},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: st, Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := NewHandler(f, "", nil).Server()
	go srv.Serve(l)
	defer srv.Close()
	url := "http://" + l.Addr().String() + "/checkv2"
	hdr := map[string]string{"Rcpt": "q1@example.org, q2@example.org"}
	if _, r := post(t, url, hdr, message("one", filter.GTUBE)); r.Action != "discard" {
		t.Fatalf("first: %s", r.Action)
	}
	_, r := post(t, url, hdr, message("two", filter.GTUBE))
	if r.Action != "add header" || r.Milter.AddHeaders["X-Spam-Flag"].Value != "YES" {
		t.Fatalf("over the quota: %s %+v", r.Action, r.Milter)
	}
	if held, _ := st.HeldMessages(context.Background(), filter.HeldFilter{Recipient: "q2@example.org"}); len(held) != 1 {
		t.Errorf("q2 holds %d, want 1 (none of the second)", len(held))
	}
}

// A co-recipient with filtering off keeps the message delivered (the
// mildest action) but strips the spam tag from nobody: the copy carries
// the strictest verdict among the recipients.
func TestLenientCoRecipientKeepsTags(t *testing.T) {
	addr, f, _ := start(t, "")
	ctx := context.Background()
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "rej@example.org", Action: ptr(filter.ActionReject)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "off@example.org", Enabled: ptr(false)}, "t")
	_, r := post(t, "http://"+addr+"/checkv2", map[string]string{"Rcpt": "rej@example.org, off@example.org"}, message("spam", filter.GTUBE))
	if r.Action != "no action" || r.Milter == nil || r.Milter.AddHeaders["X-Spam-Flag"].Value != "YES" || !strings.HasPrefix(r.Milter.AddHeaders["X-Spam-Status"].Value, "Yes") {
		t.Fatalf("action %s, headers %+v", r.Action, r.Milter)
	}
}

// The door serves loopback and the allowed networks only, and learning
// from another host needs the password.
func TestClientsAndLearningOffLoopback(t *testing.T) {
	_, f, _ := start(t, "")
	h := NewHandler(f, "", nil)
	h.Allowed = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	srv := h.Server()
	do := func(path, from string) int {
		r := httptest.NewRequest("POST", path, bytes.NewReader(message("x", "hello")))
		r.RemoteAddr = from
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, r)
		return w.Code
	}
	if c := do("/checkv2", "203.0.113.9:4000"); c != 403 {
		t.Errorf("check from an unlisted client: %d", c)
	}
	if c := do("/checkv2", "198.51.100.7:4000"); c != 200 {
		t.Errorf("check from an allowed client: %d", c)
	}
	if c := do("/learnspam", "198.51.100.7:4000"); c != 403 {
		t.Errorf("learn from another host without a password: %d", c)
	}
	if c := do("/learnspam", "127.0.0.1:4000"); c != 200 {
		t.Errorf("learn from loopback: %d", c)
	}
}

// A compressed request (rspamc --compressed) is refused, never scanned as
// the compressed bytes (which would pass anything).
func TestCompressedRefused(t *testing.T) {
	addr, _, _ := start(t, "")
	for _, path := range []string{"/checkv2", "/learnspam"} {
		resp, _ := post(t, "http://"+addr+path, map[string]string{"Compression": "zstd"}, []byte{0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3})
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("%s compressed: %d", path, resp.StatusCode)
		}
	}
}

// One client cannot take every connection: past the per-address bound a
// connection is answered 429 before its request is read, and rspamc
// reports the failure (it does not pass the message as scanned). A check
// that finds every scan slot taken is answered 503 with Retry-After.
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
	h := NewHandler(f, "", nil)
	srv := h.Server()
	go srv.Serve(h.Limit(l, 100, 2))
	defer srv.Close()
	addr := l.Addr().String()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)
	m := message("test", "hello "+filter.GTUBE)
	// A raw client: the refusal may come before the request is sent,
	// which Go's client treats as an unsolicited response.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "POST /checkv2 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(m), m)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third connection from one address: %d %v", resp.StatusCode, resp.Header)
	}
	if bin, err := exec.LookPath("rspamc"); err == nil {
		cmd := exec.Command(bin, "-h", addr, "-t", "5", "symbols")
		cmd.Stdin = bytes.NewReader(m)
		out, _ := cmd.CombinedOutput()
		if strings.Contains(string(out), "Action:") || !strings.Contains(string(out), "429") {
			t.Errorf("rspamc over the per-address bound:\n%s", out)
		}
	} else if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
		t.Fatal("rspamc is required (Debian package rspamd)")
	}
	for _, c := range held {
		c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	release, ok := f.Acquire(context.Background())
	if !ok {
		t.Fatal("no scan slot")
	}
	resp, _ = post(t, "http://"+addr+"/checkv2", nil, message("test", "see you at noon"))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("every scan slot taken: %d %v", resp.StatusCode, resp.Header)
	}
	// GTUBE needs no scan slot: it decides even when the filter is busy.
	if resp, res := post(t, "http://"+addr+"/checkv2", nil, m); resp.StatusCode != 200 || res.Action == "no action" {
		t.Errorf("GTUBE with every scan slot taken: %d %+v", resp.StatusCode, res)
	}
	release()
	if resp, res := post(t, "http://"+addr+"/checkv2", nil, m); resp.StatusCode != 200 || res.Action == "no action" {
		t.Errorf("after the slot is free: %d %+v", resp.StatusCode, res)
	}
}

// Partial POSTs from the MTA's own address (a local user on the mail
// host) no longer lock the MTA out with 429: a new connection at the
// bound takes the place of the one that has waited longest on its client.
func TestStalledRequestsDoNotLockOutTheMTA(t *testing.T) {
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
	h := NewHandler(f, "", nil)
	srv := h.Server()
	go srv.Serve(h.Limit(l, 100, 2))
	defer srv.Close()
	addr := l.Addr().String()
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /checkv2 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
	}
	time.Sleep(1200 * time.Millisecond) // past connlimit's EvictAfter
	m := message("test", "hello "+filter.GTUBE)
	if resp, res := post(t, "http://"+addr+"/checkv2", nil, m); resp.StatusCode != 200 || res.Action == "no action" {
		t.Errorf("the MTA's check while stalled requests held the address's share: %d %+v", resp.StatusCode, res)
	}
}

// A request naming more recipients than filter.MaxRecipients is refused
// (400) before its body is read: one request with 3,500 made 3,500
// quarantine rows.
func TestTooManyRecipientsRefused(t *testing.T) {
	addr, _, st := start(t, "")
	rcpts := make([]string, filter.MaxRecipients+1)
	for i := range rcpts {
		rcpts[i] = fmt.Sprintf("u%d@example.org", i)
	}
	resp, _ := post(t, "http://"+addr+"/checkv2", map[string]string{"Rcpt": strings.Join(rcpts, ",")}, message("many", filter.GTUBE))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("%d recipients: %d, want 400", len(rcpts), resp.StatusCode)
	}
	if held, _ := st.HeldMessages(context.Background(), filter.HeldFilter{}); len(held) != 0 {
		t.Errorf("%d held", len(held))
	}
}

// The door reserves a body's bytes of the filter's byte budget before
// reading it, and returns them after the answer: with the budget taken it
// answers 503 without reading the body; many concurrent requests never
// hold more than the budget (counted, not measured as RSS).
func TestBodyBudget(t *testing.T) {
	m := message("budget", "see you at noon")
	lib, _ := rules.Embedded()
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org", MaxScan: 64 << 10, BodyBudget: 3 * int64(len(m)), ScanWait: 20 * time.Millisecond},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHandler(f, "", nil).Server()
	go srv.Serve(l)
	defer srv.Close()
	url := "http://" + l.Addr().String() + "/checkv2"
	f.Reserve(context.Background(), 3*int64(len(m)))
	if resp, _ := post(t, url, nil, m); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("with the byte budget taken: %d, want 503", resp.StatusCode)
	}
	f.Unreserve(3 * int64(len(m)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := post(t, url, nil, m)
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	now, peak := f.BodyBytes()
	if now != 0 || peak > 3*int64(len(m)) || codes[200] == 0 || codes[200]+codes[503] != 20 {
		t.Errorf("20 concurrent checks: %v; %d bytes still reserved, peak %d (budget %d)", codes, now, peak, 3*len(m))
	}
}

// TestBodyByLength: a body read by its Content-Length that ends early is
// refused as unreadable, never scanned as the part that came; a chunked
// body (no length) is read as it comes.
func TestBodyByLength(t *testing.T) {
	addr, _, _ := start(t, "")
	msg := message("hi", "lunch at noon")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /checkv2 HTTP/1.1\r\nHost: x\r\nRcpt: <ana@example.org>\r\nContent-Length: %d\r\n\r\n", len(msg)+100)
	c.Write(msg)
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "cannot read the message") {
		t.Fatalf("short body: %d %s", resp.StatusCode, body)
	}

	req, _ := http.NewRequest("POST", "http://"+addr+"/checkv2", io.MultiReader(bytes.NewReader(msg))) // no length: chunked
	req.Header.Set("Rcpt", "<ana@example.org>")
	if req.ContentLength != 0 && req.ContentLength != -1 {
		t.Fatalf("request has a length: %d", req.ContentLength)
	}
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	var res Result
	if err := json.NewDecoder(r2.Body).Decode(&res); err != nil || r2.StatusCode != 200 || res.Action != "no action" {
		t.Fatalf("chunked: %d %+v %v", r2.StatusCode, res, err)
	}
}

// TestAnswerHasLength: the answer says its length, as rspamd's does,
// rather than coming chunked.
func TestAnswerHasLength(t *testing.T) {
	addr, _, _ := start(t, "")
	var body strings.Builder
	for i := range 100 { // the answer lists the links: longer than net/http's 2 KiB buffer
		fmt.Fprintf(&body, "see https://www%d.example.net/page/%d\r\n", i, i)
	}
	resp, r := post(t, "http://"+addr+"/checkv2", map[string]string{"Rcpt": "<ana@example.org>"}, message("hi", body.String()))
	if len(r.URLs) < 100 {
		t.Fatalf("%d links in the answer", len(r.URLs))
	}
	if resp.StatusCode != 200 || r.Action == "" || resp.ContentLength <= 2048 || len(resp.TransferEncoding) > 0 {
		t.Fatalf("%d %q length %d, transfer-encoding %v", resp.StatusCode, r.Action, resp.ContentLength, resp.TransferEncoding)
	}
}

// TestOwnMailPassesUnscanned: the node's own mail (a digest listing a
// held message whose subject carried GTUBE) comes back through /checkv2
// when the relay is the MTA this door filters for. With its mark, for its
// one recipient, it is delivered unscanned (no action, the mark removed,
// X-Accord-Filter saying why); the same mark for another recipient, or
// on another body, counts for nothing and the message is held as before.
func TestOwnMailPassesUnscanned(t *testing.T) {
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("own-mail key of the node")
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org"},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore(), Secret: []byte("s"), OwnMailKey: key})
	if err != nil {
		t.Fatal(err)
	}
	f.PutPolicy(context.Background(), filter.Policy{Kind: filter.ScopeRecipient, Key: "q@example.org", Action: ptr(filter.ActionQuarantine)}, "t")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHandler(f, "", nil).Server()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + l.Addr().String()

	digest := []byte("From: Accord <desk@node.example>\r\nTo: q@example.org\r\nSubject: Held for you\r\nMessage-ID: <d1@node.example>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n1. From s@sender.example: " + filter.GTUBE + "\r\n")
	marked := ownmail.New(key).Mark(digest, "mail-1", "q@example.org", time.Now())
	_, r := post(t, base+"/checkv2", map[string]string{"Rcpt": "<q@example.org>"}, marked)
	if r.Action != "no action" || !r.IsSkipped || r.Milter == nil || !strings.HasPrefix(r.Milter.AddHeaders["X-Accord-Filter"].Value, "own-mail: mail-1 ") {
		t.Fatalf("own digest: %+v", r)
	}
	if _, ok := r.Milter.RemoveHeaders[ownmail.Field]; !ok {
		t.Errorf("the mark is not removed: %v", r.Milter.RemoveHeaders)
	}
	if _, ok := r.Symbols["GTUBE"]; ok {
		t.Errorf("own mail was scanned: %v", r.Symbols)
	}
	_, r = post(t, base+"/checkv2", map[string]string{"Rcpt": "<bob@example.org>"}, marked)
	if r.Action != "discard" {
		t.Errorf("mark for another recipient: %s, want the message scanned and held", r.Action)
	}
	// No Rcpt (attack review 26, A5): the mark proves nothing without the
	// recipient it was made for; it passed the digest unscanned to anyone.
	_, r = post(t, base+"/checkv2", nil, marked)
	if _, ok := r.Symbols["GTUBE"]; !ok || r.IsSkipped || r.Action != "add header" {
		t.Errorf("mark with no recipient named: %s skipped=%v %v, want the message scanned and tagged", r.Action, r.IsSkipped, r.Symbols)
	}
	other := bytes.Replace(marked, []byte("1. From"), []byte("2. From"), 1)
	_, r = post(t, base+"/checkv2", map[string]string{"Rcpt": "<q@example.org>"}, other)
	if r.Action != "discard" {
		t.Errorf("mark copied onto another body: %s, want the message scanned and held", r.Action)
	}
	forged := ownmail.New([]byte("a sender's guess")).Mark(digest, "mail-1", "q@example.org", time.Now())
	_, r = post(t, base+"/checkv2", map[string]string{"Rcpt": "<q@example.org>"}, forged)
	if r.Action != "discard" {
		t.Errorf("mark under another key: %s, want the message scanned and held", r.Action)
	}
}

// TestNoRecipientNeverHeld: a check that names no usable recipient (no
// Rcpt, the README's rspamc example; or one that is not an address) was
// answered "discard" and held a copy filed under nobody, which nobody
// could release, see or be sent in a digest. It is the default policy's
// verdict, tagged at most, with a symbol that says why; nothing is held.
func TestNoRecipientNeverHeld(t *testing.T) {
	addr, _, st := start(t, "")
	base := "http://" + addr
	for name, hdr := range map[string]map[string]string{"no Rcpt": nil, "not an address": {"Rcpt": "not an address"}, "empty": {"Rcpt": "<>"}} {
		_, r := post(t, base+"/checkv2", hdr, message("test", filter.GTUBE))
		if r.Action != "add header" || r.Milter == nil || r.Milter.AddHeaders["X-Spam-Flag"].Value != "YES" {
			t.Errorf("%s: action %q, want add header: %+v", name, r.Action, r)
		}
		if _, ok := r.Symbols[filter.SymbolNoRecipient]; !ok {
			t.Errorf("%s: no %s symbol: %v", name, filter.SymbolNoRecipient, r.Symbols)
		}
	}
	if held, _ := st.HeldMessages(context.Background(), filter.HeldFilter{}); len(held) != 0 {
		t.Errorf("%d held for no recipient", len(held))
	}
	// With a recipient the same message is held as before, and says
	// nothing about recipients.
	_, r := post(t, base+"/checkv2", map[string]string{"Rcpt": "ana@example.org"}, message("test", filter.GTUBE))
	if _, ok := r.Symbols[filter.SymbolNoRecipient]; r.Action != "discard" || ok {
		t.Errorf("with a recipient: %s %v", r.Action, r.Symbols)
	}
	// Debian's rspamc, as the README runs it (no Rcpt).
	bin, err := exec.LookPath("rspamc")
	if err != nil {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("rspamc is required (Debian package rspamd)")
		}
		return
	}
	cmd := exec.Command(bin, "-h", addr, "-t", "10", "symbols")
	cmd.Stdin = bytes.NewReader(message("test", filter.GTUBE))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Action: add header") || !strings.Contains(string(out), "Symbol: "+filter.SymbolNoRecipient) {
		t.Errorf("rspamc symbols without a recipient: %v\n%s", err, out)
	}
	if held, _ := st.HeldMessages(context.Background(), filter.HeldFilter{}); len(held) != 1 {
		t.Errorf("%d held, want only the one with a recipient", len(held))
	}
}

// TestBadRequestsAnsweredAtOnce: a Content-Length beyond what the door
// ever reads, with no body, was answered after 20 s; an IP that is not an
// address was taken silently (the client unknown to SPF, the blocklists
// and the trust boundary). Both are refused at once.
func TestBadRequestsAnsweredAtOnce(t *testing.T) {
	addr, _, _ := start(t, "")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "POST /checkv2 HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, " 413 ") {
		t.Errorf("huge Content-Length without a body: %q %v, want 413 at once", line, err)
	}
	resp, _ := post(t, "http://"+addr+"/checkv2", map[string]string{"IP": "not-an-ip", "Rcpt": "ana@example.org"}, message("hi", "lunch"))
	if resp.StatusCode != 400 {
		t.Errorf("IP: not-an-ip: %d, want 400", resp.StatusCode)
	}
	if resp, _ := post(t, "http://"+addr+"/checkv2", map[string]string{"IP": "[192.0.2.7]", "Rcpt": "ana@example.org"}, message("hi", "lunch")); resp.StatusCode != 200 {
		t.Errorf("IP: [192.0.2.7]: %d", resp.StatusCode)
	}
}

// TestLearnRefusesWhatIsNotMail: 20 random bytes and binary garbage were
// learned as messages and counted toward the 10 of each class the model
// needs; they are refused with 400 and the model learns nothing.
func TestLearnRefusesWhatIsNotMail(t *testing.T) {
	addr, f, _ := start(t, "")
	for name, body := range map[string][]byte{
		"random bytes": {0x8f, 0x12, 0xee, 0x01, 0x7a, 0x00, 0x33, 0xc4, 0x9b, 0x58, 0x21, 0xfe, 0x0d, 0x0a, 0x44, 0x90, 0x6c, 0xab, 0x02, 0x17},
		"garbage":      bytes.Repeat([]byte("\x00\x01binary\xff"), 100),
		"text":         []byte("just some words, no header at all\r\n"),
	} {
		resp, _ := post(t, "http://"+addr+"/learnspam", nil, body)
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", name, resp.StatusCode)
		}
	}
	if ns, nh := f.Model().Trained(); ns+nh != 0 {
		t.Errorf("the model learned %d spam and %d ham from what is not mail", ns, nh)
	}
	if resp, _ := post(t, "http://"+addr+"/learnspam", nil, message("offer", "cheap pills")); resp.StatusCode != 200 {
		t.Errorf("a message: %d", resp.StatusCode)
	}
}

// The answer's score is the sum of the symbols it lists, a recipient's
// block entry included (it said score 0 beside ACCORD_SENDER_BLOCKED 100).
func TestScoreIsTheSymbolsSum(t *testing.T) {
	addr, f, _ := start(t, "")
	f.PutPolicy(context.Background(), filter.Policy{Kind: filter.ScopeRecipient, Key: "ana@example.org", Block: []string{"sender.example"}, Action: ptr(filter.ActionTag)}, "t")
	_, r := post(t, "http://"+addr+"/checkv2", map[string]string{"Rcpt": "<ana@example.org>"}, message("lunch", "see you at noon"))
	sum := 0.0
	for _, sy := range r.Symbols {
		sum += sy.Score
	}
	if _, ok := r.Symbols[filter.SymbolBlocked]; !ok || r.Score < 100 || math.Abs(sum-r.Score) > 0.05 {
		t.Fatalf("score %.2f, symbols sum to %.2f: %+v", r.Score, sum, r.Symbols)
	}
}
