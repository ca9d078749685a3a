package trace

import (
	"math/rand/v2"
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
