package i18n

import (
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// The languages the public pages and the reporters' mails promise.
var promised = []string{"de", "en", "es", "fr", "it", "nl", "pt"}

var (
	placeholder = regexp.MustCompile(`{{\s*\.(\w+)\s*}}`)
	markup      = regexp.MustCompile(`</?[a-z]+|\b(?:id|href)="[^"{]*`)
)

type message map[string]string // plural form (one, other…) → text

// readCatalogues reads every locales/*.toml as data, apart from go-i18n,
// so that what is compared is what translators wrote.
func readCatalogues(t *testing.T, fsys fs.FS) map[string]map[string]message {
	t.Helper()
	names, err := fs.Glob(fsys, "locales/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]message{}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]map[string]string
		if err := toml.Unmarshal(b, &raw); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		msgs := map[string]message{}
		for id, forms := range raw {
			m := message{}
			for k, v := range forms {
				if k != "description" && k != "hash" {
					m[k] = v
				}
			}
			msgs[id] = m
		}
		out[strings.TrimSuffix(path.Base(n), ".toml")] = msgs
	}
	return out
}

func names(re *regexp.Regexp, s string, group int) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[group])
	}
	return out
}

func set(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// checkCatalogues lists what is wrong with the catalogues against en:
// a missing id, an id en does not have, a message without its "other"
// form, a placeholder lost or invented, markup that differs.
func checkCatalogues(cats map[string]map[string]message) []string {
	en := cats[Default]
	var problems []string
	for lang, msgs := range cats {
		for id, want := range en {
			got, ok := msgs[id]
			if !ok {
				problems = append(problems, lang+": missing "+id)
				continue
			}
			if got["other"] == "" {
				problems = append(problems, lang+": "+id+" has no other form")
				continue
			}
			// Every form says the same things: the other form names
			// every placeholder of en's other form (one may omit Count:
			// "one message" needs no number), and no form names one en
			// does not fill in.
			enAll := map[string]bool{}
			for _, v := range want {
				for _, p := range names(placeholder, v, 1) {
					enAll[p] = true
				}
			}
			if w, g := set(names(placeholder, want["other"], 1)), set(names(placeholder, got["other"], 1)); !reflect.DeepEqual(w, g) {
				problems = append(problems, lang+": "+id+": placeholders "+strings.Join(g, ",")+", want "+strings.Join(w, ","))
			}
			for form, v := range got {
				for _, p := range names(placeholder, v, 1) {
					if !enAll[p] {
						problems = append(problems, lang+": "+id+" ("+form+"): unknown placeholder "+p)
					}
				}
				if strings.HasSuffix(id, "_html") {
					if w, g := strings.Join(names(markup, want["other"], 0), " "), strings.Join(names(markup, v, 0), " "); w != g {
						problems = append(problems, lang+": "+id+" ("+form+"): markup "+g+", want "+w)
					}
				}
			}
		}
		for id := range msgs {
			if _, ok := en[id]; !ok {
				problems = append(problems, lang+": "+id+" is not in "+Default)
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// TestEveryCatalogueComplete: every promised language has every message of
// the English catalogue, with the same placeholders and markup.
func TestEveryCatalogueComplete(t *testing.T) {
	cats := readCatalogues(t, locales)
	var langs []string
	for l := range cats {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	if !reflect.DeepEqual(langs, promised) {
		t.Errorf("catalogues %v, want %v", langs, promised)
	}
	if len(cats[Default]) < 100 {
		t.Fatalf("the English catalogue has %d messages", len(cats[Default]))
	}
	for _, p := range checkCatalogues(cats) {
		t.Error(p)
	}
	// And go-i18n reads them all, and speaks each language.
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range promised {
		if l != Default && c.T(l, "form_title", nil) == c.T(Default, "form_title", nil) {
			t.Errorf("%s: the form's title is the English one", l)
		}
	}
}

// TestCheckCataloguesFinds: the check above catches each kind of fault.
func TestCheckCataloguesFinds(t *testing.T) {
	en := map[string]message{
		"a":      {"other": "Hello {{.Name}}"},
		"n":      {"one": "one report", "other": "{{.Count}} reports"},
		"x_html": {"other": `go to <a href="/">the form</a>`},
	}
	for _, tc := range []struct {
		xx   map[string]message
		want []string
	}{
		{map[string]message{"n": {"other": "{{.Count}}"}, "x_html": {"other": `<a href="/">x</a>`}}, []string{"xx: missing a"}},
		{map[string]message{"a": {"other": "Bonjour"}, "n": {"other": "{{.Count}}"}, "x_html": {"other": `<a href="/">x</a>`}}, []string{"xx: a: placeholders , want Name"}},
		{map[string]message{"a": {"other": "Bonjour {{.Nom}}"}, "n": {"other": "{{.Count}}"}, "x_html": {"other": `<a href="/">x</a>`}}, []string{"xx: a (other): unknown placeholder Nom", "xx: a: placeholders Nom, want Name"}},
		{map[string]message{"a": {"other": "{{.Name}}"}, "n": {"other": "{{.Count}}"}, "x_html": {"other": `<a href="/x">x</a>`}}, []string{`xx: x_html (other): markup <a href="/x </a, want <a href="/ </a`}},
		{map[string]message{"a": {"other": "{{.Name}}"}, "n": {"one": "un"}, "x_html": {"other": `<a href="/">x</a>`}}, []string{"xx: n has no other form"}},
		{map[string]message{"a": {"other": "{{.Name}}"}, "n": {"other": "{{.Count}}"}, "x_html": {"other": `<a href="/">x</a>`}, "b": {"other": "?"}}, []string{"xx: b is not in en"}},
	} {
		got := checkCatalogues(map[string]map[string]message{"en": en, "xx": tc.xx})
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("problems %q, want %q", got, tc.want)
		}
	}
	if got := checkCatalogues(map[string]map[string]message{"en": en, "xx": {"a": {"other": "Salut {{.Name}}"}, "n": {"one": "un", "other": "{{.Count}}"}, "x_html": {"other": `<a href="/">le formulaire</a>`}}}); len(got) != 0 {
		t.Errorf("a good catalogue: %q", got)
	}
}
