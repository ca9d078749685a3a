package analysis

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

func reasonCodes(v *Verdict) []ReasonCode {
	var out []ReasonCode
	for _, r := range v.Reasons {
		out = append(out, r.Code)
	}
	return out
}

// An image with a line of text is image-only; the same image beside a
// paragraph, or a text without images, is not.
func TestImageOnly(t *testing.T) {
	a := analyzer(t, nil)
	head := "From: Shop <s@shop.example>\r\nTo: ana@example.org\r\nSubject: offer\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <i1@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	para := strings.Repeat("The committee met on Tuesday and agreed the budget for next year. ", 4)
	for _, c := range []struct {
		name, body string
		want       bool
	}{
		{"an image and a line", `<html><body><a href="http://shop.example/"><img src="http://shop.example/offer.gif" alt="Best prices"></a><p>Click the picture above</p></body></html>`, true},
		{"an image alone", `<img src="http://shop.example/offer.gif">`, true},
		{"an image beside a paragraph", `<p>` + para + `</p><img src="http://shop.example/logo.gif">`, false},
		{"a line without an image", `<p>Click here</p>`, false},
		{"an image and a paragraph of another script", `<img src="http://shop.example/a.gif"><p>` + strings.Repeat("Комитет собрался во вторник и утвердил бюджет. ", 6) + `</p>`, false},
	} {
		v, err := a.Analyze(context.Background(), Input{Source: c.name, Message: mail.ParseBytes([]byte(head+c.body+"\r\n"), mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(reasonCodes(v), ReasonImageOnly); got != c.want {
			t.Errorf("%s: image-only %v, want %v (reasons %v)", c.name, got, c.want, reasonCodes(v))
		}
	}
}

// wordsReference counts fewWords's words the plain way: the texts split
// at every byte that is not an ASCII letter or a non-ASCII byte.
func wordsReference(a, b string) int {
	n := 0
	for _, s := range []string{a, b} {
		for _, w := range strings.FieldsFunc(s, func(r rune) bool {
			return r < 0x80 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			if len(w) >= 3 {
				n++
			}
		}
	}
	return n
}

func FuzzFewWords(f *testing.F) {
	f.Add("Click the picture", "above, now", 3)
	f.Add("été là", "Привет мир", 2)
	f.Add("", "", 1)
	f.Fuzz(func(t *testing.T, a, b string, n int) {
		if n <= 0 || n > 1000 {
			return
		}
		if got, want := fewWords(a, b, n), wordsReference(a, b) < n; got != want {
			t.Fatalf("fewWords(%q, %q, %d) = %v, the plain count says %v", a, b, n, got, want)
		}
	})
}

// BenchmarkFewWords is the image-only check's work on a message with
// images: a line beside the picture (read to its end) and a newsletter's
// text (read to its 30th word).
func BenchmarkFewWords(b *testing.B) {
	line := "Click the picture above to see our prices"
	long := strings.Repeat("The committee met on Tuesday and agreed the budget for next year. ", 200)
	b.Run("line", func(b *testing.B) {
		for b.Loop() {
			fewWords(line, "", imageOnlyWords)
		}
	})
	b.Run("newsletter", func(b *testing.B) {
		for b.Loop() {
			fewWords("", long, imageOnlyWords)
		}
	})
}
