package web_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/lint"
)

// Helpers for the tests of what a sender can make the node believe.

func recordConsent(t *testing.T, n senderNode, tok, addr, list string) {
	t.Helper()
	r := do(t, "POST", n.url+"/api/v1/consents", tok, "application/json", jsonBody(map[string]any{"recipient": addr, "list": list,
		"basis": "consent", "capture": map[string]any{"method": "form"}}))
	if r.status != 201 {
		t.Fatalf("record %s on %s: %d %s", addr, list, r.status, r.body)
	}
}

func linksFor(t *testing.T, n senderNode, tok, list, campaign string, rcpts ...string) []consent.Link {
	t.Helper()
	r := do(t, "POST", n.url+"/api/v1/unsubscribe-links", tok, "application/json", jsonBody(map[string]any{"list": list, "campaign": campaign, "recipients": rcpts}))
	var out struct{ Links []consent.Link }
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil || len(out.Links) != len(rcpts) {
		t.Fatalf("links: %d %s", r.status, r.body)
	}
	return out.Links
}

func oneClick(t *testing.T, l consent.Link, all bool) {
	t.Helper()
	body := "List-Unsubscribe=One-Click"
	if all {
		body += "&scope=all"
	}
	if r := do(t, "POST", l.URL, "", "application/x-www-form-urlencoded", []byte(body)); r.status != 200 {
		t.Fatalf("one-click: %d %s", r.status, r.body)
	}
}

// labelMsg is campaignMsg to another recipient, with the node's opt-out
// link l when it has a token.
func labelMsg(n senderNode, to string, l consent.Link) string {
	m := strings.Replace(campaignMsg, "To: dave@example.net", "To: "+to, 1)
	if l.Token != "" {
		m = strings.Replace(m, "<https://node.example/u/x>, <mailto:unsubscribe+x@node.example>", l.ListUnsubscribe, 1)
		m = strings.Replace(m, "https://node.example/u/x", l.URL, 1)
		m = strings.ReplaceAll(m, n.url+"/u/", "https://node.example/u/")
	}
	return m
}

// S1: a label is issued only for mail to a recipient whose consent is on
// record and who did not opt out, whether or not the request names them;
// the list is the one of the node's opt-out token in the message.
func TestLabelNeedsTheRecipientsConsent(t *testing.T) {
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	ask := func(msg, q string) resp {
		return do(t, "POST", n.url+"/api/v1/labels"+q, shop, "message/rfc822", []byte(msg))
	}
	recordConsent(t, n, shop, "dave@example.net", "news")
	recordConsent(t, n, shop, "zoe@example.net", "news") // the sender keeps active records after dave's opt-out
	if r := ask(labelMsg(n, "dave@example.net", consent.Link{}), ""); r.status != 201 {
		t.Fatalf("label for dave, who consented: %d %s", r.status, r.body)
	}
	// carol has no record at all: the single To is the recipient.
	if r := ask(labelMsg(n, "carol@example.net", consent.Link{}), ""); r.status != 422 || !strings.Contains(string(r.body), "no consent on record for carol@example.net") {
		t.Errorf("label for carol, with no record, recipient= left out: %d %s", r.status, r.body)
	}
	// No single To and none named: refused, and says why.
	two := strings.Replace(campaignMsg, "To: dave@example.net", "To: dave@example.net, carol@example.net", 1)
	if r := ask(two, ""); r.status != 422 || !strings.Contains(string(r.body), "addressed to no single recipient") {
		t.Errorf("label for a message to two: %d %s", r.status, r.body)
	}
	// dave opts out of all the sender's mail: no label for him, named or not,
	// with or without his own opt-out token in the message.
	// Links are made for carol too (every message needs its opt-out),
	// and say that no consent is on record for her.
	ls := linksFor(t, n, shop, "news", "", "dave@example.net", "carol@example.net")
	if !ls[0].ConsentOnRecord || ls[1].ConsentOnRecord || ls[1].Token == "" || ls[1].Suppressed {
		t.Errorf("links for dave (consent on record) and carol (none): %+v", ls)
	}
	dl := ls[0]
	oneClick(t, dl, true)
	for name, msg := range map[string]string{"no token": labelMsg(n, "dave@example.net", consent.Link{}), "his token": labelMsg(n, "dave@example.net", dl)} {
		if r := ask(msg, ""); r.status != 422 || !strings.Contains(string(r.body), "consent.opted-out") {
			t.Errorf("label for dave after his opt-out (%s): %d %s", name, r.status, r.body)
		}
	}
	// hank consents to news and promo, then opts out of promo: a message
	// carrying his promo token is a promo mailing, whatever list= says.
	recordConsent(t, n, shop, "hank@example.net", "news")
	recordConsent(t, n, shop, "hank@example.net", "promo")
	pl := linksFor(t, n, shop, "promo", "", "hank@example.net")[0]
	oneClick(t, pl, false)
	msg := labelMsg(n, "hank@example.net", pl)
	if r := ask(msg, "?recipient=hank@example.net&list=news"); r.status != 422 || !strings.Contains(string(r.body), "is for list promo, not news") {
		t.Errorf("label for hank's promo mail asked as news: %d %s", r.status, r.body)
	}
	if r := ask(msg, ""); r.status != 422 || !strings.Contains(string(r.body), "consent.opted-out") {
		t.Errorf("label for hank's promo mail after his promo opt-out: %d %s", r.status, r.body)
	}
	// His news token still gets a label: the opt-out was of promo only.
	if r := ask(labelMsg(n, "hank@example.net", linksFor(t, n, shop, "news", "", "hank@example.net")[0]), ""); r.status != 201 {
		t.Errorf("label for hank's news mail: %d %s", r.status, r.body)
	}
}

// S5: a soft opt-in needs a recent sale, consent a plausible date, and
// lint says what the sender asserted — not "ok" for what the node never
// established.
func TestConsentAssertionsBounded(t *testing.T) {
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	now := time.Now().UTC()
	for name, body := range map[string]map[string]any{
		"soft opt-in without a sale date": {"recipient": "frank@example.net", "list": "news", "basis": "soft-opt-in",
			"customer": map[string]any{"reference": "x", "product_category": "x", "opt_out_offered": true}},
		"soft opt-in on a 1975 sale": {"recipient": "gina@example.net", "list": "casino-offers", "basis": "soft-opt-in",
			"customer": map[string]any{"reference": "x", "product_category": "library card", "since": "1975-01-01T00:00:00Z", "opt_out_offered": true}},
		"consent obtained in year 1000": {"recipient": "ivan@example.net", "list": "news", "basis": "consent",
			"capture": map[string]any{"method": "x", "obtained_at": "1000-01-01T00:00:00Z"}},
	} {
		if r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(body)); r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	// A date in another form is refused naming the field and the form
	// the node takes, not Go's layout string.
	for field, body := range map[string]map[string]any{
		"customer.since": {"recipient": "jane@example.net", "list": "news", "basis": "soft-opt-in",
			"customer": map[string]any{"reference": "x", "product_category": "x", "since": "2026-10-01", "opt_out_offered": true}},
		"capture.obtained_at": {"recipient": "jane@example.net", "list": "news", "basis": "consent",
			"capture": map[string]any{"method": "x", "obtained_at": "2026-10-01"}},
	} {
		r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(body))
		if b := string(r.body); r.status != 400 || !strings.Contains(b, "field "+field+":") || !strings.Contains(b, "RFC 3339") || strings.Contains(b, "2006-01-02") {
			t.Errorf("a bad %s: %d %s", field, r.status, r.body)
		}
	}
	sale := now.AddDate(0, -3, 0).Format(time.RFC3339)
	if r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(map[string]any{"recipient": "dave@example.net", "list": "news",
		"basis": "soft-opt-in", "customer": map[string]any{"reference": "o-17", "product_category": "coats", "since": sale, "opt_out_offered": true}})); r.status != 201 {
		t.Fatalf("a soft opt-in on a sale 3 months ago: %d %s", r.status, r.body)
	}
	r := do(t, "POST", n.url+"/api/v1/lint?recipient=dave@example.net&list=news", shop, "message/rfc822", []byte(campaignMsg))
	var rep lint.Report
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatalf("lint: %d %s", r.status, r.body)
	}
	seen := 0
	for _, f := range rep.Findings {
		switch f.Check {
		case "law.eu-prior-consent":
			seen++
			if f.Status == lint.OK || !strings.Contains(f.Detail, "the sender asserts a soft opt-in") {
				t.Errorf("the law finding on a soft opt-in the sender asserts: %s %q", f.Status, f.Detail)
			}
		case "consent.on-record":
			seen++
			if !strings.Contains(f.Detail, `a sale of "coats" on `+sale[:10]) || strings.Contains(f.Detail, "similar products") && !strings.Contains(f.Detail, "established neither") {
				t.Errorf("consent.on-record for an asserted soft opt-in: %q", f.Detail)
			}
		}
	}
	if seen != 2 {
		t.Errorf("the lint has %d of the two consent findings: %s", seen, r.body)
	}
}

// S11: junk is no evidence — an IPv6 zone (any text, an interface of the
// sender's host) and characters that make evidence read otherwise.
func TestConsentEvidenceJunk(t *testing.T) {
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	for name, capture := range map[string]map[string]any{
		"zone with an override":  {"method": "form", "ip": "fe80::1%\u202eevil<script>"},
		"zone":                   {"method": "form", "ip": "::ffff:1.2.3.4%eth0"},
		"override in user agent": {"method": "form", "user_agent": "Mozilla/5.0 \u202etxt.exe"},
		"control in form url":    {"method": "form", "form_url": "https://shop.example/join\r\nX-Injected: 1"},
	} {
		who := strings.ReplaceAll(name, " ", "-") + "@example.net" // one each: a refusal must not be a 409
		r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(map[string]any{"recipient": who, "list": "news",
			"basis": "consent", "capture": capture}))
		if r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(map[string]any{"recipient": "ann@example.net", "list": "news",
		"basis": "consent", "capture": map[string]any{"method": "form", "ip": "2001:db8::7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}}))
	if r.status != 201 {
		t.Errorf("clean evidence: %d %s", r.status, r.body)
	}
}
