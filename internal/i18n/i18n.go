// Package i18n holds the node's message catalogues (go-i18n) and picks a
// person's language. The catalogues are data, one TOML file per language
// in locales/, embedded in the binary: a language is added by adding its
// file, with no code change. The mails the node sends and the public web
// pages share them.
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed locales/*.toml
var locales embed.FS

// Catalogue is every language's messages. It is read-only once built and
// safe for concurrent use.
type Catalogue struct {
	bundle  *i18n.Bundle
	tags    []language.Tag
	matcher language.Matcher
	ids     map[string][]string // message ids per language
	mu      sync.Mutex
	locs    map[string]*i18n.Localizer
}

// Default is the fallback language, whose catalogue is complete.
const Default = "en"

// Load reads the embedded catalogues.
func Load() (*Catalogue, error) { return LoadFS(locales, "locales") }

// LoadFS reads catalogues (LANG.toml) from a directory of fsys.
func LoadFS(fsys fs.FS, dir string) (*Catalogue, error) {
	b := i18n.NewBundle(language.MustParse(Default))
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	names, err := fs.Glob(fsys, path.Join(dir, "*.toml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var tags []language.Tag
	ids := map[string][]string{}
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		f, err := b.ParseMessageFileBytes(data, path.Base(n))
		if err != nil {
			return nil, fmt.Errorf("i18n: catalogue %s: %w", n, err)
		}
		tags = append(tags, f.Tag)
		for _, m := range f.Messages {
			ids[f.Tag.String()] = append(ids[f.Tag.String()], m.ID)
		}
	}
	// The default language first: the matcher falls back to it.
	sort.SliceStable(tags, func(i, j int) bool { return tags[i] == language.MustParse(Default) && tags[j] != tags[i] })
	if len(tags) == 0 || tags[0] != language.MustParse(Default) {
		return nil, fmt.Errorf("i18n: no %s catalogue", Default)
	}
	return &Catalogue{bundle: b, tags: tags, matcher: language.NewMatcher(tags), ids: ids, locs: map[string]*i18n.Localizer{}}, nil
}

// Languages lists the catalogues' languages, the default first.
func (c *Catalogue) Languages() []string {
	out := make([]string, len(c.tags))
	for i, t := range c.tags {
		out[i] = t.String()
	}
	return out
}

// Has says whether lang is exactly one of the catalogues' languages.
func (c *Catalogue) Has(lang string) bool {
	for _, t := range c.tags {
		if t.String() == lang {
			return true
		}
	}
	return false
}

// Match picks the best catalogue for what a person asked for: an
// Accept-Language value, a Content-Language value, or plain tags, in order
// of preference. Anything unreadable falls back to the default.
func (c *Catalogue) Match(prefs ...string) string {
	var want []language.Tag
	for _, p := range prefs {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if tags, _, err := language.ParseAcceptLanguage(p); err == nil {
			want = append(want, tags...)
		}
	}
	if len(want) == 0 {
		return Default
	}
	_, i, conf := c.matcher.Match(want...)
	if conf == language.No {
		return Default
	}
	return c.tags[i].String()
}

// T returns message id in lang with data filled in ({{.Name}}); a message
// missing in lang falls back to the default language, and the plural
// form follows data["Count"] when given.
func (c *Catalogue) T(lang, id string, data map[string]any) string {
	c.mu.Lock()
	l := c.locs[lang]
	if l == nil {
		l = i18n.NewLocalizer(c.bundle, lang, Default)
		c.locs[lang] = l
	}
	c.mu.Unlock()
	lc := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if n, ok := data["Count"]; ok {
		lc.PluralCount = n // plural forms follow .Count
	}
	s, err := l.Localize(lc)
	if err != nil && s == "" {
		return id
	}
	return s
}

// IDs lists the default language's message ids, sorted.
func (c *Catalogue) IDs() []string {
	out := append([]string(nil), c.ids[Default]...)
	sort.Strings(out)
	return out
}

// Missing lists, per language, the default language's message ids that
// the language lacks (a completeness check for tests and translators).
func (c *Catalogue) Missing() map[string][]string {
	out := map[string][]string{}
	for _, t := range c.tags[1:] {
		have := map[string]bool{}
		for _, id := range c.ids[t.String()] {
			have[id] = true
		}
		for _, id := range c.ids[Default] {
			if !have[id] {
				out[t.String()] = append(out[t.String()], id)
			}
		}
		sort.Strings(out[t.String()])
	}
	return out
}
