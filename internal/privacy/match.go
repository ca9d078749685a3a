package privacy

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"
)

// matcher finds people in text, built once per People.
type matcher struct {
	once  sync.Once
	addrs [][]byte      // Lower-case addresses.
	latin [][]byte      // Addresses with 8-bit characters, as Latin-1 bytes.
	words [][]byte      // Lower-case local parts and names.
	doms  []domSpelling // Their domains' spellings (HoldsDomain, Text).

	// Evidence only (formSpans): forms also found inside a longer word,
	// and the spellings of the domains that spell one of the people.
	inside   [][]byte // Joined names, anywhere.
	numbered [][]byte // Local parts, next to digits too.
	personal []domSpelling
}

// m returns the compiled matcher.
func (p People) m() *matcher {
	if p.matcher == nil {
		return &matcher{}
	}
	p.matcher.once.Do(func() {
		for _, a := range p.Addresses {
			p.matcher.addrs = append(p.matcher.addrs, []byte(a))
			if l, ok := toLatin1(a); ok && l != a {
				p.matcher.latin = append(p.matcher.latin, []byte(l))
			}
		}
		for _, d := range p.Domains {
			p.matcher.doms = append(p.matcher.doms, spellings(d)...)
		}
		for _, w := range append(append([]string{}, p.LocalParts...), p.Names...) {
			p.matcher.words = append(p.matcher.words, []byte(fold(w)))
		}
		// What identifies finds inside a link's longer word: the joined
		// names ("bobdurand2026", "knguyen2026"), and the local parts
		// when only digits run on from them ("jdupont75"). Not a local
		// part inside a longer word of letters: a login that is a word
		// ("mention@" of a site's notifications) would cut every word it
		// starts ("you were mentioned").
		for _, lp := range p.LocalParts {
			p.matcher.numbered = append(p.matcher.numbered, []byte(fold(lp)))
		}
		for _, j := range p.joined {
			if len(squash(j)) >= 5 {
				p.matcher.inside = append(p.matcher.inside, []byte(j))
			}
		}
		for _, d := range p.matcher.doms {
			if !d.provider && p.spellsPerson(d.label) {
				p.matcher.personal = append(p.matcher.personal, d)
			}
		}
	})
	return p.matcher
}

// canon is text as a reader sees it once spellings are undone:
// percent-encoding (once or twice), HTML character references, "[at]"
// and "[dot]", ASCII upper case. at[i] and end[i] are where canonical
// byte i starts and ends in the original.
type canon struct {
	b        []byte
	at, end  []int
	original []byte
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// spelled reads one spelled character at b[i:]: its bytes (out[:w]) and
// the length it takes in b.
func spelled(b []byte, i int) (out [4]byte, w, n int) {
	one := func(c byte, n int) ([4]byte, int, int) { return [4]byte{c}, 1, n }
	c := b[i]
	switch c {
	case '%':
		j := i + 1
		if j+4 <= len(b) && b[j] == '2' && b[j+1] == '5' {
			if h, ok := unhex(b[j+2]); ok {
				if l, ok := unhex(b[j+3]); ok {
					return one(lower(h<<4|l), 5)
				}
			}
		}
		if j+2 <= len(b) {
			if h, ok := unhex(b[j]); ok {
				if l, ok := unhex(b[j+1]); ok {
					return one(lower(h<<4|l), 3)
				}
			}
		}
	case '&':
		rest := b[i:]
		for _, e := range []struct {
			name string
			r    byte
		}{{"&commat;", '@'}, {"&period;", '.'}} {
			if len(rest) >= len(e.name) && bytes.EqualFold(rest[:len(e.name)], []byte(e.name)) {
				return one(e.r, len(e.name))
			}
		}
		if len(rest) > 2 && rest[1] == '#' {
			j, base := 2, 10
			if len(rest) > 3 && (rest[2] == 'x' || rest[2] == 'X') {
				j, base = 3, 16
			}
			k := j
			for k < len(rest) && k-j < 8 {
				if _, ok := unhex(rest[k]); !ok || base == 10 && !(rest[k] >= '0' && rest[k] <= '9') {
					break
				}
				k++
			}
			if k > j {
				if n, err := strconv.ParseUint(string(rest[j:k]), base, 32); err == nil && n > 0 && n <= unicode.MaxRune {
					l := k
					if l < len(rest) && rest[l] == ';' {
						l++
					}
					var buf [4]byte
					w := utf8.EncodeRune(buf[:], rune(n))
					if w == 1 {
						buf[0] = lower(buf[0])
					}
					return buf, w, l
				}
			}
		}
	case '[', '(', ' ':
		rest := b[i:]
		for _, e := range []struct {
			s string
			r byte
		}{{" [at] ", '@'}, {" (at) ", '@'}, {"[at]", '@'}, {"(at)", '@'}, {" [dot] ", '.'}, {" (dot) ", '.'}, {"[dot]", '.'}, {"(dot)", '.'}} {
			if len(rest) >= len(e.s) && bytes.EqualFold(rest[:len(e.s)], []byte(e.s)) {
				return one(e.r, len(e.s))
			}
		}
	}
	return one(lower(c), 1)
}

func canonical(b []byte) canon {
	c := canon{b: make([]byte, 0, len(b)), at: make([]int, 0, len(b)), end: make([]int, 0, len(b)), original: b}
	for i := 0; i < len(b); {
		out, w, n := spelled(b, i)
		for _, x := range out[:w] {
			c.b = append(c.b, x)
			c.at = append(c.at, i)
			c.end = append(c.end, i+n)
		}
		i += n
	}
	return c
}

// spans returns where in the original each occurrence of an address
// lies, in order, without overlaps.
func (m *matcher) spans(b []byte) [][2]int {
	if len(m.addrs) == 0 && len(m.latin) == 0 {
		return nil
	}
	var out [][2]int
	if mayHold(b) {
		c := canonical(b)
		for _, a := range m.addrs {
			for off := 0; ; {
				i := bytes.Index(c.b[off:], a)
				if i < 0 {
					break
				}
				s, e := off+i, off+i+len(a)
				out = append(out, [2]int{c.at[s], c.end[e-1]})
				off = e
			}
		}
	}
	for _, l := range m.latin {
		for off := 0; ; {
			i := indexFold(b[off:], l)
			if i < 0 {
				break
			}
			out = append(out, [2]int{off + i, off + i + len(l)})
			off += i + len(l)
		}
	}
	return merge(out)
}

// mayHold is a quick test: an address needs an "@" in some spelling.
func mayHold(b []byte) bool {
	return bytes.IndexByte(b, '@') >= 0 || bytes.IndexByte(b, '%') >= 0 || bytes.IndexByte(b, '&') >= 0 ||
		bytes.IndexByte(b, '[') >= 0 || bytes.IndexByte(b, '(') >= 0
}

// holdsEach reports, for each address, whether b holds it in some
// spelling (one canonical pass for all of them).
func (m *matcher) holdsEach(b []byte, found []bool) {
	if !mayHold(b) {
		return
	}
	c := canonical(b)
	for i, a := range m.addrs {
		if !found[i] && bytes.Contains(c.b, a) {
			found[i] = true
		}
	}
}

// merge sorts spans and joins overlapping ones. A message that names its
// recipient on every line gives hundreds of thousands of spans: the sort
// is O(k log k) (an insertion sort made 12 MB cost 80 s).
func merge(sp [][2]int) [][2]int {
	if len(sp) < 2 {
		return sp
	}
	slices.SortFunc(sp, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	out := sp[:1]
	for _, s := range sp[1:] {
		if last := &out[len(out)-1]; s[0] <= last[1] {
			last[1] = max(last[1], s[1])
		} else {
			out = append(out, s)
		}
	}
	return out
}

// replace puts with in place of each span.
func replace(b []byte, sp [][2]int, with string) []byte {
	if len(sp) == 0 {
		return b
	}
	var out bytes.Buffer
	last := 0
	for _, s := range sp {
		out.Write(b[last:s[0]])
		out.WriteString(with)
		last = s[1]
	}
	out.Write(b[last:])
	return out.Bytes()
}

// has reports whether b holds an address in some spelling.
func (m *matcher) has(b []byte) bool { return len(m.spans(b)) > 0 }

// wordSpans finds their local parts and names as whole words (not inside
// a longer word), ignoring case and accents ("Frédéric" for "frederic").
func (m *matcher) wordSpans(b []byte) [][2]int {
	if len(m.words) == 0 {
		return nil
	}
	f := foldMap(b)
	var out [][2]int
	for _, sp := range m.foldedWords(f.b) {
		out = append(out, [2]int{f.at[sp[0]], f.end[sp[1]-1]})
	}
	return merge(out)
}

// foldedWords is wordSpans in folded text, its spans the folded text's.
func (m *matcher) foldedWords(low []byte) [][2]int {
	var out [][2]int
	for _, w := range m.words {
		// Chinese and Japanese write no spaces, and Korean joins its
		// particles and honorifics to the name ("山田太郎様", "김철수님"):
		// a name that starts or ends in those scripts is a word there
		// whatever stands next to it.
		first, _ := utf8.DecodeRune(w)
		last, _ := utf8.DecodeLastRune(w)
		for off := 0; ; {
			i := bytes.Index(low[off:], w)
			if i < 0 {
				break
			}
			s, e := off+i, off+i+len(w)
			if (unspaced(first) || !wordAt(low, s-1, true)) && (unspaced(last) || !wordAt(low, e, false)) {
				out = append(out, [2]int{s, e})
			}
			off = s + 1
		}
	}
	return out
}

// wordAt reports whether the character ending (before) or starting at i
// is a letter or digit.
func wordAt(b []byte, i int, before bool) bool {
	if i < 0 || i >= len(b) {
		return false
	}
	var r rune
	if before {
		r, _ = utf8.DecodeLastRune(b[:i+1])
	} else {
		r, _ = utf8.DecodeRune(b[i:])
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// unspaced reports whether r is of a script whose names stand in text
// without spaces around them (Han, Hiragana, Katakana, Hangul).
func unspaced(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}
