package mail

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// tokensByFields is the split tokens replaced (strings.FieldsFunc, then
// the same trimming and filter), kept to show that both cut text alike.
func tokensByFields(text string) []string {
	f := strings.FieldsFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' || r == '\'' || r == '`' || r == '|' || r == '\u00a0'
	})
	var out []string
	for _, t := range f {
		t = strings.TrimRight(t, ".,;:!?)]}*")
		t = strings.TrimLeft(t, "([{*")
		if len(t) >= 4 && strings.Contains(t, ".") {
			out = append(out, t)
		}
	}
	return out
}

func tokenTexts() []string {
	parts := []string{"http://a.example/x", "www.example.com", "(see", "example.org).", "a.b", "x", "*", ".",
		" ", "\t", "\n", "\v", "\u00a0", "\u0085", "\u2003", "\u3000", "é", "\xff", "\xc2", "<", ">", "\"", "'", "`", "|", "…"}
	r := rand.New(rand.NewPCG(3, 4))
	texts := []string{"", " ", "a.bc", "\xc2\xa0www.x.y\xc2"}
	for n := 0; n < 2000; n++ {
		var b strings.Builder
		for k := r.IntN(16); k >= 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

func TestTokensCutAsFieldsFunc(t *testing.T) {
	for _, text := range tokenTexts() {
		if got, want := tokens(text), tokensByFields(text); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("tokens(%q) = %q, want %q", text, got, want)
		}
	}
}

func FuzzTokens(f *testing.F) {
	for _, s := range tokenTexts()[:30] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := tokens(text), tokensByFields(text); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("tokens(%q) = %q, want %q", text, got, want)
		}
	})
}
