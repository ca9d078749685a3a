package mail

import (
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// A hash-buster's padding where no reader sees it: the shapes seen in spam
// of 2009–2010 (a style sheet of encyclopaedia words, an anchor named with
// a sentence), against what real mail puts in those places.
func TestHiddenProse(t *testing.T) {
	salad := "Antarctic the humans course for experienced burning unprecedented next sunlight climate like never all whale burning of and to are Peninsula of Antarctic far worse began the began changes several speed of today"
	for _, c := range []struct {
		name, html string
		want       bool
	}{
		{"style of words", "<html><body><style>" + salad + "</style><a href=http://x.example>buy</a></body></html>", true},
		{"style of words in the head", "<html><head><style type=\"text/css\">\n" + salad + "\n</style></head><body>hi</body></html>", true},
		{"anchor named with a sentence", `<p><a name="located state players population first" href="http://x.example/">click here</a></p>`, true},
		{"real CSS", "<style>a {color:#666667; text-decoration:underline}\na:hover {color:#a6a6a7; text-decoration:none }\nbody, td, th { font-family: Arial, Helvetica, sans-serif; font-size: 11px; line-height: 1.4 }</style><p>hi</p>", false},
		{"CSS with a licence in a comment", "<style>/* " + salad + " */ p { margin: 0 } td { padding: 2px }</style>hi", false},
		{"CSS inside an HTML comment, the old way", "<style><!--\n.x { color: red; font-weight: bold; text-decoration: none; }\n.y { border: 1px solid #ccc; background-color: #fff; }\n--></style>", false},
		{"the same words as the body's text", "<p>" + salad + "</p>", false},
		{"fragment targets", `<a name="top"></a><a name="_Toc123456"></a><a name="section 2"></a><a name="ref 1 2"></a>`, false},
		{"a short style", "<style>hello world</style>", false},
	} {
		_, _, info := htmlToText(c.html)
		if info.HiddenProse != c.want {
			t.Errorf("%s: hidden prose %v, want %v", c.name, info.HiddenProse, c.want)
		}
	}
}

var (
	cssComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	asciiWord  = regexp.MustCompile(`[A-Za-z]{3,}`)
)

// proseReference is proseNotCSS written the plain way: comments cut out
// with a regular expression (an unclosed one cuts the rest), words and
// marks counted by another.
func proseReference(s string) bool {
	s = cssComment.ReplaceAllString(s, " ")
	if i := strings.Index(s, "/*"); i >= 0 {
		s = s[:i]
	}
	words := len(asciiWord.FindAllString(s, -1))
	marks := strings.Count(s, "{") + strings.Count(s, "}") + strings.Count(s, ";") + strings.Count(s, ":")
	return words >= 20 && marks*10 < words
}

func FuzzProseNotCSS(f *testing.F) {
	f.Add("a {color:#666667; text-decoration:underline}")
	f.Add("/* one two three */ four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twentyone twentytwo")
	f.Add("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty /* open")
	f.Add("abc/*x*/def ghi")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := proseNotCSS([]byte(s)), proseReference(s); got != want {
			t.Fatalf("proseNotCSS(%q) = %v, the plain count says %v", s, got, want)
		}
	})
}

// sentenceReference is sentenceName the plain way, on strings.Fields.
func sentenceReference(s string) bool {
	n := 0
	for _, w := range strings.Fields(s) {
		for _, r := range w {
			if !unicode.IsLetter(r) {
				return false
			}
		}
		n++
	}
	return n >= 3
}

func FuzzSentenceName(f *testing.F) {
	for _, s := range []string{"top", "located state players", "section 2", "a\u00a0b c", "été à là", "x\xffy z w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := sentenceName([]byte(s)), sentenceReference(s); got != want {
			t.Fatalf("sentenceName(%q) = %v, strings.Fields says %v", s, got, want)
		}
	})
}
