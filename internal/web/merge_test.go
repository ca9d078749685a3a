package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/accord-antispam/accord/internal/access"
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
}
