package mail

import (
	"bytes"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

type parser struct {
	m       *Message
	lim     Limits
	decoded int64
	text    int64 // bytes given to toUTF8 so far
	stopped bool  // part limit reached
}

func (p *parser) defect(code, part, detail string) { p.m.defect(code, part, detail) }

// parseEntity parses one entity (header + body) starting at b, which sits at
// offset off of the raw message. defType is the default content type (RFC
// 2046: text/plain, or message/rfc822 inside multipart/digest).
func (p *parser) parseEntity(b []byte, off, depth int, id, defType string, embedded bool) *Part {
	part := &Part{ID: id, Depth: depth, Embedded: embedded, Offset: off, End: -1}
	if off >= 0 {
		part.End = off + len(b)
	}
	p.m.Parts = append(p.m.Parts, part)
	h, bodyStart := p.parseHeader(b, partLabel(id))
	part.Header = h
	body := b[bodyStart:]
	p.contentType(part, defType)
	part.Encoding = strings.ToLower(strings.TrimSpace(stripComments(h.Get("Content-Transfer-Encoding"))))
	p.disposition(part)

	switch {
	case part.IsMultipart():
		if part.Encoding == "base64" || part.Encoding == "quoted-printable" {
			p.defect(DefectMultipartEncoded, partLabel(id), part.Encoding)
		}
		boundary := part.Params["boundary"]
		if boundary == "" {
			p.defect(DefectMissingBoundary, partLabel(id), part.ContentType)
			part.ContentType = "text/plain"
			p.leaf(part, body)
			return part
		}
		if depth+1 > p.lim.MaxDepth {
			p.defect(DefectDepthLimit, partLabel(id), fmt.Sprintf("deeper than %d levels", p.lim.MaxDepth))
			return part
		}
		childType := "text/plain"
		if part.ContentType == "multipart/digest" {
			childType = "message/rfc822"
		}
		// Collect no more bodies than the part budget can take (one more, so
		// that the limit is reported): a message of nothing but delimiter
		// lines would otherwise cost a span per line before the limit applies.
		bodies, found, closed, cut := splitMultipart(body, boundary, max(p.lim.MaxParts-len(p.m.Parts), 0)+1)
		if !found {
			p.defect(DefectBoundaryNotFound, partLabel(id), clip(boundary, 70))
			// Show what there is, as a client would: as text.
			part.ContentType = "text/plain"
			p.leaf(part, body)
			return part
		}
		if !closed && !cut {
			p.defect(DefectMissingCloseDelim, partLabel(id), clip(boundary, 70))
		}
		bodyOff := off + bodyStart
		if off < 0 {
			bodyOff = -1
		}
		for i, cb := range bodies {
			if p.full(id) {
				break
			}
			childOff := bodyOff + cb.off
			if bodyOff < 0 {
				childOff = -1
			}
			child := p.parseEntity(cb.data, childOff, depth+1, childID(id, i+1), childType, false)
			part.Children = append(part.Children, child)
		}
	case part.ContentType == "message/rfc822" || part.ContentType == "message/global":
		data := p.decode(part, body)
		part.Body = data // The embedded message's bytes, decoded.
		if depth+1 > p.lim.MaxDepth {
			p.defect(DefectDepthLimit, partLabel(id), fmt.Sprintf("deeper than %d levels", p.lim.MaxDepth))
			return part
		}
		if p.full(id) {
			return part
		}
		childOff := off + bodyStart
		if off < 0 || part.Encoding == "base64" || part.Encoding == "quoted-printable" {
			childOff = -1 // Not a slice of Raw.
		}
		child := p.parseEntity(data, childOff, depth+1, childID(id, 1), "text/plain", true)
		part.Children = append(part.Children, child)
	default:
		p.leaf(part, body)
	}
	return part
}

func (p *parser) full(id string) bool {
	if len(p.m.Parts) >= p.lim.MaxParts {
		if !p.stopped {
			p.defect(DefectPartLimit, partLabel(id), fmt.Sprintf("more than %d parts; the rest was skipped", p.lim.MaxParts))
			p.stopped = true
		}
		return true
	}
	return false
}

func (p *parser) leaf(part *Part, body []byte) {
	part.Body = p.decode(part, body)
	if part.IsText() {
		b := part.Body
		left := max(p.lim.MaxTextBytes-p.text, 0)
		var s string
		ok := true
		if int64(len(b)) > left {
			// Keep the start and the end, where senders identify themselves
			// and offer the opt-out; converting every byte of a huge text
			// would cost up to three times its size again.
			p.defect(DefectTextLimit, partLabel(part.ID), fmt.Sprintf("text parts over %d bytes; the middle of this one was left out", p.lim.MaxTextBytes))
			h, t := left/2, left-left/2
			s1, ok1 := toUTF8(part.Charset, b[:h])
			s2, ok2 := toUTF8(part.Charset, b[int64(len(b))-t:])
			s, ok = strings.ToValidUTF8(s1, "")+"\n…\n"+strings.ToValidUTF8(s2, ""), ok1 && ok2
			p.text += left
		} else {
			s, ok = toUTF8(part.Charset, b)
			p.text += int64(len(b))
		}
		if !ok {
			p.defect(DefectBadCharset, partLabel(part.ID), part.Charset)
		}
		part.Text = s
	}
}

// decode removes the transfer encoding, within the decoded-size budget.
func (p *parser) decode(part *Part, body []byte) []byte {
	var out []byte
	switch part.Encoding {
	case "", "7bit", "8bit", "binary":
		out = body
	case "base64":
		var bad bool
		out, bad = decodeBase64(body)
		if bad {
			p.defect(DefectBadBase64, partLabel(part.ID), "")
		}
	case "quoted-printable":
		var bad bool
		out, bad = decodeQP(body)
		if bad {
			p.defect(DefectBadQP, partLabel(part.ID), "")
		}
	default:
		p.defect(DefectUnknownEncoding, partLabel(part.ID), clip(part.Encoding, 40))
		out = body
	}
	if p.decoded+int64(len(out)) > p.lim.MaxDecodedBytes {
		keep := p.lim.MaxDecodedBytes - p.decoded
		if keep < 0 {
			keep = 0
		}
		p.defect(DefectDecodedLimit, partLabel(part.ID), fmt.Sprintf("decoded bytes over %d", p.lim.MaxDecodedBytes))
		out = out[:keep]
	}
	p.decoded += int64(len(out))
	return out
}

func (p *parser) contentType(part *Part, defType string) {
	v := part.Header.Get("Content-Type")
	part.ContentType = defType
	part.Params = map[string]string{}
	if strings.TrimSpace(v) == "" {
		return
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		mt, params = lenientMediaType(v)
		if mt == "" || !strings.Contains(mt, "/") {
			p.defect(DefectBadContentType, partLabel(part.ID), clip(v, 80))
			mt = defType
		} else if err != mime.ErrInvalidMediaParameter {
			p.defect(DefectBadContentType, partLabel(part.ID), clip(v, 80))
		}
	}
	part.ContentType = strings.ToLower(mt)
	part.Params = params
	if cs, ok := params["charset"]; ok {
		part.Charset = strings.ToLower(strings.Trim(cs, `"' `))
		if part.IsText() && !knownCharset(part.Charset) {
			p.defect(DefectUnknownCharset, partLabel(part.ID), clip(part.Charset, 40))
		}
	}
	if n := params["name"]; n != "" && part.Filename == "" {
		part.Filename = decodeFilename(n)
	}
}

func (p *parser) disposition(part *Part) {
	v := part.Header.Get("Content-Disposition")
	if v == "" {
		return
	}
	d, params, err := mime.ParseMediaType(v)
	if err != nil {
		d, params = lenientMediaType(v)
	}
	d = strings.ToLower(d)
	if d == "inline" || d == "attachment" {
		part.Disposition = d
	}
	if n := params["filename"]; n != "" {
		part.Filename = decodeFilename(n)
	}
}

func decodeFilename(n string) string {
	s, _ := DecodeHeader(n)
	return strings.TrimSpace(s)
}

// lenientMediaType splits "type/sub; a=b; c="d"" without failing on the
// malformations that mime.ParseMediaType rejects (duplicate or unquoted
// parameters with special characters, stray semicolons).
func lenientMediaType(v string) (string, map[string]string) {
	params := map[string]string{}
	parts := splitParams(v)
	if len(parts) == 0 {
		return "", params
	}
	mt := strings.ToLower(strings.TrimSpace(parts[0]))
	if i := strings.IndexAny(mt, " \t"); i >= 0 {
		mt = mt[:i]
	}
	for _, kv := range parts[1:] {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
			val = strings.ReplaceAll(val, `\"`, `"`)
		}
		if _, dup := params[k]; !dup && k != "" {
			params[k] = val
		}
	}
	return mt, params
}

// splitParams splits on semicolons outside quoted strings.
func splitParams(v string) []string {
	var out []string
	inQ := false
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQ = !inQ
		case '\\':
			if inQ {
				i++
			}
		case ';':
			if !inQ {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

type span struct {
	data []byte
	off  int
}

// splitMultipart returns the bodies between delimiter lines, at most limit
// of them. Per RFC 2046 the line break before a delimiter belongs to the
// delimiter. found is false when no delimiter line exists; closed is false
// when the close delimiter is missing (the last body then runs to the end);
// cut is true when the scan stopped after limit bodies.
func splitMultipart(b []byte, boundary string, limit int) (parts []span, found, closed, cut bool) {
	delim := []byte("--" + boundary)
	pos := 0
	start := -1
	for pos <= len(b) {
		i := bytes.Index(b[pos:], delim)
		if i < 0 {
			break
		}
		at := pos + i
		// Must start a line.
		if at > 0 && b[at-1] != '\n' {
			pos = at + len(delim)
			continue
		}
		after := at + len(delim)
		isClose := bytes.HasPrefix(b[after:], []byte("--"))
		rest := after
		if isClose {
			rest += 2
		}
		// The rest of the line may only be whitespace (transport padding).
		lineEnd := bytes.IndexByte(b[rest:], '\n')
		var tail []byte
		if lineEnd < 0 {
			tail = b[rest:]
			lineEnd = len(b) - rest
		} else {
			tail = b[rest : rest+lineEnd]
		}
		if len(bytes.TrimRight(tail, " \t\r")) != 0 {
			// "--boundaryX" where boundary is a prefix of another one.
			pos = after
			continue
		}
		found = true
		if start >= 0 {
			end := at
			if end > 0 && b[end-1] == '\n' {
				end--
				if end > start && b[end-1] == '\r' {
					end--
				}
			}
			if end < start {
				end = start
			}
			parts = append(parts, span{data: b[start:end], off: start})
			if len(parts) >= limit {
				return parts, true, false, true
			}
		}
		next := rest + lineEnd + 1
		if next > len(b) {
			next = len(b)
		}
		if isClose {
			return parts, true, true, false
		}
		start = next
		pos = next
		if pos >= len(b) {
			break
		}
	}
	if start >= 0 && start <= len(b) {
		parts = append(parts, span{data: b[start:], off: start})
	}
	return parts, found, false, false
}

func childID(parent string, n int) string {
	if parent == "0" {
		return strconv.Itoa(n)
	}
	return parent + "." + strconv.Itoa(n)
}

func partLabel(id string) string {
	if id == "0" {
		return ""
	}
	return id
}
