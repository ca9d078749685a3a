package rules

import (
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/agnivade/levenshtein"
)

// The phrase scans read a text once; these are the scans they replaced
// (one pass of the text per phrase, a set of all the text's words), kept
// to show that both find the same.

func findPhrasesByPhrase(text string) []phraseHit {
	var hits []phraseHit
	for lang, list := range optOutPhrases {
		for _, p := range list {
			for off := 0; off < len(text); {
				i := strings.Index(text[off:], p)
				if i < 0 {
					break
				}
				i += off
				off = i + len(p)
				if !wordStart(text, i) {
					continue
				}
				hits = append(hits, phraseHit{lang: lang, phrase: p, at: i, negation: negationAround(text, i, i+len(p))})
			}
		}
	}
	sort.Slice(hits, func(a, b int) bool {
		if hits[a].at != hits[b].at {
			return hits[a].at < hits[b].at
		}
		return len(hits[a].phrase) > len(hits[b].phrase)
	})
	out := hits[:0]
	end := -1
	for _, h := range hits {
		if h.at < end {
			continue
		}
		out = append(out, h)
		end = h.at + len(h.phrase)
		if len(out) == maxPhraseHits {
			break
		}
	}
	return out
}

// containsByWordSet is containsWord, ruled out when the text lacks the
// phrase's first word.
func containsByWordSet(text, p string) bool {
	if p == "" || !isWordByte(p[0]) {
		return containsWord(text, p)
	}
	words := map[string]bool{}
	start := -1
	for i := 0; i <= len(text); i++ {
		if i < len(text) && isWordByte(text[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			words[text[start:i]] = true
			start = -1
		}
	}
	end := 0
	for end < len(p) && isWordByte(p[end]) {
		end++
	}
	if !words[p[:end]] {
		return false
	}
	return end == len(p) || containsWord(text, p)
}

func matchWeightedByPhrase(text string) ([]string, int) {
	var out []string
	score := 0
	for _, list := range offerPhrases {
		for p, w := range list {
			if containsByWordSet(text, p) {
				out = append(out, p)
				score += w
			}
		}
	}
	sort.Strings(out)
	return out, score
}

func firstByPhrase(text string, list []string, contains func(string, string) bool) string {
	for _, p := range list {
		if contains(text, p) {
			return p
		}
	}
	return ""
}

// scanTexts are texts made of the lexicons' own phrases, cut, glued and
// repeated, with the bytes around them that decide word boundaries.
func scanTexts() []string {
	var words []string
	for _, l := range optOutPhrases {
		words = append(words, l...)
	}
	for _, l := range offerPhrases {
		for p := range l {
			words = append(words, p)
		}
	}
	words = append(words, ctaPhrases...)
	words = append(words, credentialWords...)
	words = append(words, negationsBefore...)
	words = append(words, negationsAfter...)
	glue := []string{" ", "", "x", ".", ". ", "\n", "\n\n", "é", "-", "!", "1", "€", "%", ": https://example.com/u "}
	r := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "unsubscribe", "xunsubscribe", "newsletter abbestellenewsletter abbestellen"}
	for n := 0; n < 3000; n++ {
		var b strings.Builder
		for k := r.IntN(12); k >= 0; k-- {
			w := words[r.IntN(len(words))]
			if r.IntN(5) == 0 {
				w = w[:r.IntN(len(w)+1)]
			}
			if r.IntN(7) == 0 {
				w = w[r.IntN(len(w)+1):]
			}
			b.WriteString(w)
			b.WriteString(glue[r.IntN(len(glue))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

func TestScansFindWhatPerPhraseScansFind(t *testing.T) {
	for _, text := range scanTexts() {
		if got, want := findPhrases(text), findPhrasesByPhrase(text); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("findPhrases(%q) = %v, want %v", text, got, want)
		}
		gotO, gotS, got := matchWeighted(text)
		wantO, wantS := matchWeightedByPhrase(text)
		if !reflect.DeepEqual(gotO, wantO) || gotS != wantS {
			t.Fatalf("matchWeighted(%q) = %v %d, want %v %d", text, gotO, gotS, wantO, wantS)
		}
		if want := firstByPhrase(text, ctaPhrases, containsWord); got != want {
			t.Fatalf("call to action in %q = %q, want %q", text, got, want)
		}
		if got, want := credentialWord(text), firstByPhrase(text, credentialWords, containsByWordSet); got != want {
			t.Fatalf("credentialWord(%q) = %q, want %q", text, got, want)
		}
	}
}

// No opt-out wording may overlap a later occurrence of itself that starts
// a word: findPhrases, reading the text once, would find both where a scan
// resuming after each occurrence finds one.
func TestOptOutPhrasesDoNotOverlapThemselves(t *testing.T) {
	for _, list := range optOutPhrases {
		for _, p := range list {
			for k := 1; k < len(p); k++ {
				if p[:k] == p[len(p)-k:] && wordStart(p, len(p)-k) {
					t.Errorf("%q: a second occurrence may start at its last %d bytes", p, k)
				}
			}
		}
	}
}

func FuzzPhraseScans(f *testing.F) {
	for _, s := range scanTexts()[:40] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := findPhrases(text), findPhrasesByPhrase(text); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("findPhrases(%q) = %v, want %v", text, got, want)
		}
		gotO, gotS, got := matchWeighted(text)
		wantO, wantS := matchWeightedByPhrase(text)
		if !reflect.DeepEqual(gotO, wantO) || gotS != wantS {
			t.Fatalf("matchWeighted(%q) = %v %d, want %v %d", text, gotO, gotS, wantO, wantS)
		}
		if want := firstByPhrase(text, ctaPhrases, containsWord); got != want {
			t.Fatalf("call to action in %q = %q, want %q", text, got, want)
		}
		if got, want := credentialWord(text), firstByPhrase(text, credentialWords, containsByWordSet); got != want {
			t.Fatalf("credentialWord(%q) = %q, want %q", text, got, want)
		}
	})
}

func addrWordsByFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == ';' || r == '|' || r == '(' || r == ')' || r == '"' || r == '\u00a0'
	})
}

func TestAddrWordsCutAsFieldsFunc(t *testing.T) {
	parts := []string{"12", "Main", "St.", "Straße", " ", "\n", "\t", "\r", ";", "|", "(", ")", "\"", "\u00a0", "\xc2", "\xa0", "\xe2", "\xf0\x9f", ",", "é", "\u2003"}
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 3000; n++ {
		var b strings.Builder
		for k := r.IntN(14); k >= 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		s := b.String()
		if got, want := addrWords(nil, s), addrWordsByFields(s); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("addrWords(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestFirstReplyPhrasesAsIndex(t *testing.T) {
	texts := scanTexts()
	r := rand.New(rand.NewPCG(7, 8))
	for n := 0; n < 2000; n++ {
		var b strings.Builder
		for k := r.IntN(10); k >= 0; k-- {
			p := replyPhrases[r.IntN(len(replyPhrases))]
			b.WriteString(p[:r.IntN(len(p)+1)])
			b.WriteString([]string{" ", "", "\n", "x", "remove "}[r.IntN(5)])
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		at := firstReplyPhrases(text)
		for k, p := range replyPhrases {
			if want := strings.Index(text, p); at[k] != want {
				t.Fatalf("first %q in %q at %d, want %d", p, text, at[k], want)
			}
		}
	}
}

func TestDistanceUpTo2AsLevenshtein(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	alpha := []string{"a", "b", "l", "1", "-", "é", "rn", "m"}
	word := func() string {
		var b strings.Builder
		for k := r.IntN(12); k > 0; k-- {
			b.WriteString(alpha[r.IntN(len(alpha))])
		}
		return b.String()
	}
	pairs := [][2]string{{"", ""}, {"paypal", "paypa1"}, {"microsoft", "rnicrosoft"}, {"amazon", "amazn"}, {"deutschebank", "deutschebahn"}}
	for n := 0; n < 20000; n++ {
		a := word()
		b := a
		for k := r.IntN(4); k > 0 && len(b) > 0; k-- {
			i := r.IntN(len(b))
			b = b[:i] + alpha[r.IntN(len(alpha))] + b[i+1:]
		}
		pairs = append(pairs, [2]string{a, b}, [2]string{a, word()})
	}
	for _, p := range pairs {
		if got, want := distanceUpTo2(p[0], p[1]), min(levenshtein.ComputeDistance(p[0], p[1]), 3); got != want {
			t.Fatalf("distanceUpTo2(%q, %q) = %d, want %d", p[0], p[1], got, want)
		}
	}
}

// TestHasStreetSuffixByLastLetter holds the suffixes sorted by their last
// letter to the list they came from.
func TestHasStreetSuffixByLastLetter(t *testing.T) {
	want := func(w string) bool {
		for _, s := range []string{"straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "straat", "laan", "plein", "gracht"} {
			if strings.HasSuffix(w, s) && len(w) > len(s)+2 {
				return true
			}
		}
		return false
	}
	for _, w := range []string{"hauptstraße", "hauptstrasse", "hauptstr.", "feldweg", "marktplatz", "lindenallee", "kirchgasse",
		"kalverstraat", "vondellaan", "domplein", "keizersgracht", "straße", "abweg", "weg", "avenue", "streets", "postfach", "xyzweg", "ßßße"} {
		if got := hasStreetSuffix(w); got != want(w) {
			t.Errorf("hasStreetSuffix(%q) = %v, want %v", w, got, want(w))
		}
	}
}

// findPriceEveryByte is findPrice as it was, looking at every byte.
func findPriceEveryByte(t string) string {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '$' || strings.HasPrefix(t[i:], "€") || strings.HasPrefix(t[i:], "£") || strings.HasPrefix(t[i:], "¥") || strings.HasPrefix(t[i:], "r$") {
			sym := 1
			if strings.HasPrefix(t[i:], "r$") {
				sym = 2
			} else if c != '$' {
				sym = len("€")
				if strings.HasPrefix(t[i:], "£") || strings.HasPrefix(t[i:], "¥") {
					sym = 2
				}
			}
			j := i + sym
			if j < len(t) && t[j] == ' ' {
				j++
			}
			k := j
			for k < len(t) && (t[k] >= '0' && t[k] <= '9' || (t[k] == ',' || t[k] == '.') && k > j) {
				k++
			}
			if k > j && t[j] >= '0' && t[j] <= '9' {
				return strings.TrimRight(t[i:k], ",.")
			}
			continue
		}
		if strings.HasPrefix(t[i:], "cents") && i > 0 && t[i-1] == ' ' && i > 1 && t[i-2] >= '0' && t[i-2] <= '9' {
			j := i - 2
			for j > 0 && t[j-1] >= '0' && t[j-1] <= '9' {
				j--
			}
			return t[j : i+5]
		}
		if c >= '0' && c <= '9' && (i == 0 || t[i-1] < '0' || t[i-1] > '9') && (i == 0 || t[i-1] != '.' && t[i-1] != ',') {
			k := i
			for k < len(t) && (t[k] >= '0' && t[k] <= '9' || t[k] == ',' || t[k] == '.') {
				k++
			}
			rest := t[k:]
			rest = strings.TrimPrefix(rest, " ")
			for _, cur := range []string{"€", "eur ", "eur.", "euro", "usd", "gbp", "dollars", "reais", "brl", "chf", "libras", "pounds"} {
				if strings.HasPrefix(rest, cur) {
					return t[i:k] + " " + strings.TrimSpace(cur)
				}
			}
			i = k
		}
	}
	return ""
}

func TestFindPriceAsEveryByte(t *testing.T) {
	parts := []string{"$", "€", "£", "¥", "r$", "r", "cents", "cent", "1", "19", "99", ".", ",", " ", "eur ", "eur.", "euro", "usd",
		"dollars", "pounds", "x", "é", "\xe2", "\xe2\x82", "\xc2", "\xa3", "\n"}
	r := rand.New(rand.NewPCG(9, 10))
	texts := scanTexts()
	for n := 0; n < 5000; n++ {
		var b strings.Builder
		for k := r.IntN(12); k >= 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		if got, want := findPrice(s), findPriceEveryByte(s); got != want {
			t.Fatalf("findPrice(%q) = %q, want %q", s, got, want)
		}
	}
}
