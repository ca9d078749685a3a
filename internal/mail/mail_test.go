package mail

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func load(t testing.TB, name string) *Message {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "parse", name))
	if err != nil {
		t.Fatal(err)
	}
	return ParseBytes(b, Limits{})
}

func codes(m *Message) []string {
	var out []string
	for _, d := range m.Defects {
		out = append(out, d.Code)
	}
	return out
}

func TestMultipartTree(t *testing.T) {
	m := load(t, "multipart.eml")
	if len(m.Defects) != 0 {
		t.Errorf("defects on a well-formed message: %v", m.Defects)
	}
	subj, err := DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subj != "Offre spéciale for you" {
		t.Errorf("subject = %q, %v", subj, err)
	}
	var ids []string
	for _, p := range m.Parts {
		ids = append(ids, p.ID+":"+p.ContentType)
	}
	want := []string{"0:multipart/mixed", "1:multipart/alternative", "1.1:text/plain", "1.2:text/html",
		"2:application/octet-stream", "3:message/rfc822", "3.1:text/plain"}
	if !slices.Equal(ids, want) {
		t.Fatalf("parts = %v\nwant %v", ids, want)
	}
	if got := m.Parts[2].Text; !strings.Contains(got, "Prix spécial") {
		t.Errorf("QP latin-1 text = %q", got)
	}
	if !m.Parts[6].Embedded || m.Parts[6].Header.Get("Subject") != "forwarded" {
		t.Errorf("attached message not parsed: %+v", m.Parts[6])
	}
	if !bytes.HasPrefix(m.Parts[4].Body, []byte("MZ")) {
		t.Errorf("attachment not decoded: %q", m.Parts[4].Body)
	}
	if got := string(m.Raw[m.Parts[2].Offset:]); !strings.HasPrefix(got, "Content-Type: text/plain") {
		t.Errorf("part offset points at %q", clip(got, 30))
	}
}

func TestExtractContent(t *testing.T) {
	c := Extract(load(t, "multipart.eml"))
	var urls []string
	for _, u := range c.URLs {
		urls = append(urls, u.Source+" "+u.URL+" "+u.Domain+" "+strings.Join(u.Obfuscated, "+"))
	}
	for _, w := range []string{
		"href http://192.168.1.1/path  numeric-host",
		"src http://track.example.net/px.gif example.net ",
		"text http://www.example.com/offer example.com ",
		"text http://example.com/unsub?u=1 example.com ",
	} {
		if !slices.Contains(urls, w) {
			t.Errorf("missing URL %q in %q", w, urls)
		}
	}
	if c.URLs[0].Text != "click here" {
		t.Errorf("anchor text = %q", c.URLs[0].Text)
	}
	if !slices.Equal(c.Emails, []string{"sales@example.com"}) {
		t.Errorf("emails = %v", c.Emails)
	}
	if !slices.Equal(c.Phones, []string{"+33123456789"}) {
		t.Errorf("phones = %v", c.Phones)
	}
	if !c.HTML.HiddenText || !c.HTML.RemoteImage || c.HTML.Links != 1 {
		t.Errorf("html info = %+v", c.HTML)
	}
	if strings.Contains(c.HTMLText, "hidden words") || !strings.Contains(c.HTMLText, "Hello click here") {
		t.Errorf("html text = %q", c.HTMLText)
	}
	if len(c.Attachments) != 1 {
		t.Fatalf("attachments = %+v", c.Attachments)
	}
	a := c.Attachments[0]
	if a.Name != "invoice.pdf.exe" || a.DetectedType != "application/x-msdownload" || !slices.Contains(a.Flags, "double-extension") || !slices.Contains(a.Flags, "executable") || len(a.SHA256) != 64 {
		t.Errorf("attachment = %+v", a)
	}
}

func TestDefects(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"noboundary.eml", []string{DefectBoundaryNotFound, DefectMissingDate, DefectMissingMessageID}},
		{"unclosed.eml", []string{DefectMissingCloseDelim, DefectBadBase64}},
		{"injection.eml", []string{DefectDuplicateSingleton, DefectHeaderInjection}},
		{"noseparator.eml", []string{DefectNoHeaderSeparator}},
	} {
		m := load(t, c.file)
		got := codes(m)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: defects %v lack %s", c.file, got, w)
			}
		}
	}
	// The body after a missing separator is still shown.
	m := load(t, "noseparator.eml")
	if !strings.Contains(m.Root.Text, "This line is not a header") {
		t.Errorf("body lost: %q", m.Root.Text)
	}
}

func TestLimitsBoundHostileMessages(t *testing.T) {
	// A multipart nested 200 deep.
	var b strings.Builder
	b.WriteString("From: a@example.org\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\nbottom\n")
	m := ParseBytes([]byte(b.String()), Limits{MaxDepth: 8})
	if !m.HasDefect(DefectDepthLimit) {
		t.Errorf("depth limit not reported: %v", codes(m))
	}
	for _, p := range m.Parts {
		if p.Depth > 8 {
			t.Fatalf("part at depth %d", p.Depth)
		}
	}
	// Ten thousand parts.
	b.Reset()
	b.WriteString("Content-Type: multipart/mixed; boundary=x\n\n")
	for i := 0; i < 10000; i++ {
		b.WriteString("--x\n\npart\n")
	}
	m = ParseBytes([]byte(b.String()), Limits{MaxParts: 100})
	if len(m.Parts) > 100 || !m.HasDefect(DefectPartLimit) {
		t.Errorf("%d parts, defects %v", len(m.Parts), codes(m))
	}
	// Oversized input.
	m, err := Parse(strings.NewReader("Subject: x\n\n"+strings.Repeat("a", 5000)), Limits{MaxBytes: 1000})
	if err != nil || !m.Truncated || len(m.Raw) != 1000 || !m.HasDefect(DefectTruncated) {
		t.Errorf("truncation: %v %v %d", err, m.Truncated, len(m.Raw))
	}
	// Decoded budget.
	big := "Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\n" + strings.Repeat("z", 3000) + "\n--x\nContent-Type: text/plain\n\n" + strings.Repeat("y", 3000) + "\n--x--\n"
	m = ParseBytes([]byte(big), Limits{MaxDecodedBytes: 4000})
	total := 0
	for _, p := range m.Parts {
		total += len(p.Body)
	}
	if total > 4000 || !m.HasDefect(DefectDecodedLimit) {
		t.Errorf("decoded %d bytes, defects %v", total, codes(m))
	}
}

func TestMboxReader(t *testing.T) {
	in := "From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody one\n>From the archive\n\n" +
		"From b@example.org Mon Jan  1 00:00:01 2024\nSubject: two\n\nFrom here on, not a separator\n"
	r := NewMboxReader(strings.NewReader(in), 0)
	var msgs []string
	for {
		m, _, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, string(m))
	}
	if len(msgs) != 2 {
		t.Fatalf("got %d messages: %q", len(msgs), msgs)
	}
	if !strings.Contains(msgs[0], "\nFrom the archive\n") || strings.HasSuffix(msgs[0], "\n\n") {
		t.Errorf("first message = %q", msgs[0])
	}
	if !strings.Contains(msgs[1], "From here on") {
		t.Errorf("second message = %q", msgs[1])
	}
	if _, _, err := NewMboxReader(strings.NewReader("Subject: x\n\n"), 0).Next(); err != ErrNotMbox {
		t.Errorf("non-mbox: %v", err)
	}
}

func TestNormalizeURL(t *testing.T) {
	for _, c := range []struct{ in, url, domain, obf string }{
		{"http://WWW.Example.COM./a?b#c", "http://www.example.com/a?b#c", "example.com", ""},
		{"hxxp://evil[.]example[.]com/x", "http://evil.example.com/x", "example.com", "scheme+dot"},
		{"http://paypal.com@203.0.113.5/login", "http://203.0.113.5/login", "", "userinfo"},
		{"http://0xCB.0x00.0x71.5/", "http://203.0.113.5/", "", "numeric-host"},
		{"http://%65vil.example.org/", "http://evil.example.org/", "example.org", "percent-host"},
		{"https://bücher.example/x", "https://xn--bcher-kva.example/x", "xn--bcher-kva.example", "idn"},
		{"http://a.b.example.co.uk/", "http://a.b.example.co.uk/", "example.co.uk", ""},
		// Browsers end the host at a backslash (WHATWG URL), so this goes to evil.example.
		{"http://evil.example\\@good.example.com/", "http://evil.example/@good.example.com/", "evil.example", "backslash"},
	} {
		u, ok := normalizeURL(c.in, "href")
		if !ok || u.URL != c.url || u.Domain != c.domain || strings.Join(u.Obfuscated, "+") != c.obf {
			t.Errorf("normalizeURL(%q) = %+v %v, want %s %s %s", c.in, u, ok, c.url, c.domain, c.obf)
		}
	}
	for _, bad := range []string{"mailto:x@example.com", "javascript:alert(1)", "cid:part1", "#top", "/relative"} {
		if u, ok := normalizeURL(bad, "href"); ok {
			t.Errorf("normalizeURL(%q) = %+v, want rejected", bad, u)
		}
	}
}

func TestPhones(t *testing.T) {
	text := "Call (212) 555-1234 or 1-800-555-0199, +44 20 7946 0018, 01 23 45 67 89. " +
		"Not: 2002-09-26, 1997-2002, 192.168.1.1, order 123456789, $1,299.00, 10:30:00, id=5551234567"
	got := textPhones(text)
	want := []string{"2125551234", "18005550199", "+442079460018", "0123456789"}
	if !slices.Equal(got, want) {
		t.Errorf("phones = %v, want %v", got, want)
	}
}

func TestParseDateLenient(t *testing.T) {
	for _, s := range []string{
		"Thu, 26 Sep 2002 15:31:47 -0000",
		"26 Sep 2002 15:31:47 GMT",
		"Thu, 26 Sep 02 15:31:47 EDT",
		"Thu, 26 Sep 2002 16:42:15 +0100 (IST)",
		"Sat Sep 28 04:22:55 2002",
	} {
		if _, err := ParseDate(s); err != nil {
			t.Errorf("ParseDate(%q): %v", s, err)
		}
	}
	if _, err := ParseDate("yesterday at noon"); err == nil {
		t.Error("ParseDate accepted garbage")
	}
}

func TestAddresses(t *testing.T) {
	a, strict := ParseAddressList(`"PayPal Security" <service@Example.COM>, bob@example.org`)
	if !strict || len(a) != 2 || a[0].Name != "PayPal Security" || a[0].Domain != "example.com" || a[1].Addr != "bob@example.org" {
		t.Errorf("strict = %v %+v", strict, a)
	}
	a, strict = ParseAddressList(`Sales Team <sales@example.net`)
	if strict || len(a) != 1 || a[0].Addr != "sales@example.net" || a[0].Name != "Sales Team" {
		t.Errorf("lenient = %v %+v", strict, a)
	}
	a, _ = ParseAddressList(`=?koi8-r?B?8NLJ18XU?= <x@example.ru>`)
	if len(a) != 1 || a[0].Name != "Привет" {
		t.Errorf("koi8-r name = %+v", a)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "parse", "*.eml"))
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	lim := Limits{MaxBytes: 1 << 16, MaxParts: 20, MaxDepth: 4, MaxDecodedBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := ParseBytes(raw, lim)
		if len(m.Parts) > lim.MaxParts {
			t.Fatalf("%d parts over the limit", len(m.Parts))
		}
		total := 0
		for _, p := range m.Parts {
			if p.Depth > lim.MaxDepth {
				t.Fatalf("depth %d over the limit", p.Depth)
			}
			total += len(p.Body)
		}
		if int64(total) > lim.MaxDecodedBytes {
			t.Fatalf("decoded %d bytes over the limit", total)
		}
		c := Extract(m)
		for _, u := range c.URLs {
			if u.Host == "" || !strings.Contains(u.URL, "://") {
				t.Fatalf("bad URL %+v", u)
			}
		}
	})
}

func FuzzMbox(f *testing.F) {
	f.Add([]byte("From a Mon Jan  1 00:00:00 2024\nSubject: x\n\nb\n\nFrom b Mon\n\nc\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewMboxReader(bytes.NewReader(in), 1<<12)
		for i := 0; i < 10000; i++ {
			m, _, err := r.Next()
			if err != nil {
				return
			}
			if len(m) > 1<<12+1<<12 {
				t.Fatalf("message of %d bytes over the limit", len(m))
			}
		}
		t.Fatal("mbox reader did not end")
	})
}
