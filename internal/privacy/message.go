package privacy

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"strings"

	"github.com/accord-antispam/accord/internal/mail"
)

// Redacted replaces what identifies a person in evidence.
const Redacted = "[redacted]"

// maxDepth bounds the nesting of multiparts and embedded messages read.
const maxDepth = 30

// Message returns a copy of a raw message with the people's addresses,
// local parts and names redacted wherever they occur: recipient header
// fields lose their whole value, Received "for" clauses their address,
// RFC 2047 words are decoded and re-encoded, quoted-printable and base64
// parts are decoded, redacted and encoded again, and text in any part
// loses percent-encoded, HTML-encoded and base64 spellings too. Parts
// that hold none of it keep their bytes.
func (p People) Message(raw []byte) []byte {
	out := p.entity(raw, 0)
	return p.plain(out)
}

// Bytes redacts their addresses from any text — JSON, logs — in every
// spelling, base64 runs included; it leaves the text's structure alone.
func (p People) Bytes(b []byte) []byte { return p.text(b, false, false) }

// Words redacts, in text the desk exports about them (a verdict's JSON,
// a campaign's summary with its subjects), their addresses in every
// spelling and their local parts and names as whole words: a recipient's
// name in a subject or a display name says to whom the spam went.
func (p People) Words(b []byte) []byte { return p.text(b, true, true) }

// WithPattern returns p that also replaces every match of re with repl
// (as regexp.ReplaceAll expands it) in the message's text once decoded —
// base64 and quoted-printable parts, RFC 2047 words aside: a secret that
// is not a person's address, such as an opt-out token in a link, hidden
// by a transfer encoding from a search of the raw bytes.
func (p People) WithPattern(re *regexp.Regexp, repl string) People {
	p.pattern, p.repl = re, []byte(repl)
	return p
}

// Union is everybody in p and in others.
func (p People) Union(others ...People) People {
	addrs := append([]string(nil), p.Addresses...)
	names := append([]string(nil), p.Names...)
	for _, o := range others {
		addrs = append(addrs, o.Addresses...)
		names = append(names, o.Names...)
	}
	return New(addrs, names)
}

// plain replaces every spelling of their addresses in b.
func (p People) plain(b []byte) []byte {
	return replace(b, p.m().spans(b), Redacted)
}

// text redacts decoded content: addresses in every spelling, base64 runs
// that hold one, and, in text, their local parts and names as words and
// the other forms the links lose (formSpans); with domains, the forms of
// a domain that spells one of them, in a trace field too.
func (p People) text(b []byte, words, domains bool) []byte {
	if p.pattern != nil {
		b = p.pattern.ReplaceAll(b, p.repl)
	}
	b = p.plain(b)
	var hits [][2]int
	for _, sp := range b64Runs(b) {
		if p.decodedHolds(b[sp[0]:sp[1]]) {
			hits = append(hits, sp)
		}
	}
	b = replace(b, hits, Redacted)
	if words || domains {
		b = replace(b, p.formSpans(b, words), Redacted)
	}
	return b
}

// splitEntity cuts an entity at the empty line ending its header.
func splitEntity(b []byte) (header, sep, body []byte) {
	if len(b) > 0 && (b[0] == '\n' || bytes.HasPrefix(b, []byte("\r\n"))) {
		n := 1
		if b[0] == '\r' {
			n = 2
		}
		return nil, b[:n], b[n:]
	}
	i := bytes.Index(b, []byte("\n\r\n"))
	j := bytes.Index(b, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return b[:i+1], b[i+1 : i+3], b[i+3:]
	case j >= 0:
		return b[:j+1], b[j+1 : j+2], b[j+2:]
	}
	return b, nil, nil
}

type field struct {
	name string // Lower-case, "" for a line that is no field.
	raw  []byte // The field's bytes, folded lines and line end included.
}

func splitFields(h []byte) []field {
	var out []field
	for len(h) > 0 {
		end := bytes.IndexByte(h, '\n')
		if end < 0 {
			end = len(h) - 1
		}
		line := h[:end+1]
		if len(out) > 0 && (line[0] == ' ' || line[0] == '\t') {
			out[len(out)-1].raw = append(out[len(out)-1].raw, line...)
		} else {
			f := field{raw: append([]byte(nil), line...)}
			if c := bytes.IndexByte(line, ':'); c > 0 {
				f.name = strings.ToLower(strings.TrimSpace(string(line[:c])))
			}
			out = append(out, f)
		}
		h = h[end+1:]
	}
	return out
}

func eolOf(b []byte) string {
	if bytes.Contains(b, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

// forRe finds the address of a Received "for" clause.
var forRe = regexp.MustCompile(`(?i)(\bfor\s+)<?[^\s<>;()"]+@[^\s<>;()"]+>?`)

// header redacts header fields.
func (p People) header(h []byte) []byte {
	eol := eolOf(h)
	var out bytes.Buffer
	for _, f := range splitFields(h) {
		switch {
		case f.name == "":
			out.Write(p.plain(f.raw))
		case recipientFields[f.name]:
			c := bytes.IndexByte(f.raw, ':')
			out.Write(f.raw[:c+1])
			out.WriteString(" " + Redacted + eol)
		case strings.HasPrefix(f.name, "content-") || f.name == "mime-version":
			// Structure: only addresses, consistently with the body.
			out.Write(p.plain(f.raw))
		default:
			raw := f.raw
			// An address folded across lines ("bob@" CRLF " example.org")
			// is joined first, or no spelling of it would match. Only
			// when the join reveals more than the plain unfolding does:
			// joining every fold without its whitespace glues the
			// words of a trace field ("…13])by mx… id AB3for <…>"), which
			// is evidence too.
			if v := strings.TrimRight(string(raw), "\r\n"); unfoldTight(v) != v && len(p.m().spans([]byte(unfoldTight(v)))) > len(p.m().spans([]byte(unfold(v)))) {
				raw = []byte(unfoldTight(v) + eol)
			}
			if f.name == "received" {
				raw = forRe.ReplaceAll(raw, []byte("${1}<"+Redacted+">"))
			}
			out.Write(p.value(f.name, raw, eol))
		}
	}
	return out.Bytes()
}

// value redacts one field, decoding RFC 2047 words when they hide a
// person.
func (p People) value(name string, raw []byte, eol string) []byte {
	words := name != "received" && name != "message-id" && name != "references" && name != "in-reply-to" &&
		!strings.HasPrefix(name, "dkim") && !strings.HasPrefix(name, "arc-")
	red := p.text(raw, words, true)
	if !bytes.Contains(red, []byte("=?")) {
		return red
	}
	c := bytes.IndexByte(red, ':')
	v := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(string(red[c+1:]), "\r\n", ""), "\n", ""))
	dec, _ := mail.DecodeHeader(v)
	clean := p.text([]byte(dec), words, true)
	if bytes.Equal(clean, []byte(dec)) {
		return red
	}
	return []byte(string(red[:c+1]) + " " + mime.QEncoding.Encode("utf-8", string(clean)) + eol)
}

// entity redacts one MIME entity, its parts and embedded messages.
func (p People) entity(b []byte, depth int) []byte {
	header, sep, body := splitEntity(b)
	if sep == nil {
		// No header/body separation: read it all as header lines.
		return p.header(header)
	}
	fields := splitFields(header)
	var ctype, cte string
	params := map[string]string{}
	for _, f := range fields {
		c := bytes.IndexByte(f.raw, ':')
		if c < 0 {
			continue
		}
		v := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(string(f.raw[c+1:]), "\r\n", ""), "\n", ""))
		switch f.name {
		case "content-type":
			if mt, ps, err := mime.ParseMediaType(v); err == nil {
				ctype, params = mt, ps
			} else {
				ctype = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
				if m := regexp.MustCompile(`(?i)boundary\s*=\s*"?([^";]+)"?`).FindStringSubmatch(v); m != nil {
					params["boundary"] = m[1]
				}
			}
		case "content-transfer-encoding":
			cte = strings.ToLower(v)
		}
	}
	var newBody []byte
	switch {
	case depth >= maxDepth:
		newBody = p.text(body, true, true)
	case strings.HasPrefix(ctype, "multipart/") && params["boundary"] != "":
		newBody = p.multipart(body, params["boundary"], depth)
	case ctype == "message/rfc822" || ctype == "message/global":
		dec, ok := decode(body, cte)
		if !ok {
			newBody = p.text(body, true, true)
			break
		}
		inner := p.entity(dec, depth+1)
		if bytes.Equal(inner, dec) {
			newBody = body
		} else {
			newBody = encode(inner, cte, eolOf(body))
		}
	default:
		isText := ctype == "" || strings.HasPrefix(ctype, "text/")
		dec, ok := decode(body, cte)
		if !ok {
			newBody = p.text(body, isText, isText)
			break
		}
		red := p.text(dec, isText, isText)
		if bytes.Equal(red, dec) {
			newBody = body
		} else {
			newBody = encode(red, cte, eolOf(body))
		}
	}
	var out bytes.Buffer
	out.Write(p.header(header))
	out.Write(sep)
	out.Write(newBody)
	return out.Bytes()
}

// multipart redacts each part between the boundary's delimiter lines,
// keeping the delimiters, preamble and epilogue in place.
func (p People) multipart(body []byte, boundary string, depth int) []byte {
	delim := []byte("--" + boundary)
	var out, seg bytes.Buffer
	inPart := false
	flush := func() {
		b := seg.Bytes()
		if inPart {
			// The line end before a delimiter belongs to the delimiter.
			trail := 0
			if bytes.HasSuffix(b, []byte("\r\n")) {
				trail = 2
			} else if bytes.HasSuffix(b, []byte("\n")) {
				trail = 1
			}
			out.Write(p.entity(b[:len(b)-trail], depth+1))
			out.Write(b[len(b)-trail:])
		} else {
			out.Write(p.text(b, true, true))
		}
		seg.Reset()
	}
	closed := false
	for len(body) > 0 {
		end := bytes.IndexByte(body, '\n')
		if end < 0 {
			end = len(body) - 1
		}
		line := body[:end+1]
		body = body[end+1:]
		t := bytes.TrimRight(line, " \t\r\n")
		if !closed && bytes.HasPrefix(t, delim) && (len(t) == len(delim) || bytes.Equal(t[len(delim):], []byte("--"))) {
			flush()
			out.Write(line)
			if len(t) == len(delim)+2 {
				closed = true
				inPart = false
			} else {
				inPart = true
			}
			continue
		}
		seg.Write(line)
	}
	flush()
	return out.Bytes()
}

// decode removes a transfer encoding; ok is false when the body is not
// what its encoding says.
func decode(b []byte, cte string) ([]byte, bool) {
	switch cte {
	case "base64":
		s := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, string(b))
		out, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			out, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
		}
		return out, err == nil
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
		return out, err == nil
	}
	return b, true
}

// encode applies a transfer encoding again.
func encode(b []byte, cte, eol string) []byte {
	switch cte {
	case "base64":
		s := base64.StdEncoding.EncodeToString(b)
		var out bytes.Buffer
		for len(s) > 76 {
			out.WriteString(s[:76] + eol)
			s = s[76:]
		}
		out.WriteString(s + eol)
		return out.Bytes()
	case "quoted-printable":
		var out bytes.Buffer
		w := quotedprintable.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	return b
}

// Leaks lists which of their addresses still occur in a message in any
// form a reader or a program could recover: the raw bytes, the header
// unfolded (without the whitespace a fold leaves: "bob@" and
// "example.org" on two lines), every header field decoded, every part
// decoded from its transfer encoding and charset, percent-encoded and
// HTML-encoded spellings, base64 runs, and what archives and compressed
// attachments hold (see archive.go). An attachment that cannot be opened
// is listed as "unreadable attachment: …": what cannot be shown clean is
// not clean.
func (p People) Leaks(msg []byte) []string {
	m := mail.ParseBytes(msg, mail.Limits{MaxBytes: int64(len(msg)) + 1})
	texts := [][]byte{msg, []byte(unfoldTight(string(msg)))}
	headers := []mail.Header{m.Header}
	var found []string
	o := &opened{budget: inspectBudget}
	for _, part := range m.Parts {
		headers = append(headers, part.Header)
		texts = append(texts, part.Body, []byte(part.Text))
		switch {
		case part.IsText():
			// Text in a charset the parser does not know was read as a
			// guess: UTF-32 is decoded here; any other is not certain.
			if t, ok := utf32Text(part.Charset, part.Body); ok {
				texts = append(texts, t)
			} else if !mail.KnownCharset(part.Charset) && o.opaque == "" {
				o.opaque = "text in a charset that cannot be read with certainty (" + part.Charset + ")"
			}
		case !part.IsMultipart():
			o.open(part.Body, 0)
		}
	}
	texts = append(texts, o.texts...)
	if o.opaque != "" && !p.Empty() {
		found = append(found, "unreadable attachment: "+o.opaque)
	}
	for _, h := range headers {
		for _, f := range h.Fields {
			d, _ := mail.DecodeHeader(f.Value)
			texts = append(texts, []byte(f.Value), []byte(d))
		}
	}
	pm := p.m()
	hit := make([]bool, len(pm.addrs))
	for _, t := range texts {
		pm.holdsEach(t, hit)
	}
	for i, h := range hit {
		if h {
			found = append(found, string(pm.addrs[i]))
		}
	}
	for _, l := range pm.latin {
		if indexFold(msg, l) >= 0 {
			found = append(found, string(l))
		}
	}
	for _, t := range texts {
		for _, sp := range b64Runs(t) {
			if tok := t[sp[0]:sp[1]]; p.decodedHolds(tok) {
				found = append(found, "base64:"+string(tok))
			}
		}
	}
	return found
}
