package trace

import (
	"math/rand/v2"
	"path"
	"strings"
	"testing"
)

func spacedTexts() []string {
	parts := []string{"from", "mx.example.com", "(", "[192.0.2.1])", ";", " ", "  ", "\t", "\r\n", "\n\t", "\v", "\f",
		"\u0085", "\u00a0", "\u2003", "\u3000", "é", "\xff", "\xc2", "\xe2\x80"}
	r := rand.New(rand.NewPCG(13, 14))
	texts := []string{"", " ", "a", " a", "a ", "a  b", "a b", "a\tb", "a\u00a0b"}
	for n := 0; n < 5000; n++ {
		var b strings.Builder
		for k := r.IntN(10); k >= 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

func TestOneSpacedAsJoinFields(t *testing.T) {
	for _, s := range spacedTexts() {
		if got, want := oneSpaced(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("oneSpaced(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzOneSpaced(f *testing.F) {
	for _, s := range spacedTexts()[:30] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := oneSpaced(s), strings.Join(strings.Fields(s), " "); got != want {
			t.Fatalf("oneSpaced(%q) = %q, want %q", s, got, want)
		}
	})
}

// matchByPath is matchAny without its look at the literal ends first.
func matchByPath(pats []string, s string) bool {
	for _, p := range pats {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

var globSeeds = [][2]string{{"*.mail.protection.outlook.com", "co1.mail.protection.outlook.com"}, {"mta*.mail.*.yahoo.com", "mta6.mail.gq1.yahoo.com"},
	{"mx*.mail.icloud.com", "mx.mail.icloud.com"}, {"a*a", "a"}, {"[", "["}, {`a\*b`, "a*b"}, {"a]b", "a]b"}, {"*", ""}, {"?x", "x"},
	{"mx.google.com", "mx.google.com"}, {"[a-c]x*", "bxyz"}, {`\`, `\`}, {"*mxfront*.yandex.net", "mxfront1.yandex.net"}}

func TestMatchAnyAsPathMatch(t *testing.T) {
	for _, g := range globSeeds {
		if got, want := matchAny([]string{g[0]}, g[1]), matchByPath([]string{g[0]}, g[1]); got != want {
			t.Errorf("matchAny(%q, %q) = %v, want %v", g[0], g[1], got, want)
		}
	}
}

func FuzzMatchAny(f *testing.F) {
	for _, g := range globSeeds {
		f.Add(g[0], g[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if got, want := matchAny([]string{p}, s), matchByPath([]string{p}, s); got != want {
			t.Fatalf("matchAny(%q, %q) = %v, want %v", p, s, got, want)
		}
	})
}
