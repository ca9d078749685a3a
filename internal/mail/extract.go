package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Content is what a reader of the message sees and can act on: its text,
// its links, the addresses and numbers it asks them to contact, and its
// attachments.
type Content struct {
	Text        string       // text/plain parts, joined; at most MaxContentText bytes.
	HTMLText    string       // text/html parts rendered as text, joined; at most MaxContentText bytes.
	TextCut     bool         // Text or HTMLText was longer: its middle was left out.
	URLsCut     bool         // More than MaxURLs distinct links: the rest were left out.
	URLs        []URL        // Every distinct link, in order of appearance.
	Emails      []string     // Distinct addresses mentioned in the text and links.
	Phones      []string     // Distinct telephone numbers.
	Attachments []Attachment // Leaves shown as attachments.
	HTML        HTMLInfo

	lower lowered // Text and HTMLText lower-cased, set by Extract
}

type lowered struct{ text, html, lower string }

// Lower returns strings.ToLower(c.Text + "\n" + c.HTMLText), the text the
// opt-out, commercial and phishing checks read. Extract lower-cases once;
// a Content built or changed by hand is lower-cased on each call.
func (c *Content) Lower() string {
	if c.lower.lower != "" && c.lower.text == c.Text && c.lower.html == c.HTMLText {
		return c.lower.lower
	}
	return strings.ToLower(c.Text + "\n" + c.HTMLText)
}

// lowerJoined is strings.ToLower(a + "\n" + b), built in one buffer. The
// text is mostly ASCII with a few other characters (a no-break space from
// every &nbsp;), for which strings.ToLower maps the whole text a rune at
// a time; here only those are decoded. Lower-casing the parts one by one
// gives the same: no rune spans the "\n" between them.
func lowerJoined(a, b string) string {
	var sb strings.Builder
	sb.Grow(len(a) + 1 + len(b))
	appendLower(&sb, a)
	sb.WriteByte('\n')
	appendLower(&sb, b)
	return sb.String()
}

// appendLower writes strings.ToLower(s) to sb: the same bytes, invalid
// UTF-8 replaced by U+FFFD as strings.Map (which ToLower uses for text
// that is not all ASCII) replaces it.
func appendLower(sb *strings.Builder, s string) {
	start := 0 // s[start:i] is written as it is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				sb.WriteString(s[start:i])
				sb.WriteByte(c + 'a' - 'A')
				start = i + 1
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		switch lr := unicode.ToLower(r); {
		case r == utf8.RuneError && w == 1:
			sb.WriteString(s[start:i])
			sb.WriteRune(utf8.RuneError)
			start = i + 1
		case lr != r:
			sb.WriteString(s[start:i])
			sb.WriteRune(lr)
			start = i + w
		}
		i += w
	}
	sb.WriteString(s[start:])
}

// Attachment describes one attached file.
type Attachment struct {
	Part         string   `json:"part"`
	Name         string   `json:"name,omitempty"`
	ContentType  string   `json:"content_type"`
	DetectedType string   `json:"detected_type"` // From the bytes, not the label.
	Size         int      `json:"size"`
	SHA256       string   `json:"sha256"`
	Flags        []string `json:"flags"` // executable, double-extension, type-mismatch.
}

// maxTextScan bounds the text scanned for links, addresses and numbers.
const maxTextScan = 1 << 20

// MaxContentText bounds Content.Text and Content.HTMLText each. A longer
// text keeps its first and last halves: who sent it and how to opt out sit
// in the header lines and the footer. Nothing downstream reads more, and a
// 32 MiB text then costs no 32 MiB copies in every check that reads it.
const MaxContentText = 1 << 20

// MaxURLs bounds the distinct links kept. Real mail has tens; a message of
// a hundred thousand links is an attack on whoever reads the verdict.
const MaxURLs = 1000

// Extract gathers the content of m. It does no I/O.
func Extract(m *Message) *Content {
	c := &Content{}
	var plain, htmlText []string
	seenURL := map[string]bool{}
	addURL := func(u URL) {
		if seenURL[u.URL] {
			return
		}
		if len(c.URLs) >= MaxURLs {
			c.URLsCut = true
			return
		}
		seenURL[u.URL] = true
		c.URLs = append(c.URLs, u)
	}
	for _, p := range m.TextParts() {
		switch p.ContentType {
		case "text/html":
			t, links, info := htmlToText(p.Text)
			htmlText = append(htmlText, t)
			c.HTML.Links += info.Links
			c.HTML.Images += info.Images
			c.HTML.Forms += info.Forms
			c.HTML.Scripts += info.Scripts
			c.HTML.HiddenText = c.HTML.HiddenText || info.HiddenText
			c.HTML.HiddenProse = c.HTML.HiddenProse || info.HiddenProse
			c.HTML.RemoteImage = c.HTML.RemoteImage || info.RemoteImage
			for _, l := range links {
				if strings.HasPrefix(strings.ToLower(l.URL), "mailto:") {
					if a := mailtoAddress(l.URL); a != "" {
						c.Emails = append(c.Emails, a)
					}
					continue
				}
				if len(c.URLs) >= MaxURLs {
					c.URLsCut = true
					continue
				}
				if u, ok := normalizeURL(l.URL, l.Source); ok {
					u.Text = clip(l.Text, 200)
					addURL(u)
				}
			}
		default:
			plain = append(plain, p.Text)
		}
	}
	var cut1, cut2 bool
	c.Text, cut1 = joinBounded(plain, MaxContentText)
	c.Text = strings.TrimSpace(c.Text)
	c.HTMLText, cut2 = joinBounded(htmlText, MaxContentText)
	c.TextCut = cut1 || cut2
	c.lower = lowered{c.Text, c.HTMLText, lowerJoined(c.Text, c.HTMLText)}
	scan := c.Text
	if len(scan) < maxTextScan {
		scan += "\n" + c.HTMLText[:min(len(c.HTMLText), maxTextScan-len(scan))]
	}
	scan = scan[:min(len(scan), maxTextScan)]
	for _, u := range textURLs(scan) {
		addURL(u)
	}
	c.Emails = uniq(append(c.Emails, textEmails(scan)...))
	c.Phones = uniq(textPhones(scan))
	for _, p := range m.Attachments() {
		c.Attachments = append(c.Attachments, describeAttachment(p))
	}
	return c
}

// joinBounded joins texts with blank lines; when the result would be longer
// than n it keeps the first and last n/2 bytes (on rune boundaries) around a
// marker line, without building the whole.
func joinBounded(texts []string, n int) (string, bool) {
	total := 0
	for i, t := range texts {
		if i > 0 {
			total += 2
		}
		total += len(t)
	}
	if total <= n {
		return strings.Join(texts, "\n\n"), false
	}
	var b strings.Builder
	b.Grow(n + 16)
	head, tail := n/2, n/2
	// The head: from the start.
	for i, t := range texts {
		if i > 0 {
			t = "\n\n" + t
		}
		if len(t) >= head {
			b.WriteString(strings.ToValidUTF8(t[:head], ""))
			break
		}
		b.WriteString(t)
		head -= len(t)
	}
	b.WriteString("\n…\n")
	// The tail: collected from the end.
	var parts []string
	for i := len(texts) - 1; i >= 0 && tail > 0; i-- {
		t := texts[i]
		if i > 0 {
			t = "\n\n" + t
		}
		if len(t) >= tail {
			parts = append(parts, strings.ToValidUTF8(t[len(t)-tail:], ""))
			break
		}
		parts = append(parts, t)
		tail -= len(t)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return b.String(), true
}

func mailtoAddress(u string) string {
	a := u[len("mailto:"):]
	if i := strings.IndexAny(a, "?#"); i >= 0 {
		a = a[:i]
	}
	a = strings.TrimSpace(a)
	if d := DomainOf(a); d == "" || !validHost(d) {
		return ""
	}
	return a[:strings.LastIndexByte(a, '@')+1] + DomainOf(a)
}

func uniq(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(s))
	out := make([]string, 0, len(s))
	for _, v := range s {
		k := strings.ToLower(v)
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

var executableExt = map[string]bool{
	".exe": true, ".scr": true, ".pif": true, ".com": true, ".bat": true, ".cmd": true, ".vbs": true,
	".vbe": true, ".js": true, ".jse": true, ".wsf": true, ".wsh": true, ".hta": true, ".msi": true,
	".jar": true, ".lnk": true, ".cpl": true, ".dll": true, ".ps1": true, ".reg": true, ".iso": true,
}

func describeAttachment(p *Part) Attachment {
	sum := sha256.Sum256(p.Body)
	a := Attachment{
		Part:         p.ID,
		Name:         p.Filename,
		ContentType:  p.ContentType,
		DetectedType: detectType(p.Body),
		Size:         len(p.Body),
		SHA256:       hex.EncodeToString(sum[:]),
	}
	name := strings.ToLower(p.Filename)
	ext := path.Ext(name)
	if executableExt[ext] || a.DetectedType == "application/x-msdownload" {
		a.Flags = append(a.Flags, "executable")
	}
	if base := strings.TrimSuffix(name, ext); ext != "" && executableExt[ext] && path.Ext(base) != "" {
		a.Flags = append(a.Flags, "double-extension")
	}
	if mismatch(a.ContentType, a.DetectedType) {
		a.Flags = append(a.Flags, "type-mismatch")
	}
	return a
}

// detectType sniffs the media type from the first bytes.
func detectType(b []byte) string {
	switch {
	case len(b) == 0:
		return "application/x-empty"
	case bytes.HasPrefix(b, []byte("MZ")):
		return "application/x-msdownload"
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return "application/x-executable"
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return "application/zip"
	case bytes.HasPrefix(b, []byte("Rar!")):
		return "application/x-rar"
	case bytes.HasPrefix(b, []byte("\xd0\xcf\x11\xe0")):
		return "application/x-ole-storage"
	}
	t := http.DetectContentType(b)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	return t
}

func mismatch(declared, detected string) bool {
	if detected == "application/x-msdownload" || detected == "application/x-executable" {
		return !strings.Contains(declared, "msdownload") && !strings.Contains(declared, "executable") && declared != "application/octet-stream"
	}
	dm, _, _ := strings.Cut(declared, "/")
	tm, _, _ := strings.Cut(detected, "/")
	if dm == "image" && tm != "image" && detected != "application/octet-stream" {
		return true
	}
	return false
}
