package stix

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/privacy"
)

// The patterns the node writes are checked against the STIX 2.1
// patterning grammar as OASIS publishes it (cti-stix2-json-schemas,
// pattern_grammar/STIXPattern.g4), for the part of it they use: one
// observation expression of comparisons joined by AND and OR, each an
// object path (type:property) compared by =, !=, LIKE or MATCHES (NOT
// allowed before the last two) with a string literal — a quote, then
// characters other than the quote and the backslash or one of the two
// escapes \' and \\, then a quote. Anything else is refused: the node
// writes nothing else. They are then evaluated as the OASIS reference
// matcher (cti-pattern-matcher) does: = compares exactly; LIKE matches
// the whole value, % any run of characters and _ any one, every other
// character itself (there is no escape); MATCHES searches the value with
// the regular expression.

type tok struct {
	kind string // "[", "]", "(", ")", ":", "id", "str", "op", "kw"
	text string // Identifier, operator or keyword (upper case), or the decoded string.
}

func lexPattern(p string) ([]tok, error) {
	var out []tok
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case strings.IndexByte("[]():", c) >= 0:
			out = append(out, tok{kind: string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; ; j++ {
				if j >= len(p) {
					return nil, fmt.Errorf("string literal at %d is not closed", i)
				}
				if p[j] == '\'' {
					break
				}
				if p[j] == '\\' {
					if j+1 < len(p) && (p[j+1] == '\'' || p[j+1] == '\\') {
						b.WriteByte(p[j+1])
						j++
						continue
					}
					return nil, fmt.Errorf("a backslash at %d escapes neither a quote nor a backslash", j)
				}
				b.WriteByte(p[j])
			}
			out = append(out, tok{kind: "str", text: b.String()})
			i = j + 1
		case c == '=':
			n := 1
			if strings.HasPrefix(p[i:], "==") {
				n = 2
			}
			out = append(out, tok{kind: "op", text: "="})
			i += n
		case strings.HasPrefix(p[i:], "!=") || strings.HasPrefix(p[i:], "<>"):
			out = append(out, tok{kind: "op", text: "!="})
			i += 2
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(p) && (p[j] == '_' || p[j] == '-' || p[j] >= 'a' && p[j] <= 'z' || p[j] >= 'A' && p[j] <= 'Z' || p[j] >= '0' && p[j] <= '9') {
				j++
			}
			w := p[i:j]
			switch u := strings.ToUpper(w); u {
			case "AND", "OR", "NOT", "LIKE", "MATCHES":
				out = append(out, tok{kind: "kw", text: u})
			default:
				out = append(out, tok{kind: "id", text: w})
			}
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return out, nil
}

// cmp is one comparison; expr a tree of them.
type expr struct {
	op          string // "AND", "OR", or "" for a comparison
	left, right *expr
	typ, prop   string
	test        string // "=", "!=", "LIKE", "MATCHES"
	not         bool
	value       string
}

type parser struct {
	toks []tok
	i    int
}

func (p *parser) peek() tok {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return tok{kind: "eof"}
}

func (p *parser) next() tok { t := p.peek(); p.i++; return t }

func (p *parser) expect(kind string) (tok, error) {
	t := p.next()
	if t.kind != kind {
		return t, fmt.Errorf("want %s, got %s %q", kind, t.kind, t.text)
	}
	return t, nil
}

// parsePattern parses one observation expression of the grammar's subset.
func parsePattern(s string) (*expr, error) {
	toks, err := lexPattern(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if _, err := p.expect("["); err != nil {
		return nil, err
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect("]"); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("trailing %s %q", t.kind, t.text)
	}
	return e, nil
}

func (p *parser) or() (*expr, error) {
	l, err := p.and()
	for err == nil && p.peek().kind == "kw" && p.peek().text == "OR" {
		p.next()
		var r *expr
		if r, err = p.and(); err == nil {
			l = &expr{op: "OR", left: l, right: r}
		}
	}
	return l, err
}

func (p *parser) and() (*expr, error) {
	l, err := p.prop()
	for err == nil && p.peek().kind == "kw" && p.peek().text == "AND" {
		p.next()
		var r *expr
		if r, err = p.prop(); err == nil {
			l = &expr{op: "AND", left: l, right: r}
		}
	}
	return l, err
}

func (p *parser) prop() (*expr, error) {
	if p.peek().kind == "(" {
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		_, err = p.expect(")")
		return e, err
	}
	typ, err := p.expect("id")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(":"); err != nil {
		return nil, err
	}
	prop, err := p.expect("id")
	if err != nil {
		return nil, err
	}
	e := &expr{typ: typ.text, prop: prop.text}
	t := p.next()
	if t.kind == "kw" && t.text == "NOT" {
		e.not = true
		t = p.next()
		if t.kind != "kw" || t.text != "LIKE" && t.text != "MATCHES" {
			return nil, fmt.Errorf("NOT before %s %q", t.kind, t.text)
		}
	}
	switch {
	case t.kind == "op", t.kind == "kw" && (t.text == "LIKE" || t.text == "MATCHES"):
		e.test = t.text
	default:
		return nil, fmt.Errorf("want a comparison operator, got %s %q", t.kind, t.text)
	}
	v, err := p.expect("str")
	if err != nil {
		return nil, err
	}
	e.value = v.text
	if e.test == "MATCHES" {
		if _, err := regexp.Compile(e.value); err != nil {
			return nil, fmt.Errorf("MATCHES %q: %w", e.value, err)
		}
	}
	return e, nil
}

// likeRegexp is a LIKE pattern as the reference matcher reads it.
func likeRegexp(like string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range like {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

// matches evaluates e against one observable of a type with a value.
func (e *expr) matches(typ, value string) bool {
	switch e.op {
	case "AND":
		return e.left.matches(typ, value) && e.right.matches(typ, value)
	case "OR":
		return e.left.matches(typ, value) || e.right.matches(typ, value)
	}
	if e.typ != typ || e.prop != "value" {
		return false
	}
	var ok bool
	switch e.test {
	case "=":
		ok = value == e.value
	case "!=":
		ok = value != e.value
	case "LIKE":
		ok = likeRegexp(e.value).MatchString(value)
	case "MATCHES":
		ok = regexp.MustCompile(e.value).MatchString(value)
	}
	return ok != e.not
}

func mustMatch(t *testing.T, pattern, value string, want bool) {
	t.Helper()
	e, err := parsePattern(pattern)
	if err != nil {
		t.Fatalf("%s is not a STIX 2.1 pattern: %v", pattern, err)
	}
	if got := e.matches("url", value); got != want {
		t.Errorf("%s on %q: %v, want %v", pattern, value, got, want)
	}
}

// TestURLPatternsSayWhatWasShared: a link the collector cut is shared as
// what begins the real links (which it matches, as the reference matcher
// reads the pattern); an uncut one stays exact; % and _ in a prefix are
// not wildcards.
func TestURLPatternsSayWhatWasShared(t *testing.T) {
	for _, c := range []struct {
		value, pattern string
		match, not     []string
	}{
		{"https://ci3.googleusercontent.com/proxy/", `[url:value LIKE 'https://ci3.googleusercontent.com/proxy/%']`,
			[]string{"https://ci3.googleusercontent.com/proxy/AVvXsEh3kJ8x9Qw2LmZr7TbYc0pNqRs=s0-d-e1-ft", "https://ci3.googleusercontent.com/proxy/"},
			[]string{"https://ci3.googleusercontent.com/other/x", "https://ci3.googleusercontent.com/proxy"}},
		{"https://pharma.example/offer.html", `[url:value = 'https://pharma.example/offer.html']`,
			[]string{"https://pharma.example/offer.html"}, []string{"https://pharma.example/offer.html/x", "https://pharma.example/offer.htm"}},
		{"https://pharma.example", `[url:value = 'https://pharma.example' OR url:value LIKE 'https://pharma.example/%']`,
			[]string{"https://pharma.example", "https://pharma.example/", "https://pharma.example/bob"},
			[]string{"https://pharma.example.attacker.example/", "https://pharma.examplex/"}},
		{"https://x.example/a%20b/", `[url:value MATCHES '^https://x\\.example/a%20b/']`,
			[]string{"https://x.example/a%20b/c"}, []string{"https://x.example/aXXXb/c", "https://x.example/a%20bc"}},
		{"https://x.example/my_list/", `[url:value MATCHES '^https://x\\.example/my_list/']`,
			[]string{"https://x.example/my_list/9f8e7d6c5b4a"}, []string{"https://x.example/myXlist/9f8e7d6c5b4a", "https://xzexample/my_list/"}},
		{`https://x.example/it's\here/`, `[url:value LIKE 'https://x.example/it\'s\\here/%']`,
			[]string{`https://x.example/it's\here/abc`}, []string{`https://x.example/its\here/abc`}},
		{"https://x.example/p?q=1", `[url:value = 'https://x.example/p?q=1']`, []string{"https://x.example/p?q=1"}, []string{"https://x.example/p?q=12"}},
	} {
		p := URLPattern(c.value)
		if p != c.pattern {
			t.Errorf("%s: %s, want %s", c.value, p, c.pattern)
			continue
		}
		mustMatch(t, p, c.value, true)
		for _, v := range c.match {
			mustMatch(t, p, v, true)
		}
		for _, v := range c.not {
			mustMatch(t, p, v, false)
		}
	}
}

// TestCutLinksMatchTheirIndicator runs real links through the collector's
// generalisation (privacy.People.URL) and checks that the indicator of
// what it shares matches the real link when only the path was cut —
// which the exact pattern never did.
func TestCutLinksMatchTheirIndicator(t *testing.T) {
	people := privacy.New([]string{"bob.durand@example.fr"}, []string{"Bob Durand"})
	for _, raw := range []string{
		"https://ci3.googleusercontent.com/proxy/AVvXsEh3kJ8x9Qw2LmZr7TbYc0pNqRsT1uV2wX3yZ4=s0-d-e1-ft",
		"https://track.pharma-mailer.example/c/bob.durand/offer",
		"https://track.pharma-mailer.example/u/8f14e45fceea167a5a36dedd4bea2543/win",
		"https://pharma.example/promo/bob-durand/",
	} {
		g, ok := people.URL(raw)
		if !ok {
			t.Fatalf("%s: not shared", raw)
		}
		if g == raw {
			t.Fatalf("%s was not cut: the test shows nothing", raw)
		}
		if strings.Contains(strings.ToLower(g), "bob") {
			t.Fatalf("%s shared as %s", raw, g)
		}
		p := URLPattern(g)
		mustMatch(t, p, raw, true)
		if strings.Contains(p, " = ") && !strings.Contains(p, " OR ") {
			t.Errorf("%s (cut to %s) is published as an exact pattern: %s", raw, g, p)
		}
		mustMatch(t, exactPattern("url", g), raw, false) // What was published before.
	}
}

// TestURLIndicatorObject: the indicator of a cut link carries the prefix
// pattern and says so in its name; its slot hash changes with the pattern
// so that an indicator published exact before gets a new version once.
func TestURLIndicatorObject(t *testing.T) {
	body, _ := json.Marshal(map[string]any{"type": "url", "value": "https://ci3.googleusercontent.com/proxy/", "reports": 3,
		"first_seen": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	it := federation.Item{Key: "ind:url:https://ci3.googleusercontent.com/proxy/", Kind: federation.KindIndicators, TLP: federation.TLPGreen, Body: body, Hash: "h"}
	m := &Mapper{Identity: "identity--00000000-0000-4000-8000-000000000001"}
	objs, err := m.Objects(it, &refs{bySlot: map[string]*federation.FeedObject{}, now: time.Now(), fresh: map[string]bool{}})
	if err != nil {
		t.Fatal(err)
	}
	if objs[1]["pattern"] != `[url:value LIKE 'https://ci3.googleusercontent.com/proxy/%']` || !strings.Contains(objs[1]["name"].(string), "under") {
		t.Errorf("indicator %v", objs[1])
	}
	if slotHash(it, SlotIndicator) == it.Hash || slotHash(it, SlotRelationship) != it.Hash {
		t.Errorf("slot hashes: %s %s", slotHash(it, SlotIndicator), slotHash(it, SlotRelationship))
	}
	exact := it
	exact.Key, exact.Body = "ind:url:https://pharma.example/offer.html", []byte(`{"type":"url","value":"https://pharma.example/offer.html"}`)
	if slotHash(exact, SlotIndicator) != exact.Hash {
		t.Errorf("an exact url indicator's hash changed: its indicator would get a new version for nothing")
	}
}

// FuzzURLPattern: whatever a spam's link generalises to, its pattern is
// one the grammar accepts, matches the value itself, and — when it is a
// prefix — every link that begins with it; an exact one matches nothing
// longer.
func FuzzURLPattern(f *testing.F) {
	for _, s := range []string{"https://ci3.googleusercontent.com/proxy/", "https://pharma.example", "https://x.example/a%20b/", "https://x.example/my_list/",
		`https://x.example/it's\here/`, "https://x.example/p?q=1", "http://[::1]:8080/", "ftp://h/%_%'\\/", "https://h/a#b/"} {
		f.Add(s, "tail")
	}
	f.Fuzz(func(t *testing.T, v, tail string) {
		if !utf8.ValidString(v) || !utf8.ValidString(tail) {
			return
		}
		p := URLPattern(v)
		e, err := parsePattern(p)
		if err != nil {
			t.Fatalf("%q: %s is not a STIX 2.1 pattern: %v", v, p, err)
		}
		if !e.matches("url", v) {
			t.Fatalf("%q: %s does not match the value", v, p)
		}
		switch {
		case p == exactPattern("url", v):
			if tail != "" && e.matches("url", v+tail) {
				t.Fatalf("%q: the exact %s matches %q", v, p, v+tail)
			}
		case strings.HasSuffix(v, "/"):
			if !e.matches("url", v+tail) {
				t.Fatalf("%q: the prefix %s does not match %q", v, p, v+tail)
			}
		default:
			if !e.matches("url", v+"/"+tail) || tail != "" && !strings.HasPrefix(tail, "/") && e.matches("url", v+tail) {
				t.Fatalf("%q: the host pattern %s on %q", v, p, tail)
			}
		}
	})
}
