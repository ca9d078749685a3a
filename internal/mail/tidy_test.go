package mail

import (
	"strings"
	"testing"
)

// tidyByFields is the tidyText that split the text into lines and each
// line into words (strings.Split, strings.Fields, strings.Join), kept to
// show that the one-pass version gives the same text.
func tidyByFields(s string) string {
	var b strings.Builder
	blank := 0
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(strings.ReplaceAll(line, "\u00a0", " "))
		if len(f) == 0 {
			blank++
			if blank == 1 && b.Len() > 0 {
				b.WriteByte('\n')
			}
			continue
		}
		blank = 0
		b.WriteString(strings.Join(f, " "))
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}

func TestTidyTextAsFields(t *testing.T) {
	texts := append(tokenTexts(), "a\n\n\nb", "\n\n a \n", "x\u00a0\u00a0y\n\u2003\nz", "\xc2\n\xa0", "a \r\n b")
	for _, text := range texts {
		if got, want := tidyText(text), tidyByFields(text); got != want {
			t.Fatalf("tidyText(%q) = %q, want %q", text, got, want)
		}
		if got, want := oneSpaced(text), strings.Join(strings.Fields(text), " "); got != want {
			t.Fatalf("oneSpaced(%q) = %q, want %q", text, got, want)
		}
	}
}

func FuzzTidyText(f *testing.F) {
	for _, s := range tokenTexts()[:30] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := tidyText(text), tidyByFields(text); got != want {
			t.Fatalf("tidyText(%q) = %q, want %q", text, got, want)
		}
		if got, want := oneSpaced(text), strings.Join(strings.Fields(text), " "); got != want {
			t.Fatalf("oneSpaced(%q) = %q, want %q", text, got, want)
		}
	})
}

func TestLowerJoinedAsToLower(t *testing.T) {
	texts := append(tokenTexts(), "ÀÉÎ Straße İstanbul ΣΑΣ", "\xff\xfeAB", "\xe2\x80", "\xef\xbf\xbd", "ǅ Ǆ ǆ", "K Kelvin", "MIXED case ÄÖÜ")
	for i, a := range texts {
		b := texts[(i*7+3)%len(texts)]
		if got, want := lowerJoined(a, b), strings.ToLower(a+"\n"+b); got != want {
			t.Fatalf("lowerJoined(%q, %q) = %q, want %q", a, b, got, want)
		}
	}
}

func FuzzLowerJoined(f *testing.F) {
	for _, s := range tokenTexts()[:30] {
		f.Add(s, "Ä\xff")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := lowerJoined(a, b), strings.ToLower(a+"\n"+b); got != want {
			t.Fatalf("lowerJoined(%q, %q) = %q, want %q", a, b, got, want)
		}
	})
}
