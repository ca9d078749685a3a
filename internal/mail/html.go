package mail

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLInfo is what the HTML of a message shows beyond its text.
type HTMLInfo struct {
	Links       int  `json:"links"`
	Images      int  `json:"images"`
	Forms       int  `json:"forms"`
	Scripts     int  `json:"scripts"`
	HiddenText  bool `json:"hidden_text"`  // Text styled invisible (display:none, zero size…).
	RemoteImage bool `json:"remote_image"` // An <img> loaded from the network (a tracking pixel or ad).
	// HiddenProse: sentences where no reader sees them and no markup
	// needs them — a <style> block of words instead of CSS, an anchor
	// named with a sentence. A hash-buster's padding, put there to feed
	// word-counting filters ordinary words; no authoring tool writes it.
	HiddenProse bool `json:"hidden_prose"`
}

// htmlLink is a reference found in HTML, with the visible anchor text of <a>.
type htmlLink struct {
	URL    string
	Source string // "href", "src", "action", "background", "style".
	Text   string
}

// maxHTMLTokens bounds the tokenizer work on one part.
const maxHTMLTokens = 200000

// htmlToText renders HTML as plain text the way a reader sees it: block
// elements break lines, script/style/head content is dropped, entities are
// decoded. It also returns every link target and what the markup reveals.
func htmlToText(src string) (string, []htmlLink, HTMLInfo) {
	var info HTMLInfo
	var links []htmlLink
	var b strings.Builder
	b.Grow(len(src) / 2)
	z := html.NewTokenizer(strings.NewReader(src))
	z.SetMaxBuf(4 << 20)
	skip := 0   // inside script/style/head/title
	style := 0  // inside style
	hidden := 0 // inside an element styled invisible
	var anchor *htmlLink
	var anchorText strings.Builder
	stack := make([]bool, 0, 32) // per open element: did it start hiding?
	newline := func() {
		s := b.String()
		if len(s) > 0 && s[len(s)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	for n := 0; n < maxHTMLTokens; n++ {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyText(b.String()), links, info
		case html.TextToken:
			if skip > 0 {
				if style > 0 && !info.HiddenProse && proseNotCSS(z.Raw()) {
					info.HiddenProse = true
				}
				continue
			}
			t := z.Text() // valid until the next token: written at once
			if hidden > 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					info.HiddenText = true
				}
				continue
			}
			b.Write(t)
			if anchor != nil {
				anchorText.Write(t)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			var attrs tagAttrs
			if hasAttr {
				attrs.read(z)
			}
			switch a {
			case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript:
				if a == atom.Script {
					info.Scripts++
				}
				if tt == html.StartTagToken {
					skip++
					if a == atom.Style {
						style++
					}
				}
			case atom.A, atom.Area:
				if a == atom.A && attrs.seen&attrSentenceName != 0 {
					info.HiddenProse = true
				}
				if h := strings.TrimSpace(attrs.href); h != "" {
					info.Links++
					links = append(links, htmlLink{URL: h, Source: "href"})
					if a == atom.A && tt == html.StartTagToken {
						anchor = &links[len(links)-1]
						anchorText.Reset()
					}
				}
			case atom.Img:
				info.Images++
				if s := strings.TrimSpace(attrs.src); s != "" {
					links = append(links, htmlLink{URL: s, Source: "src"})
					if l := strings.ToLower(s); strings.HasPrefix(l, "http:") || strings.HasPrefix(l, "https:") || strings.HasPrefix(l, "//") {
						info.RemoteImage = true
					}
				}
				if alt := attrs.alt; alt != "" && skip == 0 && hidden == 0 {
					b.WriteString(" " + alt + " ")
				}
			case atom.Form:
				info.Forms++
				if s := strings.TrimSpace(attrs.action); s != "" {
					links = append(links, htmlLink{URL: s, Source: "action"})
				}
			case atom.Iframe, atom.Frame, atom.Embed, atom.Source, atom.Input:
				if s := strings.TrimSpace(attrs.src); s != "" {
					links = append(links, htmlLink{URL: s, Source: "src"})
				}
			case atom.Br:
				b.WriteByte('\n')
			}
			if bg := strings.TrimSpace(attrs.background); bg != "" {
				links = append(links, htmlLink{URL: bg, Source: "background"})
			}
			if st := attrs.style; st != "" {
				for _, u := range cssURLs(st) {
					links = append(links, htmlLink{URL: u, Source: "style"})
				}
			}
			if isBlock(a) {
				newline()
			}
			if tt == html.StartTagToken && !isVoid(a) {
				hides := hidesContent(attrs)
				if hides {
					hidden++
				}
				stack = append(stack, hides)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript:
				if skip > 0 {
					skip--
				}
				if a == atom.Style && style > 0 {
					style--
				}
			case atom.A:
				if anchor != nil {
					anchor.Text = oneSpaced(anchorText.String())
					anchor = nil
				}
			}
			if isBlock(a) {
				newline()
			}
			if !isVoid(a) && len(stack) > 0 {
				if stack[len(stack)-1] && hidden > 0 {
					hidden--
				}
				stack = stack[:len(stack)-1]
			}
		}
	}
	return tidyText(b.String()), links, info
}

func isVoid(a atom.Atom) bool {
	switch a {
	case atom.Area, atom.Base, atom.Br, atom.Col, atom.Embed, atom.Hr, atom.Img, atom.Input,
		atom.Link, atom.Meta, atom.Param, atom.Source, atom.Track, atom.Wbr:
		return true
	}
	return false
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Tr, atom.Table, atom.Li, atom.Ul, atom.Ol, atom.H1, atom.H2, atom.H3,
		atom.H4, atom.H5, atom.H6, atom.Blockquote, atom.Pre, atom.Hr, atom.Center, atom.Body, atom.Form,
		atom.Section, atom.Article, atom.Header, atom.Footer, atom.Dd, atom.Dt, atom.Address:
		return true
	}
	return false
}

// tagAttrs are the attributes of a tag that htmlToText reads, each the
// first of its name (as a map filled in order without overwriting would
// keep): only these are copied out of the tokenizer.
type tagAttrs struct {
	href, src, alt, action, background, style string
	seen                                      uint8 // bit per attribute above, in that order, then hidden, then a sentence for a name (not copied)
}

const (
	attrHidden       = 1 << 6
	attrSentenceName = 1 << 7 // a name attribute is a sentence (sentenceName)
)

// read takes the current tag's attributes from z.
func (t *tagAttrs) read(z *html.Tokenizer) {
	for {
		k, v, more := z.TagAttr()
		var bit uint8
		var dst *string
		switch string(k) {
		case "href":
			bit, dst = 1<<0, &t.href
		case "src":
			bit, dst = 1<<1, &t.src
		case "alt":
			bit, dst = 1<<2, &t.alt
		case "action":
			bit, dst = 1<<3, &t.action
		case "background":
			bit, dst = 1<<4, &t.background
		case "style":
			bit, dst = 1<<5, &t.style
		case "hidden":
			bit = attrHidden
		case "name":
			if t.seen&attrSentenceName == 0 && sentenceName(v) {
				t.seen |= attrSentenceName
			}
		}
		if bit != 0 && t.seen&bit == 0 {
			t.seen |= bit
			if dst != nil {
				*dst = string(v)
			}
		}
		if !more {
			return
		}
	}
}

// hidesContent reports whether inline style (or the hidden attribute) makes
// an element's text invisible: a classic way to stuff words for filters.
func hidesContent(attrs tagAttrs) bool {
	if attrs.seen&attrHidden != 0 {
		return true
	}
	st := strings.ToLower(strings.ReplaceAll(attrs.style, " ", ""))
	if st == "" {
		return false
	}
	for _, m := range []string{"display:none", "visibility:hidden", "font-size:0", "font-size:1px", "opacity:0;", "max-height:0", "height:0;overflow:hidden"} {
		if strings.Contains(st, m) {
			return true
		}
	}
	return strings.HasSuffix(st, "opacity:0")
}

// proseNotCSS reports whether a style sheet's text is words rather than
// CSS: at least 20 words (runs of three letters or more) outside its
// comments and fewer than one of CSS's marks ({ } ; :) for every ten of
// them. A rule is a selector and a block of declarations, each with its
// colon and most with a semicolon: real CSS has several marks for every
// few words, and a licence or note in a /* comment */ is not counted.
func proseNotCSS(t []byte) bool {
	words, marks, run := 0, 0, 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '/' && i+1 < len(t) && t[i+1] == '*' {
			end := bytes.Index(t[i+2:], []byte("*/"))
			if end < 0 {
				break
			}
			if run >= 3 {
				words++
			}
			run = 0
			i += end + 3
			continue
		}
		if c|0x20 >= 'a' && c|0x20 <= 'z' {
			run++
			continue
		}
		if run >= 3 {
			words++
		}
		run = 0
		switch c {
		case '{', '}', ';', ':':
			marks++
		}
	}
	if run >= 3 {
		words++
	}
	return words >= 20 && marks*10 < words
}

// sentenceName reports whether an anchor's name is a sentence: three words
// or more of letters only. A fragment's target is a token (top, sec2,
// _Toc123); a name of ordinary words with spaces is padding.
// It reads the tokenizer's bytes without copying them (as strings.Fields
// splits, unicode.IsSpace).
func sentenceName(name []byte) bool {
	n, in := 0, false
	for len(name) > 0 {
		r, size := utf8.DecodeRune(name)
		name = name[size:]
		switch {
		case unicode.IsSpace(r):
			in = false
		case unicode.IsLetter(r):
			if !in {
				n++
			}
			in = true
		default:
			return false
		}
	}
	return n >= 3
}

// cssURLs returns url(...) targets in an inline style.
func cssURLs(st string) []string {
	var out []string
	l := strings.ToLower(st)
	for {
		i := strings.Index(l, "url(")
		if i < 0 {
			return out
		}
		j := strings.IndexByte(l[i:], ')')
		if j < 0 {
			return out
		}
		u := strings.Trim(strings.TrimSpace(st[i+4:i+j]), `"'`)
		if u != "" {
			out = append(out, u)
		}
		st, l = st[i+j:], l[i+j:]
	}
}

// tidyText collapses runs of blank space the way a renderer does, keeping
// line breaks (at most one blank line in a row): each line's words
// (strings.Fields: U+00A0 is white space too) joined by one space. It reads
// the text once, without a list of lines or of words.
func tidyText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	blank := 0
	for {
		line, rest, more := strings.Cut(s, "\n")
		n := b.Len()
		appendWords(&b, line)
		if b.Len() == n {
			blank++
			if blank == 1 && n > 0 {
				b.WriteByte('\n')
			}
		} else {
			blank = 0
			b.WriteByte('\n')
		}
		if !more {
			break
		}
		s = rest
	}
	return strings.TrimSpace(b.String())
}

// oneSpaced is strings.Join(strings.Fields(s), " ").
func oneSpaced(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	appendWords(&b, s)
	return b.String()
}

// appendWords writes the words of s (as strings.Fields splits it) to b,
// one space between them.
func appendWords(b *strings.Builder, s string) {
	first := true
	for i := 0; i < len(s); {
		// Skip white space.
		for i < len(s) {
			c := s[i]
			if c < utf8.RuneSelf {
				if asciiSpace[c] == 0 {
					break
				}
				i++
				continue
			}
			r, w := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += w
		}
		start := i
		for i < len(s) {
			c := s[i]
			if c < utf8.RuneSelf {
				if asciiSpace[c] != 0 {
					break
				}
				i++
				continue
			}
			r, w := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) {
				break
			}
			i += w
		}
		if i > start {
			if !first {
				b.WriteByte(' ')
			}
			first = false
			b.WriteString(s[start:i])
		}
	}
}

// asciiSpace marks the ASCII bytes strings.Fields splits on.
var asciiSpace = [256]uint8{'\t': 1, '\n': 1, '\v': 1, '\f': 1, '\r': 1, ' ': 1}
