package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/web"
)

// variant is a spam of one run, told apart by its number.
func variant(i int) []byte {
	return []byte(strings.Replace(spamMsg, "id 2;", fmt.Sprintf("id %d;", i+10), 1))
}

// login signs a desk user of role in and returns the client and the
// session's CSRF token.
func login(t *testing.T, n node, name string, role access.Role) (*http.Client, string) {
	t.Helper()
	h, _ := access.HashPassword("a long passphrase")
	if err := n.store.CreateUser(context.Background(), access.User{Name: name, PasswordHash: h, Role: role, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	csrf := csrfRe.FindSubmatch(get(t, c, n.url+"/login").body)
	if r := postForm(t, c, n.url+"/login", "", map[string]string{"csrf": string(csrf[1]), "user": name, "password": "a long passphrase"}, nil); r.status != 303 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	sess := csrfRe.FindSubmatch(get(t, c, n.url+"/desk").body)
	return c, string(sess[1])
}

func TestAPIListsFilterAndPage(t *testing.T) {
	n := start(t, web.Config{})
	ctx := context.Background()
	var campaignID string
	for i := 0; i < 5; i++ {
		rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: variant(i), SubmittedBy: "token:x"})
		if err != nil {
			t.Fatal(err)
		}
		campaignID = rec.Reports[0].CampaignID
	}
	other := "From: a@friends.example\r\nSubject: Lunch on Thursday\r\n\r\nShall we meet at noon near the station for lunch?\r\n"
	if _, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelWeb, Raw: []byte(other), SubmittedBy: "web"}); err != nil {
		t.Fatal(err)
	}
	analyst := n.token(t, access.Analyst)
	reporter := n.token(t, access.Reporter)
	if r := do(t, "GET", n.url+"/api/v1/reports", reporter, "", nil); r.status != 403 {
		t.Errorf("a reporter lists every report: %d", r.status)
	}
	// Walk the reports two by two through the next links.
	next, seen := "/api/v1/reports?limit=2&sender_domain=offers.example.biz", map[string]bool{}
	pages := 0
	for next != "" && pages < 10 {
		r := do(t, "GET", n.url+next, analyst, "", nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", next, r.status, r.body)
		}
		m := r.json(t)
		for _, x := range m["reports"].([]any) {
			id := x.(map[string]any)["id"].(string)
			if seen[id] {
				t.Errorf("report %s twice", id)
			}
			seen[id] = true
			if x.(map[string]any)["from_domain"] != "offers.example.biz" {
				t.Errorf("filtered list holds %v", x)
			}
		}
		next, _ = m["next"].(string)
		pages++
	}
	if len(seen) != 5 || pages != 3 {
		t.Errorf("walked %d reports in %d pages", len(seen), pages)
	}
	r := do(t, "GET", n.url+"/api/v1/reports?q=lunch&channel=web", analyst, "", nil)
	if l := r.json(t)["reports"].([]any); len(l) != 1 {
		t.Errorf("subject search: %s", r.body)
	}
	for _, bad := range []string{"from=yesterday", "country=France", "network=ASx", "channel=fax", "status=done", "after=zzz", "limit=5000", "finding=bogus",
		"from=2026-11-05&to=2026-11-01", "q=" + strings.Repeat("x", 300)} {
		if r := do(t, "GET", n.url+"/api/v1/reports?"+bad, analyst, "", nil); r.status != 400 || r.errCode() != "bad-filter" {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
	r = do(t, "GET", n.url+"/api/v1/campaigns?status=new&min_reports=2", analyst, "", nil)
	cs := r.json(t)["campaigns"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["id"] != campaignID || cs[0].(map[string]any)["status"] != "new" {
		t.Errorf("campaigns: %s", r.body)
	}
}

func TestCaseWorkedAtTheDesk(t *testing.T) {
	n := start(t, web.Config{})
	ctx := context.Background()
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(spamMsg), SubmittedBy: "token:x"})
	if err != nil {
		t.Fatal(err)
	}
	cid := rec.Reports[0].CampaignID
	caseURL := n.url + "/desk/cases/" + cid
	// An analyst reads the case but may not change it.
	ac, acsrf := login(t, n, "ana", access.Analyst)
	if r := get(t, ac, caseURL); r.status != 200 || !bytes.Contains(r.body, []byte("the case is new")) {
		t.Fatalf("case page for an analyst: %d", r.status)
	}
	if r := postForm(t, ac, caseURL, "", map[string]string{"csrf": acsrf, "action": "note", "text": "x"}, nil); r.status != 403 {
		t.Errorf("an analyst changed a case: %d", r.status)
	}
	c, csrf := login(t, n, "olga", access.Authority)
	post := func(fields map[string]string) resp {
		fields["csrf"] = csrf
		return postForm(t, c, caseURL, "", fields, nil)
	}
	if r := post(map[string]string{"action": "status", "status": "triage", "version": "0"}); r.status != 303 {
		t.Fatalf("triage: %d %s", r.status, r.body)
	}
	if r := post(map[string]string{"action": "assign", "assignee": "ana", "version": "1"}); r.status != 303 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	if r := post(map[string]string{"action": "assign", "assignee": "nobody-here", "version": "2"}); r.status != 400 {
		t.Errorf("assigned to an unknown user: %d", r.status)
	}
	hostile := `Host is <script>alert("x")</script><img src=x onerror=alert(1)>`
	if r := post(map[string]string{"action": "note", "text": hostile, "version": "2"}); r.status != 303 {
		t.Fatalf("note: %d %s", r.status, r.body)
	}
	// Someone else's view of version 2 is stale now.
	if r := post(map[string]string{"action": "decision", "text": "late", "version": "2"}); r.status != 409 {
		t.Errorf("stale change: %d", r.status)
	}
	if r := post(map[string]string{"action": "status", "status": "closed", "version": "3"}); r.status != 400 {
		t.Errorf("closed without a decision: %d", r.status)
	}
	if r := post(map[string]string{"action": "status", "status": "referred", "version": "3", "text": "x"}); r.status != 400 {
		t.Errorf("referred without a referral: %d", r.status)
	}
	if r := postForm(t, c, caseURL, "", map[string]string{"csrf": "forged", "action": "note", "text": "x"}, nil); r.status != 403 {
		t.Errorf("forged CSRF: %d", r.status)
	}
	r := get(t, c, caseURL)
	if bytes.Contains(r.body, []byte("<script>alert")) || bytes.Contains(r.body, []byte("<img src=x")) ||
		!bytes.Contains(r.body, []byte("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")) {
		t.Errorf("the note is not shown as text")
	}
	if !bytes.Contains(r.body, []byte(`status-triage`)) || !bytes.Contains(r.body, []byte(`<dd id="case-assignee">ana</dd>`)) {
		t.Errorf("case page does not show status and assignee")
	}
	// The API shows the same case and changes it.
	tok := n.token(t, access.Authority)
	a := do(t, "GET", n.url+"/api/v1/campaigns/"+cid+"/case", tok, "", nil)
	m := a.json(t)
	if m["status"] != "triage" || m["assignee"] != "ana" || m["version"] != 3.0 || len(m["events"].([]any)) != 3 {
		t.Fatalf("API case: %s", a.body)
	}
	a = do(t, "POST", n.url+"/api/v1/campaigns/"+cid+"/case", tok, "application/json",
		[]byte(`{"action":"status","status":"closed","text":"No sender found; kept for the record","version":3}`))
	if a.status != 200 || a.json(t)["status"] != "closed" || a.json(t)["closed"] == nil {
		t.Fatalf("API close: %d %s", a.status, a.body)
	}
	// The token that closed it is named by its id and, for people, its
	// label; the page shows the label too.
	evs := a.json(t)["events"].([]any)
	closing := evs[len(evs)-1].(map[string]any)
	if act, _ := closing["actor"].(string); !strings.HasPrefix(act, "token:") || closing["actor_name"] != act+" (test)" {
		t.Errorf("the closing event's actor: %v / %v", closing["actor"], closing["actor_name"])
	}
	if r := get(t, c, caseURL); !bytes.Contains(r.body, []byte(closing["actor"].(string)+" (test)</td>")) {
		t.Errorf("the case page does not name the token by its label")
	}
	if a := do(t, "POST", n.url+"/api/v1/campaigns/"+cid+"/case", n.token(t, access.Analyst), "application/json", []byte(`{"action":"note","text":"x"}`)); a.status != 403 {
		t.Errorf("an analyst token changed a case: %d", a.status)
	}
	if a := do(t, "POST", n.url+"/api/v1/campaigns/nope/case", tok, "application/json", []byte(`{"action":"note","text":"x"}`)); a.status != 404 {
		t.Errorf("case of no campaign: %d", a.status)
	}
	if a := do(t, "POST", n.url+"/api/v1/campaigns/"+cid+"/case", tok, "application/json", []byte(`{}`)); a.status != 400 || a.errCode() != "bad-body" {
		t.Errorf("empty change: %d %s", a.status, a.body)
	}
	// The campaigns list and filter show the status.
	if r := get(t, c, n.url+"/desk/campaigns?status=closed"); !bytes.Contains(r.body, []byte(cid)) {
		t.Errorf("closed campaign not listed under its status")
	}
	if r := get(t, c, n.url+"/desk/campaigns?status=new"); bytes.Contains(r.body, []byte(cid)) {
		t.Errorf("closed campaign listed as new")
	}
	if r := get(t, c, n.url+"/desk/reports?country=France"); r.status != 400 {
		t.Errorf("bad filter on the desk: %d", r.status)
	}
	// A closed case says nothing new until its campaign gets a report
	// after the closing; then the list, the case page and the API flag it.
	if r := get(t, c, caseURL); bytes.Contains(r.body, []byte("case-new-since-closed")) {
		t.Errorf("a closed case with nothing new is flagged")
	}
	time.Sleep(2 * time.Millisecond)
	late, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: variant(1), SubmittedBy: "token:x"})
	if err != nil || late.Reports[0].CampaignID != cid {
		t.Fatalf("a later report of the run: %v %+v", err, late)
	}
	if r := get(t, c, caseURL); !bytes.Contains(r.body, []byte(`id="case-new-since-closed"`)) {
		t.Errorf("the case page does not say reports arrived after the closing")
	}
	if r := get(t, c, n.url+"/desk/campaigns?status=closed"); !bytes.Contains(r.body, []byte("new reports since closing")) {
		t.Errorf("the campaigns list does not flag the closed case's new reports")
	}
	a = do(t, "GET", n.url+"/api/v1/campaigns?status=closed", tok, "", nil)
	if !bytes.Contains(a.body, []byte(`"new_since_closed": true`)) {
		t.Errorf("API campaigns: %s", a.body)
	}
}

func TestCaseReferredToPartner(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	var n node
	fed := &federation.Service{}
	n = start(t, web.Config{Federation: fed})
	fed.Store, fed.Source = n.store, n.store
	agr, err := federation.ParseAgreement([]byte("id = \"FR-DE\"\nversion = 1\naudience = [\"de\"]\nshare = [\"campaigns\"]\nlegal_basis = \"Regulation (EU) 2017/2394\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.store.AddPeer(ctx, federation.Peer{Name: "de", URL: "http://127.0.0.1:1", Jurisdiction: "DE", Status: federation.StatusActive, Added: time.Now(),
		Keys: []federation.PeerKey{{Key: base64.StdEncoding.EncodeToString(pub), Status: federation.KeyActive, Added: time.Now()}}, Agreement: agr}); err != nil {
		t.Fatal(err)
	}
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(spamMsg), SubmittedBy: "token:x"})
	if err != nil {
		t.Fatal(err)
	}
	cid := rec.Reports[0].CampaignID
	c, csrf := login(t, n, "olga", access.Authority)
	caseURL := n.url + "/desk/cases/" + cid
	if r := get(t, c, caseURL); !bytes.Contains(r.body, []byte(`<option value="de">`)) {
		t.Fatalf("no partner to refer to on the case page")
	}
	postForm(t, c, caseURL, "", map[string]string{"csrf": csrf, "action": "decision", "text": "Refer: the sender is in Germany"}, nil)
	r := postForm(t, c, caseURL+"/refer", "", map[string]string{"csrf": csrf, "peer": "de", "type": "enforcement", "subject": "Refinance spam from AS64500",
		"body": "Please identify the subscriber."}, nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte("assistance request a-")) {
		t.Fatalf("refer: %d %s", r.status, r.body)
	}
	reqs, err := n.store.Requests(ctx, "de")
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests %v %v", reqs, err)
	}
	q := reqs[0]
	if q.Campaign != cid || q.Type != federation.TypeEnforcement || q.LegalBasis != "Regulation (EU) 2017/2394" ||
		!strings.Contains(q.Body, "Please identify the subscriber.") || !strings.Contains(q.Body, "Case file: campaign "+cid) ||
		!strings.Contains(q.Body, "Refer: the sender is in Germany") || !strings.Contains(q.Body, "offers.example.biz") {
		t.Errorf("request %+v", q)
	}
	if out, _ := n.store.Outbox(ctx, "de"); len(out) != 1 {
		t.Errorf("the request is not queued for the partner: %v", out)
	}
	tok := n.token(t, access.Authority)
	m := do(t, "GET", n.url+"/api/v1/campaigns/"+cid+"/case", tok, "", nil).json(t)
	evs := m["events"].([]any)
	last := evs[len(evs)-1].(map[string]any)
	if m["status"] != "referred" || last["kind"] != "referral" || last["ref"] != q.ID || last["actor"] != "user:olga" {
		t.Errorf("case after referral: %v", m)
	}
	// Unknown partner: refused, nothing sent.
	a := do(t, "POST", n.url+"/api/v1/campaigns/"+cid+"/referral", tok, "application/json", []byte(`{"peer":"xx","type":"information","subject":"s"}`))
	if a.status < 400 {
		t.Errorf("referral to an unknown peer: %d %s", a.status, a.body)
	}
	if reqs, _ := n.store.Requests(ctx, ""); len(reqs) != 1 {
		t.Errorf("%d requests after a refused referral", len(reqs))
	}
}

func TestCaseEvidenceBundle(t *testing.T) {
	n := start(t, web.Config{})
	ctx := context.Background()
	var cid string
	for i := 0; i < 3; i++ {
		rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: variant(i), SubmittedBy: "token:x"})
		if err != nil {
			t.Fatal(err)
		}
		cid = rec.Reports[0].CampaignID
	}
	tok := n.token(t, access.Authority)
	do(t, "POST", n.url+"/api/v1/campaigns/"+cid+"/case", tok, "application/json", []byte(`{"action":"decision","text":"Export for the prosecutor"}`))
	r := do(t, "GET", n.url+"/api/v1/campaigns/"+cid+"/evidence", tok, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("case bundle: %d %s", r.status, r.body)
	}
	v, err := intake.VerifyBundle(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil || !v.OK() || v.NodeKey == "" && len(v.Manifest.Reports) == 0 {
		t.Fatalf("bundle does not verify: %+v %v", v, err)
	}
	if len(v.Manifest.Reports) != 3 || v.Manifest.Files["case.json"] == "" {
		t.Errorf("manifest: %d reports, case.json %q", len(v.Manifest.Reports), v.Manifest.Files["case.json"])
	}
	zr, _ := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	var cj []byte
	for _, f := range zr.File {
		if f.Name == "case.json" {
			rc, _ := f.Open()
			cj, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	if !bytes.Contains(cj, []byte("Export for the prosecutor")) {
		t.Errorf("case.json: %s", cj)
	}
	sum := sha256.Sum256(r.body)
	m := do(t, "GET", n.url+"/api/v1/campaigns/"+cid+"/case", tok, "", nil).json(t)
	evs := m["events"].([]any)
	last := evs[len(evs)-1].(map[string]any)
	if last["kind"] != "export" || last["ref"] != hex.EncodeToString(sum[:]) {
		t.Errorf("export not recorded with the bundle's hash: %v", last)
	}
	if r := do(t, "GET", n.url+"/api/v1/campaigns/nope/evidence", tok, "", nil); r.status != 404 {
		t.Errorf("bundle of no campaign: %d", r.status)
	}
	// From the case page, as an analyst.
	c, csrf := login(t, n, "ana", access.Analyst)
	if r := postForm(t, c, n.url+"/desk/cases/"+cid+"/evidence", "", map[string]string{"csrf": csrf}, nil); r.status != 200 ||
		!strings.Contains(r.header.Get("Content-Disposition"), "case-"+cid+".zip") {
		t.Errorf("export from the case page: %d", r.status)
	}
}
