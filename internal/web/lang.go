package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/accord-antispam/accord/internal/i18n"
	"github.com/accord-antispam/accord/internal/rules"
)

// langCookie remembers the language a person chose with the switcher.
const langCookie = "accord_lang"

// langChoice is one link of the language switcher.
type langChoice struct {
	Code    string // BCP 47 tag of the catalogue: "fr".
	Name    string // The language's name in itself: "Français".
	URL     string // This page again, in that language.
	Current bool
}

// translations builds one template set per catalogue language: the same
// parsed pages, with t, th and country bound to that language. Cloning
// before the first execution is what html/template allows.
func translations(base *template.Template, cat *i18n.Catalogue) (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, lang := range cat.Languages() {
		c, err := base.Clone()
		if err != nil {
			return nil, err
		}
		out[lang] = c.Funcs(langFuncs(cat, lang))
	}
	return out, nil
}

// langFuncs are the template functions that speak lang:
//
//	{{t "id" "Key" value …}}   a message as text (html/template escapes it)
//	{{th "id_html" "Key" value …}} a message whose catalogue text holds
//	                             markup (links, emphasis); string values
//	                             are escaped before they are filled in
//	{{country "FR"}}           a region's name in lang
func langFuncs(cat *i18n.Catalogue, lang string) template.FuncMap {
	regions := display.Regions(language.Make(lang))
	return template.FuncMap{
		"t": func(id string, kv ...any) string { return cat.T(lang, id, pairs(kv, false)) },
		"th": func(id string, kv ...any) template.HTML {
			return template.HTML(cat.T(lang, id, pairs(kv, true))) // #nosec: the catalogues are the project's own text; values are escaped
		},
		"country": func(code string) string {
			r, err := language.ParseRegion(code)
			if err != nil {
				return code
			}
			if n := regions.Name(r); n != "" {
				return n
			}
			return code
		},
		"lang": func() string { return lang },
		// plain is a three-valued finding in words.
		"plain": func(t rules.Tri) string {
			switch t {
			case rules.True:
				return cat.T(lang, "tri_yes", nil)
			case rules.False:
				return cat.T(lang, "tri_no", nil)
			}
			return cat.T(lang, "tri_unknown", nil)
		},
		// ruleWords says what a rule's status means.
		"ruleWords": func(s rules.Status) string {
			switch s {
			case rules.StatusBreach:
				return cat.T(lang, "rule_breach", nil)
			case rules.StatusOK:
				return cat.T(lang, "rule_ok", nil)
			}
			return cat.T(lang, "rule_maybe", nil)
		},
	}
}

// pairs turns template arguments "Key", value, … into a message's data;
// escape HTML-escapes string values for th.
func pairs(kv []any, escape bool) map[string]any {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k := fmt.Sprint(kv[i])
		v := kv[i+1]
		if escape {
			switch x := v.(type) {
			case string:
				v = template.HTMLEscapeString(x)
			case template.HTML:
				v = string(x)
			}
		}
		m[k] = v
	}
	return m
}

// language picks the language of a public page: ?lang= (a switcher link;
// remembered in a cookie), else the remembered choice, else the browser's
// Accept-Language, else English. It returns the switcher's links, each
// this page's address with its query kept and lang set.
func (s *Server) language(w http.ResponseWriter, r *http.Request) (string, []langChoice) {
	w.Header().Add("Vary", "Accept-Language, Cookie")
	lang := ""
	if q := r.URL.Query().Get("lang"); q != "" && s.cat.Has(q) {
		lang = q
		// A preference, not a credential: readable across the site, sent
		// when a person follows a link from elsewhere (Lax), and harmless if
		// another site sets it.
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: q, Path: "/", MaxAge: int((365 * 24 * time.Hour).Seconds()),
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.SecureCookies})
	} else if c, err := r.Cookie(langCookie); err == nil && s.cat.Has(c.Value) {
		lang = c.Value
	} else {
		lang = s.cat.Match(r.Header.Get("Accept-Language"))
	}
	w.Header().Set("Content-Language", lang)
	var out []langChoice
	for _, l := range s.cat.Languages() {
		q := r.URL.Query()
		q.Set("lang", l)
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		out = append(out, langChoice{Code: l, Name: s.cat.T(l, "language_name", nil), URL: u.String(), Current: l == lang})
	}
	return lang, out
}

// public starts a public page's data in the person's language, with the
// switcher. Pages of the desk stay in English: their data and the
// analysts' vocabulary are.
func (s *Server) public(w http.ResponseWriter, r *http.Request) pageData {
	lang, langs := s.language(w, r)
	return pageData{Lang: lang, Langs: langs}
}

// tr is a message in lang, for titles and messages set in handlers.
func (s *Server) tr(lang, id string, kv ...any) string { return s.cat.T(lang, id, pairs(kv, false)) }

// publicMessage is a public page that says one thing, in the person's
// language.
func (s *Server) publicMessage(w http.ResponseWriter, r *http.Request, status int, titleID, msgID string) {
	d := s.public(w, r)
	d.Title, d.Message = s.tr(d.Lang, titleID), s.tr(d.Lang, msgID)
	s.page(w, status, "message", d)
}
