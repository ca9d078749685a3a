package rules

import (
	"strings"
	"sync"
	"unicode"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

// AdLabel reports whether the message identifies itself as advertising, in
// the subject or in its text. lower, when not empty, is
// strings.ToLower(text) already at hand (mail.Content.Lower): a long text
// is not lower-cased again.
func AdLabel(subject, text, lower string) (Tri, string) {
	if subjectAdLabel(subject) {
		return True, "the subject is labelled as an advertisement: " + subject
	}
	l := lower
	if l == "" || len(text) > 32<<10 {
		l = strings.ToLower(headTail(text, 32<<10))
	}
	// Most of the phrases say "advertisement": a text without the word
	// has none of them, found by one reading instead of one each.
	ad := strings.Contains(l, "advertisement")
	for k, p := range adBodyPhrases {
		if adBodyAd[k] && !ad {
			continue
		}
		if strings.Contains(l, p) {
			return True, "the text says \"" + p + "\""
		}
	}
	if strings.TrimSpace(text) == "" {
		return Unknown, "the message has no text to read"
	}
	return False, "no advertisement label in the subject or text"
}

// adBodyAd marks the adBodyPhrases that contain "advertisement".
var adBodyAd = func() []bool {
	t := make([]bool, len(adBodyPhrases))
	for k, p := range adBodyPhrases {
		t[k] = strings.Contains(p, "advertisement")
	}
	return t
}()

// PostalAddress looks for a physical postal address in the text, in the
// forms used in the jurisdictions Accord has rulebooks for: PO boxes, a
// number and a street type in English, French, German, Spanish, Italian,
// Dutch and Portuguese order, US "City, ST 12345", Canadian and UK postcodes.
// It scans words once; regular expressions cost ten times as much here.
func PostalAddress(text string) (Tri, string) {
	if strings.TrimSpace(text) == "" {
		return Unknown, "the message has no text to read"
	}
	wp := wordsPool.Get().(*[]string)
	defer func() {
		clear(*wp) // the pool keeps no message's text
		wordsPool.Put(wp)
	}()
	words := addrWords((*wp)[:0], headTail(text, 64<<10))
	*wp = words
	var buf [32]byte
	for i, w := range words {
		// strings.ToLower(w), without allocating for a short ASCII word.
		lw := w
		switch wordCase(w, len(buf)) {
		case asciiUpper:
			for j := 0; j < len(w); j++ {
				buf[j] = lowerASCII(w[j])
			}
			lw = string(buf[:len(w)]) // on the stack: lw does not outlive the turn
		case other:
			lw = strings.ToLower(w)
		}
		next := func(k int) string {
			if i+k < len(words) {
				return words[i+k]
			}
			return ""
		}
		span := func(from, to int) string {
			lo, hi := max(0, i+from), min(len(words), i+to+1)
			return "postal address: " + strings.Join(words[lo:hi], " ")
		}
		switch {
		case len(lw) >= 7 && len(lw) <= 8 && poBox[lw] && isNumber(next(1)):
			return True, span(0, 1)
		case (lw == "p.o." || lw == "po" || lw == "p.o") && strings.EqualFold(next(1), "box") && isNumber(next(2)):
			return True, span(0, 2)
		case isNumber(w) && len(w) <= 6:
			for k := 1; k <= 5 && i+k < len(words); k++ {
				t := strings.ToLower(trimCommaDot(words[i+k])) // "St," ends a street as "St" does
				if streetAfter[t] && k >= 2 || frStreet[t] && k == 1 {
					return True, span(0, k+1)
				}
				if isNumber(words[i+k]) {
					break
				}
			}
		case hasStreetSuffix(lw) && isNumber(next(1)):
			return True, span(0, 1)
		case len(lw) >= 3 && len(lw) <= 8 && streetBeforeEnds[lw[0]]&1 != 0 && streetBeforeEnds[lw[len(lw)-1]]&2 != 0 && streetBefore[lw]:
			for k := 2; k <= 6 && i+k < len(words); k++ {
				if isNumber(words[i+k]) && len(words[i+k]) <= 4 {
					return True, span(0, k)
				}
			}
		case len(w) == 2 && isUSState(w) && i > 0 && strings.HasSuffix(words[i-1], ",") && isZIP(next(1)):
			return True, span(-1, 1)
		case isCAPostcode(w, next(1)) || isUKPostcode(w, next(1)):
			return True, span(-1, 1)
		}
	}
	return False, "no postal address found in the text"
}

// How a word lower-cases: as it is, ASCII with upper-case letters and at
// most n bytes, or otherwise (strings.ToLower).
const (
	asciiLower = iota
	asciiUpper
	other
)

func wordCase(w string, n int) int {
	k := asciiLower
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 0x80 {
			return other
		}
		if c >= 'A' && c <= 'Z' {
			k = asciiUpper
		}
	}
	if k == asciiUpper && len(w) > n {
		return other
	}
	return k
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// wordsPool recycles PostalAddress's word lists (a long text has thousands).
var wordsPool = sync.Pool{New: func() any { return new([]string) }}

// poBox's keys are 7 or 8 bytes long, streetBefore's 3 to 8: PostalAddress
// looks only words of those lengths up.
var poBox = map[string]bool{"postfach": true, "postbus": true, "apartado": true}

var streetAfter = map[string]bool{"street": true, "st": true, "avenue": true, "ave": true, "road": true, "rd": true,
	"boulevard": true, "blvd": true, "drive": true, "dr": true, "lane": true, "ln": true, "way": true, "court": true,
	"ct": true, "place": true, "pl": true, "highway": true, "hwy": true, "parkway": true, "pkwy": true, "suite": true,
	"ste": true, "square": true, "sq": true, "circle": true, "terrace": true}

var frStreet = map[string]bool{"rue": true, "avenue": true, "boulevard": true, "bd": true, "place": true, "chemin": true, "allée": true, "impasse": true}

var streetBefore = map[string]bool{"calle": true, "avenida": true, "plaza": true, "via": true, "viale": true, "piazza": true,
	"corso": true, "rua": true, "praça": true, "travessa": true}

func hasStreetSuffix(w string) bool {
	if len(w) < 6 {
		return false // the shortest suffix, three bytes, after three more
	}
	var suffixes []string
	switch w[len(w)-1] { // most words are ruled out by their last letter
	case 'e':
		suffixes = streetSuffixE
	case '.':
		suffixes = streetSuffixDot
	case 'g':
		suffixes = streetSuffixG
	case 'z':
		suffixes = streetSuffixZ
	case 't':
		suffixes = streetSuffixT
	case 'n':
		suffixes = streetSuffixN
	}
	for _, s := range suffixes {
		if strings.HasSuffix(w, s) && len(w) > len(s)+2 {
			return true
		}
	}
	return false
}

// The street-type suffixes (straße, strasse, str., weg, platz, allee, gasse,
// straat, laan, plein, gracht) by their last letter.
var (
	streetSuffixE   = []string{"straße", "strasse", "allee", "gasse"}
	streetSuffixDot = []string{"str."}
	streetSuffixG   = []string{"weg"}
	streetSuffixZ   = []string{"platz"}
	streetSuffixT   = []string{"straat", "gracht"}
	streetSuffixN   = []string{"laan", "plein"}
)

// streetBeforeEnds marks the bytes streetBefore's keys start with (bit 1)
// and end with (bit 2): most words are ruled out by them, without a look-up.
var streetBeforeEnds = func() (t [256]uint8) {
	for k := range streetBefore {
		t[k[0]] |= 1
		t[k[len(k)-1]] |= 2
	}
	return t
}()

// usStates are the US states' (and DC's) two-letter codes, by letter pair.
var usStates = func() (t [26 * 26]bool) {
	for _, s := range strings.Fields("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY") {
		t[int(s[0]-'A')*26+int(s[1]-'A')] = true
	}
	return t
}()

// isUSState reports whether w is one of the codes, written in capitals.
func isUSState(w string) bool {
	return len(w) == 2 && w[0] >= 'A' && w[0] <= 'Z' && w[1] >= 'A' && w[1] <= 'Z' && usStates[int(w[0]-'A')*26+int(w[1]-'A')]
}

// ContainsAddress reports whether text contains addr, a postal address
// given as the sender registered it, compared with case, punctuation and
// spacing ignored ("1 Main St, Springfield" is found in "1 MAIN ST.
// Springfield"): the sender's own registered address in the text is a
// postal address, whatever shape the heuristic above knows.
func ContainsAddress(text, addr string) bool {
	a := normAddress(addr)
	if len(a) < 3 {
		return false
	}
	return strings.Contains(" "+normAddress(text)+" ", " "+a+" ")
}

// normAddress lowercases s and turns every run of punctuation and space
// into one space.
func normAddress(s string) string {
	var b strings.Builder
	space := true
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			space = false
		} else if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSpace(b.String())
}

// addrWords splits s on white space and the punctuation that separates
// the parts of an address; every separator but U+00A0 (bytes C2 A0, which
// only ever encode it) is one ASCII byte, so s is read a byte at a time.
func addrWords(out []string, s string) []string {
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		sep := addrSep[c]
		w := 1
		if c == 0xc2 && i+1 < len(s) && s[i+1] == 0xa0 {
			sep, w = true, 2
		}
		switch {
		case !sep && start < 0:
			start = i
		case sep && start >= 0:
			out = append(out, s[start:i])
			start = -1
		}
		i += w - 1
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

var addrSep = func() (t [256]bool) {
	for _, c := range " \n\t\r;|()\"" {
		t[c] = true
	}
	return t
}()

func isNumber(w string) bool {
	w = trimCommaDot(w)
	if w == "" || len(w) > 8 {
		return false
	}
	digits := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case i == len(w)-1 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'):
			// "12b"
		case c == '-' && digits > 0:
		default:
			return false
		}
	}
	return digits > 0
}

func isZIP(w string) bool {
	w = trimCommaDot(w)
	if len(w) != 5 && len(w) != 10 {
		return false
	}
	for i := 0; i < len(w); i++ {
		if !(w[i] >= '0' && w[i] <= '9' || i == 5 && w[i] == '-') {
			return false
		}
	}
	return true
}

// isCAPostcode matches "A1A 1A1".
func isCAPostcode(a, b string) bool {
	if len(a) != 3 {
		return false
	}
	b = trimCommaDot(b)
	return len(b) == 3 && isLD(a, "LDL") && isLD(b, "DLD")
}

// isUKPostcode matches outward and inward codes such as "SW1A 1AA", "M1 1AE".
func isUKPostcode(a, b string) bool {
	if len(a) < 2 || len(a) > 4 {
		return false
	}
	b = trimCommaDot(b)
	if len(b) != 3 || !isLD(b, "DLL") {
		return false
	}
	for _, pat := range []string{"LD", "LDD", "LLD", "LLDD", "LDL", "LLDL"} {
		if len(a) == len(pat) && isLD(a, pat) {
			return true
		}
	}
	return false
}

// trimCommaDot is strings.TrimRight(w, ",.") without building its cutset
// on each of the many calls.
func trimCommaDot(w string) string {
	for len(w) > 0 && (w[len(w)-1] == ',' || w[len(w)-1] == '.') {
		w = w[:len(w)-1]
	}
	return w
}

func isLD(s, pat string) bool {
	for i := 0; i < len(pat); i++ {
		c := s[i]
		if pat[i] == 'L' && !(c >= 'A' && c <= 'Z') || pat[i] == 'D' && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// SubjectDeceptive spots subjects that pretend the message continues a
// conversation ("Re:", "Fwd:") when it answers nothing.
func SubjectDeceptive(subject string, h accmail.Header) (Tri, string) {
	s := strings.ToLower(strings.TrimSpace(subject))
	for _, p := range []string{"re:", "re :", "fw:", "fwd:", "aw:", "wg:", "tr:", "rv:", "sv:"} {
		if strings.HasPrefix(s, p) {
			if !h.Has("In-Reply-To") && !h.Has("References") {
				return True, "the subject starts with \"" + subject[:len(p)] + "\" but the message replies to nothing (no In-Reply-To or References)"
			}
			return False, "a reply with In-Reply-To or References"
		}
	}
	return False, "no deceptive subject pattern found"
}

// headTail keeps the start and the end of long texts: identification and
// addresses sit in headers and footers.
func headTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2] + "\n" + s[len(s)-n/2:]
}
