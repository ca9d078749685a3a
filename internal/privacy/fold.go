package privacy

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldRune appends r without its accents, in lower case ("É" → "e",
// "ß" stays): its compatibility decomposition (NFKD) minus the combining
// marks. A name matches whether it is written "Frédéric" or "frederic".
func foldRune(dst []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		return append(dst, lower(byte(r)))
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	for _, d := range norm.NFKD.String(string(buf[:n])) {
		if unicode.Is(unicode.Mn, d) {
			continue
		}
		d = unicode.ToLower(d)
		if d == 'ς' {
			d = 'σ' // Greek final sigma: "ΓΙΏΡΓΟΣ" lower-cases to "γιώργοσ".
		}
		if c, ok := homoglyphs[d]; ok {
			dst = append(dst, c)
			continue
		}
		dst = utf8.AppendRune(dst, d)
	}
	return dst
}

// fold is s without accents, in lower case.
func fold(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = foldRune(b, r)
	}
	return string(b)
}

// folded is text folded, with where each folded byte came from.
type folded struct {
	b       []byte
	at, end []int
}

func foldMap(b []byte) folded {
	f := folded{b: make([]byte, 0, len(b)), at: make([]int, 0, len(b)), end: make([]int, 0, len(b))}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			// Not UTF-8: kept as the byte it is.
			f.b = append(f.b, lower(b[i]))
			f.at, f.end = append(f.at, i), append(f.end, i+1)
			i++
			continue
		}
		before := len(f.b)
		f.b = foldRune(f.b, r)
		for range len(f.b) - before {
			f.at, f.end = append(f.at, i), append(f.end, i+n)
		}
		i += n
	}
	return f
}

// initials are the forms a name takes in logins and links: initial and
// surname ("edupre", "e.dupre", "dupree"), first name and initial
// ("emilied"), from the first and last of a name's words.
func initials(words []string) []string {
	if len(words) < 2 {
		return nil
	}
	first, last := []rune(words[0]), []rune(words[len(words)-1])
	f1, l1 := string(first[:1]), string(last[:1])
	var out []string
	for _, s := range []string{f1 + string(last), f1 + "." + string(last), f1 + "-" + string(last), f1 + "_" + string(last),
		string(last) + f1, string(first) + l1, string(first) + "." + l1} {
		if letters(s) >= 5 {
			out = append(out, s)
		}
	}
	return out
}

// letters counts the runes of s that are not the separators a login puts
// between a name's parts (".", "-", "_"). It is called for every name of
// every report at each federation round: counting in place, not through a
// strings.Replacer built anew each time, which dominated a round's cost.
func letters(s string) int {
	n := 0
	for _, r := range s {
		if r != '.' && r != '-' && r != '_' {
			n++
		}
	}
	return n
}

// homoglyphs are the Cyrillic and Greek letters (lower case, accents
// already taken off) drawn as a Latin one
// ("bоb-girаrd" with a Cyrillic о and а, "girard-famіlle" with a
// Ukrainian і): folded to it, so a name or a domain spelled with them
// is found as the Latin one. Text in those scripts folds the same way on
// both sides of a comparison, so a name written in it still matches
// itself.
var homoglyphs = map[rune]byte{
	'а': 'a', 'в': 'b', 'е': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c', 'т': 't', 'у': 'y', 'х': 'x',
	'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'ӏ': 'l', 'ο': 'o', 'α': 'a', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ρ': 'p', 'τ': 't',
	'υ': 'u', 'χ': 'x',
}
