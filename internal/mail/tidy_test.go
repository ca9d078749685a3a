package mail

import (
	"golang.org/x/text/encoding/charmap"
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

// TestASCIIDecodesToItself: for every single-byte charset toUTF8 passes
// ASCII text through, it is what the charset's decoder gives.
func TestASCIIDecodesToItself(t *testing.T) {
	var ascii []byte
	for c := 0; c < 0x80; c++ {
		ascii = append(ascii, byte(c))
	}
	fast := 0
	for _, enc := range charmap.All {
		cm, ok := enc.(*charmap.Charmap)
		if !ok {
			if asciiSafe(enc) {
				t.Errorf("%v, not a single-byte charmap, taken to read ASCII as ASCII", enc)
			}
			continue
		}
		out, err := cm.NewDecoder().Bytes(ascii)
		want := strings.ToValidUTF8(string(out), "\uFFFD")
		if asciiSafe(cm) {
			fast++
			if err != nil || want != string(ascii) {
				t.Errorf("%v is taken to read ASCII as ASCII, but decodes it as %q", cm, want)
			}
		} else if err == nil && want == string(ascii) {
			t.Errorf("%v reads ASCII as ASCII, but is not taken to", cm)
		}
	}
	if fast < 20 {
		t.Errorf("only %d charsets pass ASCII through", fast)
	}
	if asciiSafe(charmap.CodePage037) {
		t.Error("EBCDIC taken to read ASCII as ASCII")
	}
	for _, name := range []string{"iso-8859-1", "windows-1252", "koi8-r", "iso-2022-jp", "shift_jis", "utf-16", "gb2312", "iso-8859-15", "cp850", "ibm037"} {
		s, ok := toUTF8(name, []byte("Hello ~{ $B world\\"))
		enc := lookupCharset(name)
		out, err := enc.NewDecoder().Bytes([]byte("Hello ~{ $B world\\"))
		if want := strings.ToValidUTF8(string(out), "\uFFFD"); s != want || ok != (err == nil) {
			t.Errorf("%s: %q %v, want %q %v", name, s, ok, want, err == nil)
		}
	}
}
