package web_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/i18n"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/web"
)

var (
	htmlLang  = regexp.MustCompile(`<html lang="([^"]+)">`)
	switchRe  = regexp.MustCompile(`<a href="([^"]+)" hreflang="([^"]+)" lang="[^"]+"( aria-current="true")?>`)
	preRe     = regexp.MustCompile(`(?s)<pre.*?</pre>`)
	tagRe     = regexp.MustCompile(`(?s)<[^>]*>`)
	rawBoolRe = regexp.MustCompile(`\b(true|false|Unknown|<no value>)\b`)
)

func pageLang(t *testing.T, r resp) string {
	t.Helper()
	m := htmlLang.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("no <html lang>: %.300s", r.body)
	}
	return string(m[1])
}

func getLang(t *testing.T, c *http.Client, u, accept string) resp {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if accept != "" {
		req.Header.Set("Accept-Language", accept)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

// TestLanguageFromAcceptLanguage: the browser's preferences pick the page's
// language by q-value, a region falls back to its language, anything else
// to English; the answer says which, and that it varies.
func TestLanguageFromAcceptLanguage(t *testing.T) {
	n := start(t, web.Config{})
	for _, tc := range []struct{ accept, want string }{
		{"", "en"},
		{"fr-FR,fr;q=0.9,en;q=0.8", "fr"},
		{"en;q=0.3, de;q=0.9", "de"},
		{"it;q=0.1, es;q=0.6, nl;q=0.5", "es"},
		{"pt-BR,pt;q=0.9", "pt"},
		{"pt-BR", "pt"},
		{"nl-BE", "nl"},
		{"ja-JP,zh;q=0.8", "en"},
		{"x;;q=nonsense", "en"},
	} {
		r := getLang(t, http.DefaultClient, n.url+"/", tc.accept)
		if got := pageLang(t, r); got != tc.want || r.header.Get("Content-Language") != tc.want {
			t.Errorf("Accept-Language %q: page in %s (Content-Language %q), want %s", tc.accept, got, r.header.Get("Content-Language"), tc.want)
		}
		if v := strings.Join(r.header.Values("Vary"), ","); !strings.Contains(v, "Accept-Language") || !strings.Contains(v, "Cookie") {
			t.Errorf("Vary %q", v)
		}
	}
	// The words follow: a German browser gets the German form.
	r := getLang(t, http.DefaultClient, n.url+"/", "de-DE")
	if !strings.Contains(string(r.body), "Meldung senden") || strings.Contains(string(r.body), "Send report") {
		t.Errorf("German form:\n%s", r.body)
	}
}

// TestLanguageSwitcher: every public page links to itself in every
// language (no script: plain links), a choice is remembered in a cookie
// over the browser's preference, the form still posts (CSRF, CSP intact)
// and its answer comes in the chosen language; the desk's pages stay in
// English.
func TestLanguageSwitcher(t *testing.T) {
	n := start(t, web.Config{Mailbox: "report@desk.example.org"})
	c := browser(t)
	rec, err := n.desk.Submit(context.Background(), intake.Submission{Channel: intake.ChannelWeb, Raw: []byte(spamMsg), SubmittedBy: "web"})
	if err != nil {
		t.Fatal(err)
	}
	status := "/r/" + rec.Reports[0].ID + "?t=" + rec.Reports[0].StatusToken
	cat, _ := i18n.Load()
	for _, p := range []string{"/", status + "&new=1", status, "/rights", "/privacy", "/r/nope?t=nope"} {
		r := getLang(t, c, n.url+p, "fr")
		if pageLang(t, r) != "fr" {
			t.Errorf("%s: not in French", p)
		}
		links := switchRe.FindAllSubmatch(r.body, -1)
		if len(links) != len(cat.Languages()) {
			t.Errorf("%s: %d switcher links, want %d", p, len(links), len(cat.Languages()))
			continue
		}
		for _, l := range links {
			href, code, current := html.UnescapeString(string(l[1])), string(l[2]), len(l[3]) > 0
			if current != (code == "fr") {
				t.Errorf("%s: link to %s marked current=%v", p, code, current)
			}
			// The link is this page again, its query (a status link's
			// token) kept.
			want := strings.SplitN(p, "?", 2)[0]
			if !strings.HasPrefix(href, want+"?") || !strings.Contains(href, "lang="+code) {
				t.Errorf("%s: switcher link %q", p, href)
			}
			if i := strings.Index(p, "?t="); i >= 0 && !strings.Contains(href, strings.SplitN(p[i+1:], "&", 2)[0]) {
				t.Errorf("%s: switcher link %q loses the status token", p, href)
			}
		}
	}

	// Choosing Dutch: the page, and the next ones, are Dutch, whatever the
	// browser prefers.
	r := getLang(t, c, n.url+"/rights?lang=nl", "fr")
	if pageLang(t, r) != "nl" || !strings.Contains(r.header.Get("Set-Cookie"), "accord_lang=nl") {
		t.Fatalf("?lang=nl: page %s, Set-Cookie %q", pageLang(t, r), r.header.Get("Set-Cookie"))
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	r = getLang(t, c, n.url+"/", "fr")
	if pageLang(t, r) != "nl" {
		t.Errorf("the choice is not remembered: %s", pageLang(t, r))
	}
	// A language with no catalogue changes nothing.
	if r := getLang(t, c, n.url+"/privacy?lang=xx", "fr"); pageLang(t, r) != "nl" {
		t.Errorf("?lang=xx: %s", pageLang(t, r))
	}
	// The Dutch form posts, and its answer is Dutch.
	csrf := csrfRe.FindSubmatch(r.body)
	if csrf == nil {
		t.Fatal("no CSRF token on the form")
	}
	p := postForm(t, c, n.url+"/report", "", map[string]string{"csrf": string(csrf[1]), "source": spamMsg, "consent": "no"}, nil)
	if p.status != http.StatusSeeOther {
		t.Fatalf("post: %d %s", p.status, p.body)
	}
	r = getLang(t, c, n.url+p.header.Get("Location"), "fr")
	if pageLang(t, r) != "nl" || !strings.Contains(html.UnescapeString(string(r.body)), "Dank u wel: uw melding is opgeslagen.") {
		t.Errorf("result page in %s:\n%s", pageLang(t, r), r.body)
	}
	// A post without its token is still refused, in Dutch.
	if p := postForm(t, c, n.url+"/report", "", map[string]string{"source": spamMsg}, nil); p.status != 403 || !strings.Contains(string(p.body), "Formulier verlopen") {
		t.Errorf("no CSRF token: %d %s", p.status, p.body)
	}
	// The desk's sign-in page stays English, without a switcher.
	if r := getLang(t, c, n.url+"/login", "fr"); pageLang(t, r) != "en" || switchRe.Match(r.body) {
		t.Errorf("sign-in page in %s", pageLang(t, r))
	}
}

// TestPublicPagesInEveryLanguage renders each public page in each
// language: no message id shows instead of words, no raw value (true,
// false, <no value>), the complaints address on /rights.
func TestPublicPagesInEveryLanguage(t *testing.T) {
	n := start(t, web.Config{Mailbox: "report@desk.example.org"})
	rec, err := n.desk.Submit(context.Background(), intake.Submission{Channel: intake.ChannelWeb, Raw: []byte(spamMsg), SubmittedBy: "web"})
	if err != nil {
		t.Fatal(err)
	}
	status := "/r/" + rec.Reports[0].ID + "?t=" + rec.Reports[0].StatusToken
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	ids := cat.IDs()
	for _, lang := range cat.Languages() {
		c := browser(t)
		for _, p := range []string{"/", status + "&new=1", "/rights", "/privacy", "/r/nope?t=nope"} {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			r := getLang(t, c, n.url+p+sep+"lang="+lang, "")
			if pageLang(t, r) != lang {
				t.Errorf("%s %s: page in %s", lang, p, pageLang(t, r))
			}
			text := html.UnescapeString(tagRe.ReplaceAllString(preRe.ReplaceAllString(string(r.body), ""), " "))
			for _, id := range ids {
				// Ids are words_joined_so (a plain word may be a word).
				if strings.Contains(id, "_") && strings.Contains(text, id) {
					t.Errorf("%s %s: message id %s shown", lang, p, id)
				}
			}
			if m := rawBoolRe.FindString(text); m != "" {
				t.Errorf("%s %s: raw value %q on the page", lang, p, m)
			}
			if p == "/rights" && !strings.Contains(string(r.body), `<a id="mailbox" href="mailto:report@desk.example.org">report@desk.example.org</a>`) {
				t.Errorf("%s /rights: no complaints address", lang)
			}
			if p == "/" && !strings.Contains(text, cat.T(lang, "form_send", nil)) {
				t.Errorf("%s: the form's button is not %q", lang, cat.T(lang, "form_send", nil))
			}
		}
	}
}

// TestFloodAnswerInLanguage: the form's "wait" page speaks the person's
// language too.
func TestFloodAnswerInLanguage(t *testing.T) {
	lim := web.DefaultLimits()
	lim.FormPerIP = 1
	n := start(t, web.Config{Limits: &lim})
	c := browser(t)
	for i, want := range []int{403, 429} { // the first is refused for its missing token, and counts
		req, _ := http.NewRequest("POST", n.url+"/report", strings.NewReader("source=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept-Language", "it-IT,it;q=0.9")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("post %d: %d, want %d", i, res.StatusCode, want)
		}
		if want == 429 && (!strings.Contains(string(b), "Attenda un momento") || res.Header.Get("Retry-After") == "") {
			t.Errorf("429 page not in Italian or without Retry-After:\n%s", b)
		}
	}
}

// TestNodePageInPeoplesLanguage: /node, where a court or a partner reads
// the key fingerprint it compares, follows Accept-Language as the other
// public pages do.
func TestNodePageInPeoplesLanguage(t *testing.T) {
	n := start(t, web.Config{NodeKey: "MCowBQYDK2VwAyEAnodekeynodekeynodekeynodekeynodekey="})
	for accept, word := range map[string]string{"fr-FR": "Empreinte", "de": "Fingerabdruck", "": "Fingerprint", "nl": "Vingerafdruk"} {
		r := getLang(t, http.DefaultClient, n.url+"/node", accept)
		want := "en"
		if accept != "" {
			want = accept[:2]
		}
		if r.status != 200 || pageLang(t, r) != want || !strings.Contains(string(r.body), word) {
			t.Errorf("/node for %q: %d in %s, want %s with %q", accept, r.status, pageLang(t, r), want, word)
		}
	}
}
