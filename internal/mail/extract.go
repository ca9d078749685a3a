package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path"
	"strings"
)

// Content is what a reader of the message sees and can act on: its text,
// its links, the addresses and numbers it asks them to contact, and its
// attachments.
type Content struct {
	Text        string       // text/plain parts, joined.
	HTMLText    string       // text/html parts rendered as text, joined.
	URLs        []URL        // Every distinct link, in order of appearance.
	Emails      []string     // Distinct addresses mentioned in the text and links.
	Phones      []string     // Distinct telephone numbers.
	Attachments []Attachment // Leaves shown as attachments.
	HTML        HTMLInfo
}

// Attachment describes one attached file.
type Attachment struct {
	Part         string   `json:"part"`
	Name         string   `json:"name,omitempty"`
	ContentType  string   `json:"content_type"`
	DetectedType string   `json:"detected_type"` // From the bytes, not the label.
	Size         int      `json:"size"`
	SHA256       string   `json:"sha256"`
	Flags        []string `json:"flags,omitempty"` // executable, double-extension, type-mismatch.
}

// maxTextScan bounds the text scanned for links, addresses and numbers.
const maxTextScan = 1 << 20

// Extract gathers the content of m. It does no I/O.
func Extract(m *Message) *Content {
	c := &Content{}
	var plain, htmlText []string
	seenURL := map[string]bool{}
	addURL := func(u URL) {
		if seenURL[u.URL] {
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
			c.HTML.RemoteImage = c.HTML.RemoteImage || info.RemoteImage
			for _, l := range links {
				if strings.HasPrefix(strings.ToLower(l.URL), "mailto:") {
					if a := mailtoAddress(l.URL); a != "" {
						c.Emails = append(c.Emails, a)
					}
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
	c.Text = strings.TrimSpace(strings.Join(plain, "\n\n"))
	c.HTMLText = strings.Join(htmlText, "\n\n")
	scan := c.Text + "\n" + c.HTMLText
	if len(scan) > maxTextScan {
		scan = scan[:maxTextScan]
	}
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
