package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/trace/geo"
	"github.com/accord-antispam/accord/internal/web"
)

type node struct {
	url   string
	store *sqlstore.Store
	desk  *intake.Desk
}

func start(t *testing.T, cfg web.Config) node {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	return startOn(t, st, cfg)
}

// startOn is start on a store the test opened (closed with the server).
func startOn(t *testing.T, st *sqlstore.Store, cfg web.Config) node {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	d, err := intake.New(st, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(d, st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); d.Close(); st.Close() })
	return node{srv.URL, st, d}
}

func (n node) token(t *testing.T, role access.Role) string {
	t.Helper()
	plain, tok := access.NewToken(nil, role, "test", time.Now())
	if err := n.store.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return plain
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func (r resp) errCode() string {
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(r.body, &e)
	if e.Error.Message == "" {
		return "(no message)"
	}
	return e.Error.Code
}

func do(t *testing.T, method, u, token, ct string, body []byte) resp {
	t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "intake", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const spamMsg = "Received: from mx.example.net (mx.example.net [10.0.0.5]) by in.example.net with ESMTP id 1; Tue, 3 Nov 2026 10:00:02 +0000\r\n" +
	"Received: from bulk.example.biz (bulk.example.biz [198.51.100.7]) by mx.example.net with SMTP id 2; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
	"From: Deals <deals@offers.example.biz>\r\nTo: victim@example.net\r\nSubject: Refinance now <script>alert(1)</script>\r\n" +
	"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@offers.example.biz>\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n" +
	"<html><body><script>document.title='pwned'</script><img src=\"http://tracker.example.biz/p.gif\">Refinance now and save up to 50%! " +
	"Only $19.99 a month. <a href=\"http://loans.example.biz/r\">Click here to apply</a></body></html>\r\n"

func TestAPIReportLifecycle(t *testing.T) {
	n := start(t, web.Config{})
	reporter := n.token(t, access.Reporter)
	analyst := n.token(t, access.Analyst)

	r := do(t, "POST", n.url+"/api/v1/reports?consent=no&customer=no", reporter, "message/rfc822", []byte(spamMsg))
	if r.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	m := r.json(t)
	id, _ := m["id"].(string)
	statusURL, _ := m["status_url"].(string)
	if id == "" || m["campaign_id"] == "" || !strings.HasPrefix(statusURL, n.url+"/r/"+id+"?t=") || r.header.Get("Location") != "/api/v1/reports/"+id {
		t.Fatalf("created: %s (Location %q)", r.body, r.header.Get("Location"))
	}

	// The reporter's status token opens the report as JSON.
	tok := strings.SplitN(statusURL, "?t=", 2)[1]
	r = do(t, "GET", n.url+"/api/v1/reports/"+id+"?t="+tok, "", "", nil)
	if r.status != 200 {
		t.Fatalf("status token: %d %s", r.status, r.body)
	}
	got := r.json(t)
	v := got["verdict"].(map[string]any)
	if v["origin"].(map[string]any)["ip"] != "198.51.100.7" || got["consent"] != false {
		t.Errorf("report JSON: consent %v origin %v", got["consent"], v["origin"])
	}
	if r := do(t, "GET", n.url+"/api/v1/reports/"+id+"?t=wrong", "", "", nil); r.status != 404 || r.errCode() != "not-found" {
		t.Errorf("wrong status token: %d %s", r.status, r.body)
	}

	// Analysts read any report; reporters only their own.
	if r := do(t, "GET", n.url+"/api/v1/reports/"+id, analyst, "", nil); r.status != 200 {
		t.Errorf("analyst: %d", r.status)
	}
	if r := do(t, "GET", n.url+"/api/v1/reports/"+id, reporter, "", nil); r.status != 200 {
		t.Errorf("own report: %d", r.status)
	}
	other := n.token(t, access.Reporter)
	if r := do(t, "GET", n.url+"/api/v1/reports/"+id, other, "", nil); r.status != 404 {
		t.Errorf("another reporter's report: %d", r.status)
	}

	// Campaigns.
	r = do(t, "GET", n.url+"/api/v1/campaigns", analyst, "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), m["campaign_id"].(string)) {
		t.Fatalf("campaigns: %d %s", r.status, r.body)
	}
	r = do(t, "GET", n.url+"/api/v1/campaigns/"+m["campaign_id"].(string), analyst, "", nil)
	if r.status != 200 || r.json(t)["reports"].(float64) != 1 {
		t.Fatalf("campaign: %d %s", r.status, r.body)
	}

	// Evidence verifies offline, and the access is in its custody log.
	r = do(t, "GET", n.url+"/api/v1/reports/"+id+"/evidence", analyst, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("evidence: %d %s", r.status, r.header)
	}
	res, err := intake.VerifyBundle(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil || !res.OK() {
		t.Fatalf("evidence does not verify: %v %v", err, res.Problems)
	}
	es, _ := n.store.Custody(context.Background(), id)
	var acts []string
	for _, e := range es {
		acts = append(acts, e.Action)
	}
	if want := "received status-viewed viewed viewed exported"; strings.Join(acts, " ") != want {
		t.Errorf("custody %q, want %q", strings.Join(acts, " "), want)
	}
}

func TestAPIForms(t *testing.T) {
	n := start(t, web.Config{})
	tok := n.token(t, access.Reporter)
	for name, tc := range map[string]struct {
		ct   string
		body []byte
		form string
	}{
		"ARF":        {"multipart/report", fixture(t, "arf-01.eml"), intake.FormARF},
		"X-ARF JSON": {"application/json", fixture(t, "v4-messaging-spam.json"), intake.FormXARF},
		"paste":      {"text/plain", []byte("WIN A FREE CRUISE http://cruise.example/"), intake.FormPaste},
		// The reporter's declaration decides "forward or spam": the honest
		// forward of the invoice phish (seventh attack review) as received
		// is taken whole, as forwarded it is unwrapped.
		"?as=received":  {"message/rfc822", fixture(t, "review7/c3.eml"), intake.FormRaw},
		"?as=forwarded": {"message/rfc822", fixture(t, "review7/c3.eml"), intake.FormAttached},
	} {
		path := "/api/v1/reports"
		if as, ok := strings.CutPrefix(name, "?"); ok {
			path += "?" + as
		}
		r := do(t, "POST", n.url+path, tok, tc.ct, tc.body)
		if r.status != 201 || r.json(t)["form"] != tc.form {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
}

func TestAPIErrors(t *testing.T) {
	n := start(t, web.Config{MaxUpload: 64 << 10})
	reporter := n.token(t, access.Reporter)
	garbage := bytes.Repeat([]byte{0, 1, 2, 3, 0xff, 0xfe}, 1000)
	for _, tc := range []struct {
		name, method, path, token, ct string
		body                          []byte
		status                        int
		code                          string
	}{
		{"no token", "POST", "/api/v1/reports", "", "message/rfc822", []byte(spamMsg), 401, "auth-required"},
		{"bad token", "POST", "/api/v1/reports", "acc_nope_nope", "message/rfc822", []byte(spamMsg), 401, "bad-token"},
		{"reporter reads campaigns", "GET", "/api/v1/campaigns", reporter, "", nil, 403, "forbidden"},
		{"reporter exports", "GET", "/api/v1/reports/x/evidence", reporter, "", nil, 403, "forbidden"},
		{"wrong type", "POST", "/api/v1/reports", reporter, "image/png", []byte(spamMsg), 415, "unsupported-media-type"},
		{"bad parameter", "POST", "/api/v1/reports?consent=perhaps", reporter, "message/rfc822", []byte(spamMsg), 400, "bad-parameter"},
		{"bad declaration", "POST", "/api/v1/reports?as=bounced", reporter, "message/rfc822", []byte(spamMsg), 400, "bad-parameter"},
		{"forwarded, nothing inside", "POST", "/api/v1/reports?as=forwarded", reporter, "message/rfc822", []byte(spamMsg), 422, "no-message"},
		{"too large", "POST", "/api/v1/reports", reporter, "message/rfc822", bytes.Repeat([]byte("a"), 65<<10), 413, "too-large"},
		{"empty", "POST", "/api/v1/reports", reporter, "message/rfc822", nil, 400, "bad-body"},
		{"binary garbage", "POST", "/api/v1/reports", reporter, "application/octet-stream", garbage, 422, "no-message"},
		{"unknown report", "GET", "/api/v1/reports/nope", n.token(t, access.Analyst), "", nil, 404, "not-found"},
		{"anonymous read", "GET", "/api/v1/reports/nope", "", "", nil, 401, "auth-required"},
	} {
		r := do(t, tc.method, n.url+tc.path, tc.token, tc.ct, tc.body)
		if r.status != tc.status || r.errCode() != tc.code || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q %s, want %d %s", tc.name, r.status, r.header.Get("Content-Type"), r.body, tc.status, tc.code)
		}
	}
	if c, _ := n.store.CountReports(context.Background()); c != 0 {
		t.Errorf("%d reports stored from bad requests", c)
	}
	if r := do(t, "GET", n.url+"/api/openapi.yaml", "", "", nil); r.status != 200 || !bytes.Contains(r.body, []byte("/api/v1/reports")) {
		t.Errorf("openapi: %d", r.status)
	}
}

// browser is a cookie-keeping client that does not follow redirects.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func get(t *testing.T, c *http.Client, u string) resp {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func postForm(t *testing.T, c *http.Client, u, origin string, fields map[string]string, file []byte) resp {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("file", "spam.eml")
		fw.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", u, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func TestWebFormReportAndInertResult(t *testing.T) {
	n := start(t, web.Config{})
	c := browser(t)
	r := get(t, c, n.url+"/")
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("form: %d CSP %q", r.status, r.header.Get("Content-Security-Policy"))
	}
	csrf := csrfRe.FindSubmatch(r.body)
	if csrf == nil {
		t.Fatal("form without CSRF token")
	}

	// Without the token, or from another site: refused, nothing stored.
	if r := postForm(t, c, n.url+"/report", "", map[string]string{"source": spamMsg}, nil); r.status != 403 {
		t.Errorf("no CSRF token: %d", r.status)
	}
	if r := postForm(t, c, n.url+"/report", "http://evil.example", map[string]string{"csrf": string(csrf[1]), "source": spamMsg}, nil); r.status != 403 {
		t.Errorf("cross-site post: %d", r.status)
	}
	if r := postForm(t, browser(t), n.url+"/report", "", map[string]string{"csrf": string(csrf[1]), "source": spamMsg}, nil); r.status != 403 {
		t.Errorf("token without its cookie: %d", r.status)
	}
	if r := postForm(t, c, n.url+"/report", "null", map[string]string{"csrf": string(csrf[1]), "source": spamMsg}, nil); r.status != 403 {
		t.Errorf("post from an opaque origin: %d", r.status)
	}
	if c, _ := n.store.CountReports(context.Background()); c != 0 {
		t.Fatalf("%d reports from refused posts", c)
	}
	// With no-referrer, browsers send "Origin: null" on same-site form
	// posts too, and the form above would refuse every real user.
	if p := r.header.Get("Referrer-Policy"); p != "same-origin" {
		t.Errorf("Referrer-Policy %q", p)
	}

	// Nothing to report: the form comes back with an error and the answers kept.
	r = postForm(t, c, n.url+"/report", "", map[string]string{"csrf": string(csrf[1]), "consent": "no"}, nil)
	if r.status != 400 || !bytes.Contains(r.body, []byte(`value="no" checked`)) {
		t.Errorf("empty form: %d", r.status)
	}

	// A real upload.
	r = postForm(t, c, n.url+"/report", n.url, map[string]string{"csrf": string(csrf[1]), "consent": "no", "customer": "no"}, []byte(spamMsg))
	loc := r.header.Get("Location")
	if r.status != 303 || !strings.HasPrefix(loc, "/r/") {
		t.Fatalf("submit: %d %s", r.status, r.body)
	}
	r = get(t, c, n.url+loc)
	page := string(r.body)
	if r.status != 200 || !strings.Contains(page, "Thank you") || !strings.Contains(page, "198.51.100.7") {
		t.Fatalf("result page: %d\n%s", r.status, page)
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<img") || !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("the message is not rendered inert:\n%s", page)
	}
	if !strings.Contains(page, "Rules it may break") || !strings.Contains(page, "consent") {
		t.Errorf("the result page does not say which rules the mail may break:\n%s", page)
	}
	u, _ := url.Parse(loc)
	if r := get(t, browser(t), n.url+u.Path+"?t=wrong"); r.status != 404 {
		t.Errorf("status page with a wrong token: %d", r.status)
	}
	if r := get(t, c, n.url+"/rights"); r.status != 200 || !bytes.Contains(r.body, []byte("consent")) {
		t.Errorf("rights page: %d", r.status)
	}
}

func TestDeskLoginAndEvidence(t *testing.T) {
	n := start(t, web.Config{})
	ctx := context.Background()
	h, _ := access.HashPassword("a long passphrase")
	if err := n.store.CreateUser(ctx, access.User{Name: "ana", PasswordHash: h, Role: access.Analyst, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(spamMsg), SubmittedBy: "token:x"})
	if err != nil {
		t.Fatal(err)
	}
	id := rec.Reports[0].ID
	c := browser(t)
	if r := get(t, c, n.url+"/desk"); r.status != 303 || r.header.Get("Location") != "/login" {
		t.Fatalf("desk without login: %d", r.status)
	}
	csrf := csrfRe.FindSubmatch(get(t, c, n.url+"/login").body)
	if r := postForm(t, c, n.url+"/login", "", map[string]string{"csrf": string(csrf[1]), "user": "ana", "password": "wrong"}, nil); r.status != 401 {
		t.Fatalf("wrong password: %d", r.status)
	}
	if r := postForm(t, c, n.url+"/login", "", map[string]string{"csrf": string(csrf[1]), "user": "ana", "password": "a long passphrase"}, nil); r.status != 303 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	r := get(t, c, n.url+"/desk")
	if r.status != 200 || !bytes.Contains(r.body, []byte(id)) {
		t.Fatalf("desk: %d", r.status)
	}
	sess := csrfRe.FindSubmatch(r.body)
	r = get(t, c, n.url+"/desk/reports/"+id)
	if r.status != 200 || bytes.Contains(r.body, []byte("<script>")) || !bytes.Contains(r.body, []byte("&lt;img src=")) {
		t.Fatalf("report page: %d", r.status)
	}
	if r := get(t, c, n.url+"/desk/campaigns/"+rec.Reports[0].CampaignID); r.status != 200 {
		t.Errorf("campaign page: %d", r.status)
	}
	// Export is a state change (it writes the custody log): CSRF applies.
	if r := postForm(t, c, n.url+"/desk/reports/"+id+"/evidence", "", map[string]string{"csrf": "forged"}, nil); r.status != 403 {
		t.Errorf("evidence with a forged token: %d", r.status)
	}
	r = postForm(t, c, n.url+"/desk/reports/"+id+"/evidence", "", map[string]string{"csrf": string(sess[1])}, nil)
	if r.status != 200 {
		t.Fatalf("evidence: %d %s", r.status, r.body)
	}
	if res, err := intake.VerifyBundle(bytes.NewReader(r.body), int64(len(r.body))); err != nil || !res.OK() {
		t.Fatalf("bundle: %v %v", err, res.Problems)
	}
	es, _ := n.store.Custody(ctx, id)
	if last := es[len(es)-1]; last.Action != "exported" || last.Actor != "user:ana" {
		t.Errorf("last custody entry %+v", last)
	}
}

// TestFormDeclaration: the form's "what is it?" answer reaches the desk —
// the honest forward of the invoice phish is taken whole as received,
// unwrapped as forwarded. "Someone forwarded it to me" is named under the
// forward (its From is the forwarder's, kept apart), and an answer that
// is none of the three is refused, as the API refuses it, not read as
// "I don't know" (eighth attack review, findings 5 and 9).
func TestFormDeclaration(t *testing.T) {
	n := start(t, web.Config{})
	c := browser(t)
	page := get(t, c, n.url+"/")
	if !strings.Contains(string(page.body), `name="as" value="forwarded"`) {
		t.Fatal("the form offers no choice between forwarded and received")
	}
	if !strings.Contains(string(page.body), "or someone forwarded it to me") || !strings.Contains(string(page.body), "not a forward") {
		t.Error("the form does not say where someone else's forward belongs")
	}
	csrf := string(csrfRe.FindSubmatch(page.body)[1])
	p := postForm(t, c, n.url+"/report", n.url, map[string]string{"csrf": csrf, "as": "bogus"}, fixture(t, "review7/c3.eml"))
	if p.status != http.StatusBadRequest || p.header.Get("Location") != "" || !strings.Contains(string(p.body), "the answer sent is none of them") {
		t.Errorf("as=bogus: %d %q", p.status, p.header.Get("Location"))
	}
	for as, form := range map[string]string{"received": intake.FormRaw, "forwarded": intake.FormAttached, "": intake.FormAttached} {
		p := postForm(t, c, n.url+"/report", n.url, map[string]string{"csrf": csrf, "as": as}, fixture(t, "review7/c3.eml"))
		loc := p.header.Get("Location")
		id, tok, ok := strings.Cut(strings.TrimPrefix(loc, "/r/"), "?t=")
		if p.status != http.StatusSeeOther || !ok {
			t.Fatalf("as %q: %d %s", as, p.status, p.body)
		}
		tok, _, _ = strings.Cut(tok, "&")
		if r := do(t, "GET", n.url+"/api/v1/reports/"+id+"?t="+tok, "", "", nil); r.json(t)["form"] != form {
			t.Errorf("as %q: form %v, want %s", as, r.json(t)["form"], form)
		}
	}
}

// TestCutUploadSaysSo: a form upload whose multipart ends before its
// close delimiter (a connection cut on its way) is told it arrived
// incomplete (400), not that the form expired; nothing is stored.
func TestCutUploadSaysSo(t *testing.T) {
	n := start(t, web.Config{})
	c := browser(t)
	csrf := string(csrfRe.FindSubmatch(get(t, c, n.url+"/").body)[1])
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrf)
	fw, _ := mw.CreateFormFile("file", "spam.eml")
	fw.Write([]byte(spamMsg))
	body := buf.Bytes() // no close delimiter: mw is never closed
	req, _ := http.NewRequest("POST", n.url+"/report", bytes.NewReader(body[:len(body)-10]))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || !bytes.Contains(b, []byte("arrived incomplete")) {
		t.Errorf("a cut upload: %d %s", res.StatusCode, b)
	}
	if c, _ := n.store.CountReports(context.Background()); c != 0 {
		t.Errorf("%d reports from a cut upload", c)
	}
}

// TestFormRefusesWordsWithNothingToActOn: the web form judges a paste or a
// file as the API and the mailbox do — text that names no link, address
// or message header is no report (the new user's trial, H2: "just words"
// and a file holding "hello world" were stored as paste reports and
// counted in the statistics). A paste with something to act on is kept.
func TestFormRefusesWordsWithNothingToActOn(t *testing.T) {
	n := start(t, web.Config{})
	c := browser(t)
	r := get(t, c, n.url+"/")
	csrf := csrfRe.FindSubmatch(r.body)
	if csrf == nil {
		t.Fatal("form without CSRF token")
	}
	for _, tc := range []struct {
		source string
		file   []byte
	}{{"just words", nil}, {"", []byte("hello world\n")}, {"I hate spam, please stop it", nil}} {
		p := postForm(t, c, n.url+"/report", "", map[string]string{"csrf": string(csrf[1]), "source": tc.source}, tc.file)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(string(p.body), "names no link, address, telephone number, IBAN or message header") {
			t.Errorf("%q %q: %d %s", tc.source, tc.file, p.status, p.body)
		}
	}
	if got, _ := n.store.CountReports(context.Background()); got != 0 {
		t.Errorf("%d reports stored from words with nothing to act on", got)
	}
	p := postForm(t, c, n.url+"/report", "", map[string]string{"csrf": string(csrf[1]), "source": "They keep sending me offers from http://cheap-meds.example/buy"}, nil)
	if p.status != http.StatusSeeOther {
		t.Errorf("a paste with a link: %d %s", p.status, p.body)
	}
	if got, _ := n.store.CountReports(context.Background()); got != 1 {
		t.Errorf("%d reports stored, want the paste with a link", got)
	}
}

// TestBearerSchemeAnyCase: "bearer TOKEN" is the Bearer scheme (RFC 9110
// 11.1); it was answered 401 (the new user's trial, L4).
func TestBearerSchemeAnyCase(t *testing.T) {
	n := start(t, web.Config{})
	tok := n.token(t, access.Analyst)
	for _, scheme := range []string{"bearer", "BEARER", "Bearer"} {
		req, _ := http.NewRequest("GET", n.url+"/api/v1/reports", nil)
		req.Header.Set("Authorization", scheme+" "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", scheme, res.StatusCode)
		}
	}
}
