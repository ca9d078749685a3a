package mail

import (
	"math/rand/v2"
	"net/mail"
	"strings"
	"testing"
)

func dateTexts() []string {
	texts := []string{"Sat, 28 Nov 2026 13:55:36 -0700", "Thu, 22 Aug 2002 18:26:25 +0100 (IST)",
		"Thu, 22 Aug 2002 18:26:25 +0100 (IST) (x)", "Thu, 22 Aug 2002 18:26:25 +0100 (IST", "Thu, 22 Aug 2002 18:26:25 +0100 junk",
		"Mon, 2 Jan 06 15:04:05 -0700", "Mon, 02 Jan 2006 15:04 -0700", "Sun, 1 Feb -200 01:02:03 +0000", "Sun, 1 Feb 2003 01:02:03 GMT",
		" Sun, 1 Feb 2003 01:02:03 +0000", "Sun, 1 Feb 2003 01:02:03 +0000\r\n", "Sun, 1 Feb 2003 01:02:03 +00", "Xyz, 1 Feb 2003 01:02:03 +0000",
		"Sun, 31 Feb 2003 01:02:03 +0000", "Sun, 1 Feb 2003 25:02:03 +0000", "Sun, 1 Feb 2003 01:02:03 +0000 (a\\)b)", "1 Feb 2003 01:02:03 +0000"}
	parts := []string{"Sat", "Mon", ",", " ", "  ", "\t", "28", "1", "001", "Nov", "2026", "02", "13:55:36", "13:55", ":", "-0700", "+0100", "-07",
		"(PDT)", "(", ")", "\\", "\r", "\n", "GMT", "UT", "T", "x"}
	r := rand.New(rand.NewPCG(9, 10))
	for n := 0; n < 5000; n++ {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteString("Sat, 28 Nov 2026 13:55:36 ")
		}
		for k := r.IntN(8); k >= 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

// parseDateCommon is a shortcut: where it answers, net/mail answers the same.
func TestParseDateCommonAsNetMail(t *testing.T) {
	hits := 0
	for _, s := range dateTexts() {
		got, ok := parseDateCommon(s)
		if !ok {
			continue
		}
		hits++
		want, err := mail.ParseDate(s)
		if err != nil || !got.Equal(want) || got.String() != want.String() {
			t.Fatalf("parseDateCommon(%q) = %v, net/mail: %v, %v", s, got, want, err)
		}
	}
	if hits < 30 {
		t.Fatalf("the shortcut answered for %d dates only", hits)
	}
}

func FuzzParseDateCommon(f *testing.F) {
	for _, s := range dateTexts()[:40] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, ok := parseDateCommon(s); ok {
			want, err := mail.ParseDate(s)
			if err != nil || !got.Equal(want) || got.String() != want.String() {
				t.Fatalf("parseDateCommon(%q) = %v, net/mail: %v, %v", s, got, want, err)
			}
		}
	})
}
