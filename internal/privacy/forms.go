package privacy

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// spellsPerson reports whether a domain's registrable name (folded)
// spells one of the people: holds one of their names of four letters or
// more, separators aside ("nguyen-dental" for k.nguyen,
// "dupontfamille" for Jean Dupont). Such a domain is the person's name
// as much as their local part is: the evidence loses its forms too
// (formSpans). A domain that spells no one — a firm's, a school's — stays
// in the evidence, which says where the spam went; the links and
// subjects lose every recipient's domain (HoldsDomain, Text).
func (p People) spellsPerson(label string) bool {
	sq := squash(label)
	if sq == "" {
		return false
	}
	for _, n := range p.Names {
		if n := squash(fold(n)); len(n) >= 4 && strings.Contains(sq, n) {
			return true
		}
	}
	return false
}

// formSpans finds in text what the evidence loses besides addresses:
// with words, every form of the people that the links' scrubbing
// (identifies) cuts — their local parts and names as words, their joined
// names also inside a longer word ("knguyen2026"), their local parts
// with digits run on ("jdupont75") —, and, with or without words, the forms of a domain that
// spells one of them (spellsPerson): the domain as whole labels, its
// registrable name as a word, its words run together or the other way
// round ("nguyen-dental.example", "nguyen-dental", "nguyendental",
// "dental_nguyen"; see labelSpans). The text is read as written and,
// when it may hold them, with its percent-encoding and HTML character
// references undone ("Jean%2DDupont", "k&#110;guyen"), as the address
// search reads it; ignoring case and accents. Spans are the original's.
func (p People) formSpans(b []byte, words bool) [][2]int {
	m := p.m()
	if len(m.personal) == 0 && (!words || len(m.words) == 0 && len(m.inside) == 0 && len(m.numbered) == 0) {
		return nil
	}
	var out [][2]int
	f := foldMap(b)
	for _, sp := range m.foldedForms(f.b, words) {
		out = append(out, [2]int{f.at[sp[0]], f.end[sp[1]-1]})
	}
	if mayHold(b) {
		c := canonical(b)
		g := foldMap(c.b)
		for _, sp := range m.foldedForms(g.b, words) {
			s, e := g.at[sp[0]], g.end[sp[1]-1]
			out = append(out, [2]int{c.at[s], c.end[e-1]})
		}
	}
	return merge(out)
}

// foldedForms is formSpans in folded text, its spans the folded text's.
func (m *matcher) foldedForms(l []byte, words bool) [][2]int {
	var out [][2]int
	if words {
		out = append(out, m.foldedWords(l)...)
		for _, w := range m.inside {
			for off := 0; ; {
				i := bytes.Index(l[off:], w)
				if i < 0 {
					break
				}
				out = append(out, [2]int{off + i, off + i + len(w)})
				off += i + len(w)
			}
		}
		for _, w := range m.numbered {
			for off := 0; ; {
				i := bytes.Index(l[off:], w)
				if i < 0 {
					break
				}
				s, e := off+i, off+i+len(w)
				if !letterAt(l, s-1, true) && !letterAt(l, e, false) {
					out = append(out, [2]int{s, e})
				}
				off = s + 1
			}
		}
	}
	if len(m.personal) > 0 {
		s := string(l)
		for _, d := range m.personal {
			out = append(out, wholeSpans(s, d.name)...)
			out = append(out, labelSpans(s, d)...)
		}
	}
	return out
}

// letterAt reports whether the character ending (before) or starting at
// i is a letter.
func letterAt(b []byte, i int, before bool) bool {
	if i < 0 || i >= len(b) {
		return false
	}
	var r rune
	if before {
		r, _ = utf8.DecodeLastRune(b[:i+1])
	} else {
		r, _ = utf8.DecodeRune(b[i:])
	}
	return unicode.IsLetter(r)
}
