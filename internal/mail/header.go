package mail

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Field is one header field. Value is unfolded (line breaks removed, the
// folding whitespace kept) and not decoded: RFC 2047 words are still encoded.
type Field struct {
	Name  string // As written.
	Value string // Unfolded raw value, leading whitespace trimmed.
}

// Header is an ordered list of fields, as they appear (newest trace fields
// first).
type Header struct {
	Fields []Field
}

// Get returns the first value of the named field (case-insensitive), or "".
func (h Header) Get(name string) string {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether the named field is present.
func (h Header) Has(name string) bool {
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Values returns every value of the named field, in order.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Indexes returns the positions in Fields of the named field.
func (h Header) Indexes(name string) []int {
	var out []int
	for i, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, i)
		}
	}
	return out
}

// Count returns how many times the named field occurs.
func (h Header) Count(name string) int {
	n := 0
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

// Outer returns the fields the last sender of the message as a whole
// wrote. A redirected message (RFC 5322 section 3.6.6) keeps its author's
// header and gets a block of Resent- fields prepended, with the trace
// fields of its new journey above: those are the redirect's own, and every
// field below the first Resent- block is the redirected message's, written
// by its author (a spammer's Auto-Submitted or List-Unsubscribe says
// nothing about who redirected it). A message with no Resent- field is all
// its own.
func (h Header) Outer() Header {
	end := -1
	for i, f := range h.Fields {
		resent := len(f.Name) > 7 && strings.EqualFold(f.Name[:7], "resent-")
		if resent {
			end = i + 1
		} else if end >= 0 {
			break
		}
	}
	if end < 0 {
		return h
	}
	return Header{Fields: h.Fields[:end:end]}
}

// singletons may appear at most once (RFC 5322 section 3.6). More than one is
// how header injection through web forms usually shows.
var singletons = []string{"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "In-Reply-To", "References"}

// parseHeader reads a header block from b. It returns the header and the
// offset in b where the body starts. A line that is neither a field nor a
// continuation ends the header block (defect missing-header-separator), as in
// mail clients: what follows is shown as body.
func (p *parser) parseHeader(b []byte, part string) (Header, int) {
	var h Header
	var cur *bytes.Buffer
	var curName string
	size := 0
	flush := func() {
		if cur == nil {
			return
		}
		v := cur.String()
		h.Fields = append(h.Fields, Field{Name: curName, Value: strings.TrimLeft(v, " \t")})
		cur = nil
	}
	pos := 0
	limited := false
	for pos < len(b) {
		line, _ := cutLine(b[pos:])
		next := pos + len(line)
		content := bytes.TrimRight(line, "\n")
		content = bytes.TrimSuffix(content, []byte("\r"))
		if len(content) == 0 {
			flush()
			return h, next
		}
		if len(content) > 998 {
			p.defect(DefectHeaderLineLong, part, fmt.Sprintf("%d octets", len(content)))
		}
		if bytes.IndexByte(content, 0) >= 0 {
			p.defect(DefectHeaderNUL, part, "")
			content = bytes.ReplaceAll(content, []byte{0}, nil)
		}
		if i := bytes.IndexByte(content, '\r'); i >= 0 {
			p.defect(DefectBareCR, part, "")
			content = bytes.ReplaceAll(content, []byte{'\r'}, []byte{' '})
		}
		size += len(line)
		if len(content) == 0 {
			pos = next // a line of NULs: nothing left to read
			continue
		}
		if limited || size > p.lim.MaxHeaderBytes || len(h.Fields) >= p.lim.MaxHeaders {
			if !limited {
				p.defect(DefectHeaderLimit, part, "header block too large; the rest of it was skipped")
				flush()
				limited = true
			}
			pos = next
			continue
		}
		if content[0] == ' ' || content[0] == '\t' {
			if cur == nil {
				p.defect(DefectHeaderContinuation, part, "")
			} else {
				cur.Write(content)
			}
			pos = next
			continue
		}
		colon := bytes.IndexByte(content, ':')
		name := content
		if colon >= 0 {
			name = content[:colon]
		}
		trimmed := bytes.TrimRight(name, " \t")
		if colon <= 0 || len(trimmed) == 0 || !validFieldName(trimmed) {
			// The mbox convention escapes body "From " lines; a ">From "
			// line in a header block is such an artefact, not a defect.
			if bytes.HasPrefix(content, []byte(">From ")) || bytes.HasPrefix(content, []byte("From ")) && len(h.Fields) == 0 && cur == nil {
				pos = next
				continue
			}
			flush()
			p.defect(DefectNoHeaderSeparator, part, fmt.Sprintf("line %q", clip(string(content), 60)))
			return h, pos
		}
		if len(trimmed) != len(name) {
			p.defect(DefectHeaderNameSpace, part, string(trimmed))
		}
		flush()
		curName = string(trimmed)
		cur = &bytes.Buffer{}
		cur.Write(content[colon+1:])
		pos = next
	}
	flush()
	return h, len(b)
}

func validFieldName(b []byte) bool {
	for _, c := range b {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

func (p *parser) checkHeaderText(h Header, part string) {
	for _, f := range h.Fields {
		if !utf8.ValidString(f.Value) {
			p.defect(DefectHeader8Bit, part, f.Name)
			break
		}
	}
}

func (p *parser) checkTopHeader() {
	h := p.m.Header
	p.checkHeaderText(h, "")
	for _, n := range singletons {
		if c := h.Count(n); c > 1 {
			p.defect(DefectDuplicateSingleton, "", fmt.Sprintf("%s appears %d times", n, c))
		}
	}
	if !h.Has("From") {
		p.defect(DefectMissingFrom, "", "")
	}
	if d := h.Get("Date"); d == "" {
		p.defect(DefectMissingDate, "", "")
	} else if _, err := ParseDate(d); err != nil {
		p.defect(DefectBadDate, "", clip(d, 60))
	}
	if strings.TrimSpace(h.Get("Message-ID")) == "" {
		p.defect(DefectMissingMessageID, "", "")
	}
	// Header injection: header syntax smuggled inside a single-line field,
	// or CR/LF hidden in an encoded word.
	for _, name := range []string{"Subject", "From", "To", "Reply-To", "Cc"} {
		for _, v := range h.Values(name) {
			dec, err := DecodeHeader(v)
			if err != nil {
				p.defect(DefectBadEncodedWord, "", name)
			}
			if strings.ContainsAny(dec, "\r\n") {
				p.defect(DefectHeaderInjection, "", name+" contains an encoded line break")
			} else if looksInjected(v) {
				p.defect(DefectHeaderInjection, "", name+" contains another header field")
			}
		}
	}
}

// looksInjected spots "\nBcc:"-style payloads that survived as text, such as
// "Subject: hello%0ABcc: victim@example" or a literal "bcc:" after the value.
func looksInjected(v string) bool {
	l := strings.ToLower(v)
	for _, marker := range []string{"%0a", "%0d", "\\n", "\\r"} {
		if i := strings.Index(l, marker); i >= 0 {
			rest := strings.TrimLeft(l[i+len(marker):], "%0ad\\nr ")
			for _, f := range []string{"bcc:", "cc:", "to:", "content-type:", "from:"} {
				if strings.HasPrefix(rest, f) {
					return true
				}
			}
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// SplitHeader returns a raw message's header (with its last line end)
// and its body, whichever line ends it uses; a message with no blank
// line is all header.
func SplitHeader(raw []byte) (header, body []byte) {
	i := bytes.Index(raw, []byte("\n\n"))
	j := bytes.Index(raw, []byte("\n\r\n"))
	switch {
	case j >= 0 && (i < 0 || j < i):
		return raw[:j+1], raw[j+3:]
	case i >= 0:
		return raw[:i+1], raw[i+2:]
	}
	return raw, nil
}

// CanonicalBody is a body as a mark over it is computed: LF line ends and
// trailing blank lines dropped, so that a relay rewriting line ends or the
// final newline does not break the mark.
func CanonicalBody(body []byte) []byte {
	return bytes.TrimRight(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), "\n")
}

// FieldValues returns the unfolded values of the fields called name
// (case-insensitively) in a raw header, in order. It walks the header once
// without copying it: the filter's doors call it on every message.
func FieldValues(header []byte, name string) []string {
	var out []string
	cur := -1
	for len(header) > 0 {
		line := header
		if i := bytes.IndexByte(header, '\n'); i >= 0 {
			line, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if cur >= 0 {
				out[cur] += " " + strings.TrimSpace(string(line))
			}
			continue
		}
		cur = -1
		if len(line) > len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			if rest := bytes.TrimLeft(line[len(name):], " \t"); len(rest) > 0 && rest[0] == ':' {
				out = append(out, strings.TrimSpace(string(rest[1:])))
				cur = len(out) - 1
			}
		}
	}
	return out
}

// DropFields returns a raw header block without the named field, with its
// continuation lines, wherever it occurs (case-insensitive). Every other
// byte is kept as it was, CRLF or LF alike, so that what a sender signed
// over the remaining fields still verifies.
func DropFields(header []byte, name string) []byte {
	var out bytes.Buffer
	out.Grow(len(header))
	skip := false
	for _, line := range bytes.SplitAfter(header, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !skip {
				out.Write(line)
			}
			continue
		}
		i := bytes.IndexByte(line, ':')
		skip = i > 0 && strings.EqualFold(strings.TrimSpace(string(line[:i])), name)
		if !skip {
			out.Write(line)
		}
	}
	return out.Bytes()
}
