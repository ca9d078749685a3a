package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/web"
)

// TestAPIBadBodies: each bad input gets its documented error, and nothing
// of it is stored.
func TestAPIBadBodies(t *testing.T) {
	n := start(t, web.Config{})
	tok := n.token(t, access.Reporter)
	arf := fixture(t, "arf-01.eml")
	// The ARF mail's body alone, its boundary given by the request (the HTTP way).
	i := bytes.Index(arf, []byte("\n\n"))
	arfBody := arf[i+2:]
	for _, tc := range []struct {
		name, ct string
		body     []byte
		status   int
		code     string
	}{
		{"invalid JSON", "application/json", []byte(`{"xarf_version": "4.2.0",`), 400, "bad-body"},
		{"empty JSON object", "application/json", []byte(`{}`), 400, "bad-body"},
		{"JSON array", "application/json", []byte(`[1, 2]`), 400, "bad-body"},
		{"JSON that is not X-ARF", "application/json", []byte(`{"subject": "spam", "body": "buy now"}`), 400, "bad-body"},
		{"X-ARF DDoS", "application/json", fixture(t, "v4-connection-ddos.json"), 422, "unsupported-report-type"},
		{"X-ARF phishing screenshot", "application/json", fixture(t, "v4-content-phishing.json"), 422, "no-message"},
		{"ARF without a boundary", "multipart/report; report-type=feedback-report", arfBody, 400, "bad-body"},
		{"ARF with a boundary not in the body", "multipart/report; report-type=feedback-report; boundary=nowhere", arfBody, 400, "bad-body"},
		{"unreadable Content-Type", "multipart/report; boundary=\"unterminated", arfBody, 400, "bad-content-type"},
		{"empty body", "text/plain", nil, 400, "bad-body"},
		// Each of these was stored with 201 (a paste of the JSON, a 0-byte report…).
		{"X-ARF v3 Version as a number", "application/json", []byte(`{"Version":3}`), 400, "bad-body"},
		{"empty xarf_version", "application/json", []byte(`{"xarf_version":""}`), 400, "bad-body"},
		{"xarf_version as a number", "application/json", []byte(`{"xarf_version":4,"category":"messaging","type":"spam"}`), 400, "bad-body"},
		{"a delivery status notification", "multipart/report; report-type=delivery-status; boundary=b",
			[]byte("--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"), 422, "unsupported-report-type"},
		{"a boundary only the prefix of the body's", "multipart/report; report-type=feedback-report; boundary=X",
			[]byte("--XY\r\nContent-Type: message/rfc822\r\n\r\nFrom: s@spam.example\r\nSubject: buy\r\n\r\nbuy\r\n--XY--\r\n"), 400, "bad-body"},
		{"ARF with no message part", "multipart/report; report-type=feedback-report; boundary=b",
			[]byte("--b\r\nContent-Type: text/plain\r\n\r\nabuse\r\n--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n--b--\r\n"), 422, "no-message"},
		{"ARF with an empty message part", "multipart/report; report-type=feedback-report; boundary=b",
			[]byte("--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n\r\n--b--\r\n"), 422, "no-message"},
		{"a text with nothing to act on", "text/plain", []byte("hello"), 422, "no-message"},
		{"one byte as a message", "application/octet-stream", []byte("x"), 422, "no-message"},
		{"one byte as message/rfc822", "message/rfc822", []byte("x"), 422, "no-message"},
		// Damaged evidence, by the report's own account: refused whole,
		// never stored without it or with a part dropped.
		{"X-ARF evidence not matching its hash", "application/json", xarfEvidence(base64.StdEncoding.EncodeToString([]byte(spamMsg)), "sha256:"+strings.Repeat("0", 64)), 422, "bad-evidence"},
		{"X-ARF evidence not base64", "application/json", xarfEvidence("not*base64!", ""), 422, "bad-evidence"},
		{"X-ARF evidence that is no mail", "application/json", xarfEvidence(base64.StdEncoding.EncodeToString([]byte("hello world no mail")), ""), 422, "no-message"},
		{"ARF whose message is no mail", "multipart/report; report-type=feedback-report; boundary=b",
			[]byte("--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nhello world no mail\r\n--b--\r\n"), 422, "no-message"},
	} {
		r := do(t, "POST", n.url+"/api/v1/reports", tok, tc.ct, tc.body)
		if r.status != tc.status || r.errCode() != tc.code || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
		if tc.code == "unsupported-report-type" && !bytes.Contains(r.body, []byte("connection/ddos")) && !bytes.Contains(r.body, []byte("delivery-status")) {
			t.Errorf("%s: the reason does not name the type: %s", tc.name, r.body)
		}
	}
	// A compressed body is an unsupported encoding (415), not a bad report.
	req, _ := http.NewRequest("POST", n.url+"/api/v1/reports", bytes.NewReader([]byte("\x1f\x8b\x08\x00")))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "message/rfc822")
	req.Header.Set("Content-Encoding", "gzip")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 415 {
		t.Errorf("gzip Content-Encoding: %v %v, want 415", res, err)
	} else {
		res.Body.Close()
	}
	if c, _ := n.store.CountReports(context.Background()); c != 0 {
		t.Fatalf("%d reports stored from bad bodies", c)
	}
	// The standard way: multipart/report with its boundary in the header.
	ct := "multipart/report; report-type=feedback-report; boundary=\"" + boundaryOf(t, arf) + "\""
	r := do(t, "POST", n.url+"/api/v1/reports", tok, ct, arfBody)
	if r.status != 201 || r.json(t)["form"] != intake.FormARF {
		t.Fatalf("ARF with its boundary in Content-Type: %d %s", r.status, r.body)
	}
	rep, err := n.store.Report(context.Background(), r.json(t)["id"].(string))
	if err != nil || rep.Subject() == "" || rep.Feedback["Feedback-Type"] == "" {
		t.Fatalf("the ARF report lost its message or fields: %+v %v", rep, err)
	}
	// That report ends without its close delimiter: its message may be
	// cut, and the report says so, in its notes and its analysis.
	if !rep.Verdict.Message.Truncated || !slices.ContainsFunc(rep.Unverifiable, func(u string) bool { return strings.HasPrefix(u, "completeness:") }) {
		t.Errorf("an ARF with no close delimiter is stored as whole: truncated %v, notes %q", rep.Verdict.Message.Truncated, rep.Unverifiable)
	}
}

// xarfEvidence is an X-ARF v4 spam report with one message/rfc822
// evidence item.
func xarfEvidence(payload, hash string) []byte {
	h := ""
	if hash != "" {
		h = `, "hash": "` + hash + `"`
	}
	return []byte(`{"xarf_version": "4.2.0", "category": "messaging", "type": "spam", "source_identifier": "198.51.100.23", "evidence": [{"content_type": "message/rfc822", "payload": "` + payload + `"` + h + `}]}`)
}

func boundaryOf(t *testing.T, msg []byte) string {
	t.Helper()
	i := bytes.Index(msg, []byte("boundary="))
	if i < 0 {
		t.Fatal("no boundary in fixture")
	}
	b := msg[i+len("boundary="):]
	b = b[:bytes.IndexAny(b, "\r\n;")]
	return strings.Trim(string(b), `"`)
}

// TestAPIAuthAndMethods: 401s say how to authenticate; a wrong method is a
// JSON 405 with Allow.
func TestAPIAuthAndMethods(t *testing.T) {
	n := start(t, web.Config{})
	for _, tok := range []string{"", "acc_nope_nope"} {
		r := do(t, "POST", n.url+"/api/v1/reports", tok, "message/rfc822", []byte(spamMsg))
		if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer realm=") {
			t.Errorf("token %q: %d, WWW-Authenticate %q", tok, r.status, r.header.Get("WWW-Authenticate"))
		}
	}
	for _, c := range []struct{ method, path, allow string }{
		{"DELETE", "/api/v1/reports", "GET, HEAD, POST"},
		{"GET", "/api/v1/campaigns/c-x/referral", "POST"},
		{"DELETE", "/api/v1/reports/abc", "GET, HEAD"},
		{"PUT", "/api/v1/campaigns", "GET, HEAD"},
	} {
		r := do(t, c.method, n.url+c.path, "", "", nil)
		if r.status != 405 || r.errCode() != "method-not-allowed" || r.header.Get("Allow") != c.allow || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %q %s", c.method, c.path, r.status, r.header.Get("Allow"), r.body)
		}
	}
	if r := do(t, "GET", n.url+"/static/", "", "", nil); r.status != 404 {
		t.Errorf("/static/ lists its directory: %d", r.status)
	}
}

// TestFloodGets429: past the rate, the form and the API answer 429 with
// Retry-After, and what was refused is not stored. The clock is frozen:
// on a loaded machine a real minute refills buckets mid-test.
func TestFloodGets429(t *testing.T) {
	frozen := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	n := start(t, web.Config{Now: func() time.Time { return frozen }, Limits: &web.Limits{FormPerIP: 5, APIPerToken: 8, APIPerIP: 1000}})
	tok := n.token(t, access.Reporter)
	ok, limited := 0, 0
	for i := 0; i < 20; i++ {
		r := do(t, "POST", n.url+"/api/v1/reports", tok, "message/rfc822", []byte(distinctSpam(i)))
		switch r.status {
		case 201:
			ok++
		case 429:
			limited++
			if r.header.Get("Retry-After") == "" || r.errCode() != "rate-limited" {
				t.Fatalf("429 without Retry-After or code: %v %s", r.header, r.body)
			}
		default:
			t.Fatalf("API flood: %d %s", r.status, r.body)
		}
	}
	if ok != 8 || limited != 12 {
		t.Errorf("API: %d accepted, %d limited; want 8 and 12", ok, limited)
	}
	// Another token has its own bucket.
	if r := do(t, "POST", n.url+"/api/v1/reports", n.token(t, access.Reporter), "message/rfc822", []byte(distinctSpam(99))); r.status != 201 {
		t.Errorf("another token: %d", r.status)
	}
	c := browser(t)
	page := get(t, c, n.url+"/")
	csrf := csrfRe.FindSubmatch(page.body)[1]
	ok, limited = 0, 0
	for i := 0; i < 12; i++ {
		r := postForm(t, c, n.url+"/report", n.url, map[string]string{"csrf": string(csrf), "source": distinctSpam(100 + i)}, nil)
		switch r.status {
		case 303:
			ok++
		case 429:
			limited++
			if r.header.Get("Retry-After") == "" {
				t.Fatal("form 429 without Retry-After")
			}
		default:
			t.Fatalf("form flood: %d %s", r.status, r.body)
		}
	}
	if ok != 5 || limited != 7 {
		t.Errorf("form: %d accepted, %d limited; want 5 and 7", ok, limited)
	}
	if c, _ := n.store.CountReports(context.Background()); c != 8+1+5 {
		t.Errorf("%d reports stored, want 14", c)
	}
}

func distinctSpam(i int) string {
	return fmt.Sprintf("From: Offers %d <o%d@deals%d.example>\r\nTo: you@example.net\r\nSubject: Offer number %d\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d@deals.example>\r\n\r\nBuy item %d now at http://deals%d.example/p\r\n", i, i, i, i, i, i, i)
}

// TestOversizedUploadIsRefusedNotTruncated: a file between the upload limit
// and the request limit was cut and kept as evidence; it is refused whole.
func TestOversizedUploadIsRefusedNotTruncated(t *testing.T) {
	n := start(t, web.Config{MaxUpload: 64 << 10})
	c := browser(t)
	page := get(t, c, n.url+"/")
	csrf := string(csrfRe.FindSubmatch(page.body)[1])
	big := []byte(spamMsg + strings.Repeat("padding line of the spam body\r\n", 3000)) // ~90 KiB: over 64 KiB, under 64 KiB + 1 MiB
	r := postForm(t, c, n.url+"/report", n.url, map[string]string{"csrf": csrf}, big)
	if r.status != 413 {
		t.Fatalf("oversized upload: %d", r.status)
	}
	// Exactly at the limit is taken whole.
	exact := []byte(spamMsg)
	exact = append(exact, bytes.Repeat([]byte("x"), (64<<10)-len(exact))...)
	if r := postForm(t, c, n.url+"/report", n.url, map[string]string{"csrf": csrf}, exact); r.status != 303 {
		t.Fatalf("upload at the limit: %d %s", r.status, r.body)
	}
	if c, _ := n.store.CountReports(context.Background()); c != 1 {
		t.Fatalf("%d reports stored, want 1", c)
	}
	// API: over the limit is 413, never cut.
	tok := n.token(t, access.Reporter)
	if r := do(t, "POST", n.url+"/api/v1/reports", tok, "message/rfc822", big); r.status != 413 || r.errCode() != "too-large" {
		t.Fatalf("API oversized: %d %s", r.status, r.body)
	}
	// A client that asks "Expect: 100-continue" (curl does, for large
	// bodies) with a length over the limit gets the 413 before it sends a
	// byte of the body, not a go-ahead that ends in a reset connection
	// (the new user's trial, M3: curl got no answer 2 times in 10).
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: message/rfc822\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", tok, len(big))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 413 ") {
		t.Fatalf("Expect: 100-continue over the limit: %q %v", line, err)
	}
}

// TestConcurrentLargeUploadsWaitForTheBudget: uploads larger than the
// in-flight budget all complete, one after another, none refused.
func TestConcurrentLargeUploadsWaitForTheBudget(t *testing.T) {
	n := start(t, web.Config{MaxUpload: 2 << 20, Limits: &web.Limits{APIPerToken: 100, APIPerIP: 100, FormPerIP: 100, InFlightBytes: 512 << 10}})
	tok := n.token(t, access.Reporter)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := distinctSpam(i) + strings.Repeat("more text of a large spam message\r\n", 18000) // ~630 KiB
			req, _ := http.NewRequest("POST", n.url+"/api/v1/reports", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "message/rfc822")
			res, err := (&http.Client{Timeout: time.Minute}).Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 201 {
				errs <- fmt.Sprintf("%d %s", res.StatusCode, b)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if c, _ := n.store.CountReports(context.Background()); c != 4 {
		t.Fatalf("%d stored, want 4", c)
	}
}
