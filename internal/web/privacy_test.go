package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/web"
)

func TestPrivacyNoticeAndMailbox(t *testing.T) {
	n := start(t, web.Config{Mailbox: "spam@desk.example.org", Privacy: web.PrivacyNotice{Controller: "Autorité <b>X</b>, 1 rue Y, Paris",
		Contact: "dpo@desk.example.org", Purposes: []string{"to receive reports"}, LegalBasis: "GDPR art. 6(1)(e)", Supervisory: "the CNIL"},
		Retention: intake.Retention{Identity: 90 * 24 * 3600e9, Mail: 30 * 24 * 3600e9}})
	c := browser(t)
	r := get(t, c, n.url+"/privacy")
	// The desk's mail to a reporter is in the notice, kept the shorter
	// of the mail's and the identity's retention.
	if !regexp.MustCompile(`(?s)<tr id="retention-mail"><td>Our e-mails to you[^<]*deleted once sent[^<]*</td><td>30 days</td>`).Match(r.body) {
		t.Errorf("the privacy notice does not give the retention of the desk's mail to reporters")
	}
	for _, want := range []string{"Autorité &lt;b&gt;X&lt;/b&gt;, 1 rue Y, Paris", "dpo@desk.example.org", "to receive reports", "GDPR art. 6(1)(e)", "the CNIL", "90 days", "spam@desk.example.org"} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("privacy notice lacks %q", want)
		}
	}
	if r := get(t, c, n.url+"/rights"); !bytes.Contains(r.body, []byte(`href="mailto:spam@desk.example.org"`)) {
		t.Errorf("/rights does not give the mailbox address")
	}
	// The notice names what the desk's senders' side holds and shares:
	// complaints forwarded, redacted, to a registered sender, and the
	// consent log's records of subscribers (the new user's trial, F3: the
	// confirmation and opt-out pages link here, and it said neither).
	for _, lang := range []string{"", "?lang=de"} {
		r := get(t, c, n.url+"/privacy"+lang)
		for _, re := range []string{`<p id="senders">[^<]*(registered at this node|bei diesem Knoten registrierten)[^<]*</p>`,
			`<p id="subscribers">[^<]*(keyed hash|verschlüsselten Hashwert)[^<]*(browser|Browser)[^<]*</p>`} {
			if !regexp.MustCompile(re).Match(r.body) {
				t.Errorf("privacy notice%s: nothing matches %s", lang, re)
			}
		}
	}
}

func TestReporterSeesExportsAndErases(t *testing.T) {
	n := start(t, web.Config{})
	ctx := context.Background()
	fwd := func(i int) []byte {
		return []byte("From: alice@example.net\r\nTo: report@localhost\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nlook\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + string(variant(i)) + "\r\n--b--\r\n")
	}
	recA, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: fwd(1), Reporter: "alice@example.net", SubmittedBy: "smtp"})
	if err != nil {
		t.Fatal(err)
	}
	recB, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: fwd(2), Reporter: "alice@example.net", SubmittedBy: "smtp"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := recA.Reports[0], recB.Reports[0]
	c := browser(t)
	page := get(t, c, n.url+"/r/"+a.ID+"?t="+a.StatusToken)
	if page.status != 200 || !bytes.Contains(page.body, []byte(`<dd id="my-address">alice@example.net</dd>`)) || !bytes.Contains(page.body, []byte("Download my data")) {
		t.Fatalf("status page: %d", page.status)
	}
	// Download: with the report's own token only.
	if r := get(t, c, n.url+"/r/"+a.ID+"/export?t="+b.StatusToken); r.status != 404 {
		t.Errorf("export of a with b's token: %d", r.status)
	}
	r := get(t, c, n.url+"/r/"+a.ID+"/export?t="+a.StatusToken)
	var mine struct {
		Message   struct{ Text string }
		Complaint struct {
			AsSent struct{ Text string } `json:"as_sent"`
		}
		Address string `json:"your_address"`
		History []struct{ Who, What string }
	}
	if err := json.Unmarshal(r.body, &mine); err != nil || r.status != 200 || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v %s", r.status, err, r.body)
	}
	if mine.Address != "alice@example.net" || !strings.Contains(mine.Message.Text, "Refinance now") || !strings.Contains(mine.Complaint.AsSent.Text, "From: alice@example.net") ||
		len(mine.History) < 2 || strings.Contains(string(r.body), "user:") {
		t.Errorf("export content: %+v", mine)
	}
	// Erase: CSRF, confirmation and the right token are all needed.
	csrf := string(csrfRe.FindSubmatch(page.body)[1])
	erase := func(id, token string, fields map[string]string) resp {
		f := url.Values{"t": {token}}
		for k, v := range fields {
			f.Set(k, v)
		}
		req := strings.NewReader(f.Encode())
		res, err := c.Post(n.url+"/r/"+id+"/erase", "application/x-www-form-urlencoded", req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		return resp{res.StatusCode, res.Header, buf.Bytes()}
	}
	if r := erase(a.ID, a.StatusToken, map[string]string{"confirm": "yes"}); r.status != 403 {
		t.Errorf("erase without CSRF: %d", r.status)
	}
	if r := erase(a.ID, a.StatusToken, map[string]string{"csrf": csrf}); r.status != 400 {
		t.Errorf("erase without confirmation: %d", r.status)
	}
	if r := erase(a.ID, b.StatusToken, map[string]string{"csrf": csrf, "confirm": "yes"}); r.status != 404 {
		t.Errorf("erase of a with b's token: %d", r.status)
	}
	if r := erase(b.ID, a.StatusToken, map[string]string{"csrf": csrf, "confirm": "yes"}); r.status != 404 {
		t.Errorf("erase of b with a's token: %d", r.status)
	}
	if got, _ := n.store.Report(ctx, a.ID); len(got.Raw) == 0 || !got.ErasedAt.IsZero() {
		t.Fatal("a refused erasure changed report a")
	}
	if r := erase(a.ID, a.StatusToken, map[string]string{"csrf": csrf, "confirm": "yes"}); r.status != 303 {
		t.Fatalf("erase: %d %s", r.status, r.body)
	}
	after := get(t, c, n.url+"/r/"+a.ID+"?t="+a.StatusToken+"&erased=1")
	if !bytes.Contains(after.body, []byte(`id="erased-now"`)) || bytes.Contains(after.body, []byte("Refinance now")) ||
		bytes.Contains(after.body, []byte("alice@example.net")) || bytes.Contains(after.body, []byte(`id="erase-form"`)) {
		t.Errorf("status page after erasure still shows the message or the address")
	}
	if bytes.Contains(after.body, []byte(`id="next-body"`)) {
		t.Errorf("status page after erasure still says the report is stored as evidence")
	}
	if got, _ := n.store.Report(ctx, b.ID); !bytes.Contains(got.Raw, []byte("Refinance now")) {
		t.Error("erasing a erased b")
	}

	// b's campaign is worked as a case, so its message stays as evidence
	// when alice erases b — no longer linked to her: her link shows and
	// exports none of it (the new user's trial, M2).
	if r := do(t, "POST", n.url+"/api/v1/campaigns/"+b.CampaignID+"/case", n.token(t, access.Authority), "application/json",
		[]byte(`{"action": "status", "status": "investigating", "text": "opened", "version": 0}`)); r.status != 200 {
		t.Fatalf("case note: %d %s", r.status, r.body)
	}
	if r := erase(b.ID, b.StatusToken, map[string]string{"csrf": csrf, "confirm": "yes"}); r.status != 303 {
		t.Fatalf("erase b: %d %s", r.status, r.body)
	}
	if got, _ := n.store.Report(ctx, b.ID); !bytes.Contains(got.Raw, []byte("Refinance now")) || got.ErasedAt.IsZero() {
		t.Fatal("the held report's message is gone, or it is not marked erased")
	}
	held := get(t, c, n.url+"/r/"+b.ID+"?t="+b.StatusToken)
	if held.status != 200 || bytes.Contains(held.body, []byte("Refinance now")) || bytes.Contains(held.body, []byte(`id="source"`)) ||
		!bytes.Contains(held.body, []byte("no longer linked to you")) {
		t.Errorf("status page of the erased, held report: %d\n%s", held.status, held.body)
	}
	r = get(t, c, n.url+"/r/"+b.ID+"/export?t="+b.StatusToken)
	if r.status != 200 || bytes.Contains(r.body, []byte("Refinance now")) || bytes.Contains(r.body, []byte(`"verdict": {`)) {
		t.Errorf("export of the erased, held report: %d\n%s", r.status, r.body)
	}
	if r := do(t, "GET", n.url+"/api/v1/reports/"+b.ID+"?t="+b.StatusToken, "", "", nil); r.status != 200 || bytes.Contains(r.body, []byte("Refinance")) {
		t.Errorf("the API's status view of the erased, held report: %d %s", r.status, r.body)
	}
	if stored, _ := n.store.Report(ctx, b.ID); bytes.Contains(r.body, []byte(stored.SHA256)) {
		t.Errorf("the export of the erased, held report carries its message's hash:\n%s", r.body)
	}

	// Filed with a reporter's token, the same: the token sees what the
	// status link shows (the attack review of the unlinking, F1).
	rep := n.token(t, access.Reporter)
	up := do(t, "POST", n.url+"/api/v1/reports?as=received", rep, "message/rfc822", variant(7))
	var filed struct {
		ID          string `json:"id"`
		StatusURL   string `json:"status_url"`
		CampaignID  string `json:"campaign_id"`
		StatusToken string
	}
	if err := json.Unmarshal(up.body, &filed); err != nil || up.status != 201 {
		t.Fatalf("upload: %d %s", up.status, up.body)
	}
	if su, err := url.Parse(filed.StatusURL); err == nil {
		filed.StatusToken = su.Query().Get("t")
	}
	if r := do(t, "POST", n.url+"/api/v1/campaigns/"+filed.CampaignID+"/case", n.token(t, access.Authority), "application/json",
		[]byte(`{"action": "status", "status": "investigating", "text": "opened", "version": 0}`)); r.status != 200 && r.status != 409 {
		t.Fatalf("case: %d %s", r.status, r.body)
	}
	if r := erase(filed.ID, filed.StatusToken, map[string]string{"csrf": csrf, "confirm": "yes"}); r.status != 303 {
		t.Fatalf("erase the uploaded report: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", n.url+"/api/v1/reports/"+filed.ID, rep, "", nil); r.status != 200 || bytes.Contains(r.body, []byte("Refinance")) || bytes.Contains(r.body, []byte(`"verdict": {`)) {
		t.Errorf("the reporter's token reads the erased, held report: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", n.url+"/api/v1/reports/"+filed.ID, n.token(t, access.Analyst), "", nil); r.status != 200 || !bytes.Contains(r.body, []byte(`"verdict": {`)) {
		t.Errorf("an analyst no longer reads the held evidence: %d %s", r.status, r.body)
	}
}

// TestStatusLinkBounded: a status link's downloads and erasures, which
// write to the custody log, are bounded per report (429 with
// Retry-After, nothing logged), and a second erasure of what is already
// erased adds no tombstone.
func TestStatusLinkBounded(t *testing.T) {
	n := start(t, web.Config{})
	ctx := context.Background()
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: variant(3), SubmittedBy: "token:t"})
	if err != nil {
		t.Fatal(err)
	}
	a := rec.Reports[0]
	c := browser(t)
	page := get(t, c, n.url+"/r/"+a.ID+"?t="+a.StatusToken)
	csrf := string(csrfRe.FindSubmatch(page.body)[1])
	entries := func() int {
		es, err := n.store.Custody(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	erase := func() resp {
		f := url.Values{"t": {a.StatusToken}, "csrf": {csrf}, "confirm": {"yes"}}
		res, err := c.Post(n.url+"/r/"+a.ID+"/erase", "application/x-www-form-urlencoded", strings.NewReader(f.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		return resp{res.StatusCode, res.Header, buf.Bytes()}
	}
	if r := erase(); r.status != 303 {
		t.Fatalf("erase: %d", r.status)
	}
	before := entries()
	for i := 0; i < 3; i++ {
		if r := erase(); r.status != 303 {
			t.Fatalf("erase again: %d", r.status)
		}
	}
	if got := entries(); got != before {
		t.Errorf("erasing what is already erased added %d custody entries", got-before)
	}
	// 4 erasures so far; downloads share the report's bucket.
	ok := 0
	var last resp
	for i := 0; i < 20; i++ {
		last = get(t, c, n.url+"/r/"+a.ID+"/export?t="+a.StatusToken)
		if last.status != 200 {
			break
		}
		ok++
	}
	if last.status != 429 || last.header.Get("Retry-After") == "" || ok == 0 || ok > 10 {
		t.Fatalf("after %d downloads: %d, Retry-After %q", ok, last.status, last.header.Get("Retry-After"))
	}
	logged := entries()
	if r := erase(); r.status != 429 {
		t.Errorf("erase over the limit: %d", r.status)
	}
	get(t, c, n.url+"/r/"+a.ID+"/export?t="+a.StatusToken)
	if got := entries(); got != logged {
		t.Errorf("refused requests wrote %d custody entries", got-logged)
	}
}
