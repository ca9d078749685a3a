package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/consent"
)

// TestRecipientPagesSpeakTheirLanguage: the confirmation and opt-out
// pages a subscriber opens from a sender's mail speak the browser's
// language, or the one chosen with the switcher, which their buttons keep
// — and, unlike the other public pages, leave no cookie (the new user's
// trial, F2: they were English only).
func TestRecipientPagesSpeakTheirLanguage(t *testing.T) {
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	get := func(method, u, lang, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if c := res.Header.Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("%s %s set a cookie: %v", method, u, c)
		}
		return res.StatusCode, res.Header, string(b)
	}
	want := func(what string, status, wantStatus int, h http.Header, body, lang string, texts ...string) {
		t.Helper()
		if status != wantStatus || h.Get("Content-Language") != lang || !strings.Contains(body, `<html lang="`+lang+`"`) {
			t.Errorf("%s: status %d (want %d), Content-Language %q (want %q)", what, status, wantStatus, h.Get("Content-Language"), lang)
		}
		for _, s := range texts {
			if !strings.Contains(body, s) {
				t.Errorf("%s: no %q in\n%s", what, s, body)
			}
		}
	}

	// Confirmed opt-in: the page in German from the browser, then in
	// French from the switcher, whose button keeps French.
	r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(map[string]any{
		"recipient": "dora@example.net", "list": "news", "basis": "consent", "confirm": true,
		"capture": map[string]any{"method": "form", "form_url": "https://shop.example/join", "text": "Yes, send me the news", "checkbox_default": "unchecked", "ip": "192.0.2.7"}}))
	if r.status != http.StatusCreated {
		t.Fatalf("POST consent: %d %s", r.status, r.body)
	}
	link := regexp.MustCompile(`https?://\S+/c/\S+`).FindString(n.mail.last().Text)
	if link == "" {
		t.Fatalf("no confirmation link in %q", n.mail.last().Text)
	}
	st, h, body := get("GET", link, "de-AT,de;q=0.9,en;q=0.5", "")
	want("confirmation page, German browser", st, 200, h, body, "de", "Bestätigen Sie Ihr Abonnement", "Ja, Abonnement bestätigen", `hreflang="fr"`)
	st, h, body = get("GET", link+"?lang=fr", "de", "")
	want("confirmation page, French chosen", st, 200, h, body, "fr", "Confirmez votre abonnement", `action="/c/`)
	action := buttonRe.FindStringSubmatch(body)
	if action == nil || !strings.HasSuffix(action[1], "?lang=fr") {
		t.Fatalf("the button does not keep the chosen language: %v", action)
	}
	st, h, body = get("POST", n.url+strings.ReplaceAll(action[1], "&amp;", "&"), "de", "confirm=yes")
	want("confirmation, French kept", st, 200, h, body, "fr", "Abonnement confirmé", "est confirmé")

	// One-click opt-out: the page in Dutch from the browser; the button's
	// answer in Spanish from the browser that posts it.
	r = do(t, "POST", n.url+"/api/v1/unsubscribe-links", shop, "application/json", jsonBody(map[string]any{"list": "news", "recipients": []string{"dora@example.net"}}))
	var links struct{ Links []consent.Link }
	if err := json.Unmarshal(r.body, &links); err != nil || len(links.Links) != 1 || links.Links[0].URL == "" {
		t.Fatalf("links: %d %s", r.status, r.body)
	}
	u := links.Links[0].URL
	st, h, body = get("GET", u, "nl-BE,nl", "")
	want("opt-out page, Dutch", st, 200, h, body, "nl", "Afmelden voor news", "Het openen van deze pagina heeft niets veranderd")
	st, h, body = get("POST", u, "es", "List-Unsubscribe=One-Click")
	want("opt-out, Spanish", st, 200, h, body, "es", "Baja realizada", "se ha dado de baja de <strong>news</strong>")
	st, h, body = get("POST", u, "es", "nothing=here")
	want("not a one-click request, Spanish", st, 400, h, body, "es", "No es una solicitud de baja")
	// A bad link, in Italian; a browser in no language of the node's, in English.
	st, h, body = get("GET", n.url+"/u/"+strings.Repeat("b", consent.TokenLen)+"?lang=it", "", "")
	want("bad link, Italian", st, 404, h, body, "it", "Link non valido")
	st, h, body = get("GET", u, "ja", "")
	want("opt-out page after the opt-out, Japanese browser", st, 200, h, body, "en", "already. Nothing more to do.")
}
