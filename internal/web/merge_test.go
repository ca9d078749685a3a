package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/web"
)

// TestMergedCampaignAnswers: a campaign merged into another (a report
// bridged them) still answers on the API: 308 to the survivor, which
// lists it among its merges.
func TestMergedCampaignAnswers(t *testing.T) {
	n := start(t, web.Config{})
	rep, an := n.token(t, access.Reporter), n.token(t, access.Analyst)
	submit := func(body string) string {
		t.Helper()
		r := do(t, "POST", n.url+"/api/v1/reports", rep, "message/rfc822", []byte(body))
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var out struct {
			CampaignID string `json:"campaign_id"`
		}
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		return out.CampaignID
	}
	msg := func(subject, body string) string {
		return "From: Offers <o@offers.example>\r\nTo: you@example.net\r\nSubject: " + subject + "\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + subject + "@offers.example>\r\n\r\n" + body + "\r\n"
	}
	a := submit(msg("meds", "Cheap meds at http://pharma.example/order"))
	b := submit(msg("prize", "Claim your prize at http://lotto.example/claim"))
	if a == b {
		t.Fatalf("two unrelated spam in one campaign")
	}
	bridge := submit(msg("both", "Meds at http://pharma.example/o and a prize at http://lotto.example/c"))
	if bridge != a {
		t.Fatalf("the bridge joined %s, want the oldest %s", bridge, a)
	}
	req, _ := http.NewRequest("GET", n.url+"/api/v1/campaigns/"+b, nil)
	req.Header.Set("Authorization", "Bearer "+an)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != "/api/v1/campaigns/"+a || !bytes.Contains(body, []byte(`"merged_into": "`+a+`"`)) {
		t.Errorf("merged campaign: %d %v %s", res.StatusCode, res.Header, body)
	}
	r := do(t, "GET", n.url+"/api/v1/campaigns/"+a, an, "", nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"campaign": "`+b+`"`)) || !bytes.Contains(r.body, []byte(`"reports": 3`)) {
		t.Errorf("survivor: %d %s", r.status, r.body)
	}

	// Its case and evidence lead to the survivor's (attack 11, F6); a
	// change on it is refused, naming the survivor.
	auth := n.token(t, access.Authority)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	call := func(method, path, token string, body []byte) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, n.url+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, out
	}
	for _, tail := range []string{"/case", "/evidence"} {
		st, h, body := call("GET", "/api/v1/campaigns/"+b+tail, an, nil)
		if st != http.StatusPermanentRedirect || h.Get("Location") != "/api/v1/campaigns/"+a+tail || !bytes.Contains(body, []byte(`"merged_into": "`+a+`"`)) {
			t.Errorf("GET %s of the merged campaign: %d %v %s", tail, st, h, body)
		}
	}
	if r := do(t, "GET", n.url+"/api/v1/campaigns/"+b+"/case", an, "", nil); r.status != 200 || !bytes.Contains(r.body, []byte(`"campaign_id": "`+a+`"`)) {
		t.Errorf("the merged campaign's case, redirect followed: %d %s", r.status, r.body)
	}
	st, _, body := call("POST", "/api/v1/campaigns/"+b+"/case", auth, []byte(`{"action": "note", "text": "late", "version": 0}`))
	if st != http.StatusConflict || !bytes.Contains(body, []byte(`"code": "merged"`)) || !bytes.Contains(body, []byte(`"merged_into": "`+a+`"`)) {
		t.Errorf("a note on the merged campaign: %d %s", st, body)
	}
	c, _ := login(t, n, "ana", access.Analyst)
	if r := get(t, c, n.url+"/desk/cases/"+b); r.status != http.StatusSeeOther || r.header.Get("Location") != "/desk/cases/"+a+"?merged="+b {
		t.Errorf("the desk's case page of the merged campaign: %d %v", r.status, r.header)
	}

	// Its reports are listed under the survivor, not as none (attack 11,
	// F6): the list of the merged id answers with the survivor's list,
	// other filters kept.
	st, h, body := call("GET", "/api/v1/reports?campaign="+b+"&limit=2", an, nil)
	if st != http.StatusPermanentRedirect || h.Get("Location") != "/api/v1/reports?campaign="+a+"&limit=2" || !bytes.Contains(body, []byte(`"merged_into": "`+a+`"`)) {
		t.Errorf("the reports of the merged campaign: %d %v %s", st, h, body)
	}
	if r := do(t, "GET", n.url+"/api/v1/reports?campaign="+b, an, "", nil); r.status != 200 || bytes.Count(r.body, []byte(`"campaign_id": "`+a+`"`)) != 3 {
		t.Errorf("the reports of the merged campaign, redirect followed: %d %s", r.status, r.body)
	}
	r = get(t, c, n.url+"/desk/reports?campaign="+b)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/desk/reports?campaign="+a+"&merged="+b {
		t.Fatalf("the desk's reports of the merged campaign: %d %v", r.status, r.header)
	}
	if r := get(t, c, n.url+r.header.Get("Location")); r.status != 200 || bytes.Count(r.body, []byte(`href="/desk/cases/`+a+`"`)) != 3 || !bytes.Contains(r.body, []byte("was merged into")) {
		t.Errorf("the desk's reports of the survivor, after the merged id: %d %s", r.status, r.body)
	}
	// The notice is shown only for a real merge, never for words a link
	// carries (the attack review, F6).
	for _, q := range []string{"campaign=" + a + "&merged=c-evil%20OFFICIAL:%20call", "campaign=" + a + "&merged=" + a, "merged=" + b} {
		if r := get(t, c, n.url+"/desk/reports?"+q); r.status != 200 || bytes.Contains(r.body, []byte("was merged into")) {
			t.Errorf("%s: %d, notice shown", q, r.status)
		}
	}
}

// TestWorkedCaseNotMergedByAnonymousBridge is the attack of a report
// bridging a worked case into junk (attack 11, F1): an authority works
// one campaign's case, and an anonymous web form report shares keys with
// it and with a junk campaign. The case stays whole under its id, the
// bridge joins the junk, and the link is proposed with the case; an
// authority's merge then merges them, in the custody log and the case,
// with who merged and why.
func TestWorkedCaseNotMergedByAnonymousBridge(t *testing.T) {
	n := start(t, web.Config{})
	rep, an, auth := n.token(t, access.Reporter), n.token(t, access.Analyst), n.token(t, access.Authority)
	msg := func(subject, body string) string {
		return "From: Offers <o@offers.example>\r\nTo: you@example.net\r\nSubject: " + subject + "\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <" + subject + "@offers.example>\r\n\r\n" + body + "\r\n"
	}
	submit := func(body string) string {
		t.Helper()
		r := do(t, "POST", n.url+"/api/v1/reports", rep, "message/rfc822", []byte(body))
		if r.status != 201 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		return r.json(t)["campaign_id"].(string)
	}
	junk := submit(msg("deals", "Weekly deals at http://junk-deals.example/w"))
	inv := submit(msg("pills", "Cheap pills at http://pharma-ring.example/o"))
	if r := do(t, "POST", n.url+"/api/v1/campaigns/"+inv+"/case", auth, "application/json",
		[]byte(`{"action": "status", "status": "triage", "text": "looks like the pharma ring", "version": 0}`)); r.status != 200 {
		t.Fatalf("work the case: %d %s", r.status, r.body)
	}

	// The anonymous bridge, through the public form.
	c := browser(t)
	csrf := csrfRe.FindSubmatch(get(t, c, n.url+"/").body)[1]
	form := postForm(t, c, n.url+"/report", n.url, map[string]string{"csrf": string(csrf), "consent": "no",
		"source": msg("hello", "Deals at http://junk-deals.example/a and pills at http://pharma-ring.example/b")}, nil)
	if form.status != 303 {
		t.Fatalf("form: %d %s", form.status, form.body)
	}
	statusURL := n.url + form.header.Get("Location")
	r := do(t, "GET", n.url+"/api/v1/campaigns/"+inv+"/case", an, "", nil)
	var cs struct {
		Status string `json:"status"`
		Links  []struct {
			Campaign string `json:"campaign_id"`
			Other    string `json:"other_id"`
		} `json:"proposed_links"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &cs) != nil || cs.Status != "triage" || len(cs.Links) != 1 || cs.Links[0].Campaign != inv || cs.Links[0].Other != junk {
		t.Fatalf("the worked case after the bridge: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", n.url+"/api/v1/campaigns/"+inv, an, "", nil); r.status != 200 || !bytes.Contains(r.body, []byte(`"reports": 1`)) {
		t.Errorf("the worked campaign after the bridge: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", n.url+"/api/v1/campaigns/"+junk, an, "", nil); r.status != 200 || !bytes.Contains(r.body, []byte(`"reports": 2`)) {
		t.Errorf("the junk campaign after the bridge: %d %s", r.status, r.body)
	}

	// The desk's case page lists the link with a merge form (CSRF applies).
	dc, _ := login(t, n, "alice", access.Authority)
	if r := get(t, dc, n.url+"/desk/cases/"+inv); r.status != 200 || !bytes.Contains(r.body, []byte("Proposed merges")) ||
		!bytes.Contains(r.body, []byte(`name="from" value="`+junk+`"`)) {
		t.Errorf("the case page: %d %s", r.status, r.body)
	}
	if r := postForm(t, dc, n.url+"/desk/cases/"+inv+"/merge", "", map[string]string{"csrf": "forged", "from": junk, "reason": "x"}, nil); r.status != 403 {
		t.Errorf("a desk merge with a forged token: %d", r.status)
	}

	// An authority merges on purpose; an analyst may not.
	body := []byte(`{"into": "` + inv + `", "reason": "the deals lead to the pharma shop"}`)
	if r := do(t, "POST", n.url+"/api/v1/campaigns/"+junk+"/merge", an, "application/json", body); r.status != 403 {
		t.Errorf("an analyst's merge: %d %s", r.status, r.body)
	}
	r = do(t, "POST", n.url+"/api/v1/campaigns/"+junk+"/merge", auth, "application/json", body)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"kind": "merge"`)) || !bytes.Contains(r.body, []byte("the deals lead to the pharma shop")) {
		t.Fatalf("merge: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", n.url+"/api/v1/campaigns/"+inv, an, "", nil); r.status != 200 || !bytes.Contains(r.body, []byte(`"reports": 3`)) {
		t.Errorf("after the merge: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", n.url+"/api/v1/campaigns/"+junk+"/merge", auth, "application/json", body); r.status != 400 {
		t.Errorf("merging a merged campaign again: %d %s", r.status, r.body)
	}
	_, problems, err := n.store.VerifyCustodyLog(context.Background())
	list, _ := n.store.Reports(context.Background(), intake.ReportFilter{CampaignID: inv, Limit: 10})
	merged := 0
	for _, rp := range list {
		log, _ := n.store.Custody(context.Background(), rp.ID)
		for _, e := range log {
			if e.Action == "campaign-merged" && strings.HasPrefix(e.Actor, "token:") {
				merged++
			}
		}
	}
	if err != nil || len(problems) > 0 || merged != 1 {
		t.Errorf("custody: %d merge entries by the token, %v %v", merged, problems, err)
	}
	// The bridge's sender is not told (F8): its status page and download
	// leave the grouping's entries out.
	if r := get(t, c, statusURL); r.status != 200 || !bytes.Contains(r.body, []byte("received and stored as evidence")) || bytes.Contains(r.body, []byte("campaign-merged")) {
		t.Errorf("the bridge's status page: %d %s", r.status, r.body)
	}
	u, _ := url.Parse(statusURL)
	if r := get(t, c, n.url+u.Path+"/export?"+u.RawQuery); r.status != 200 || !bytes.Contains(r.body, []byte("received and stored as evidence")) || bytes.Contains(r.body, []byte("campaign-merged")) {
		t.Errorf("the bridge's download: %d %s", r.status, r.body)
	}
}
