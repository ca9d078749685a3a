package analysis

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

// allocated returns the bytes allocated (garbage included) while parsing and
// analysing raw: an upper bound of the memory the message costs.
func allocated(t *testing.T, an *Analyzer, raw []byte) (uint64, *Verdict) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := mail.ParseBytes(raw, mail.Limits{})
	v, err := an.Analyze(context.Background(), Input{Message: m})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	return after.TotalAlloc - before.TotalAlloc, v
}

func memoryAnalyzer(t *testing.T) *Analyzer {
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return &Analyzer{Resolver: resolve.Offline{}, Rules: lib, Jurisdictions: []string{"EU", "US"}}
}

// TestBoundaryFloodMemory: a 32 MiB message of nothing but delimiter lines
// used to cost about 1 GB (every part was collected before the part limit
// applied). It must stay under 64 MiB beyond the message.
func TestBoundaryFloodMemory(t *testing.T) {
	an := memoryAnalyzer(t)
	const size = 32 << 20
	for _, nl := range []string{"\r\n", "\n"} {
		head := strings.ReplaceAll("From: a@example.com\r\nSubject: flood\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"a\"\r\n\r\n", "\r\n", nl)
		line := "--a" + nl
		raw := append([]byte(head), bytes.Repeat([]byte(line), (size-len(head))/len(line))...)
		got, v := allocated(t, an, raw)
		t.Logf("flood with %q line ends: %.1f MiB allocated", nl, float64(got)/(1<<20))
		if got > 64<<20 {
			t.Errorf("boundary flood (%q) allocated %.0f MiB, over 64 MiB", nl, float64(got)/(1<<20))
		}
		if !hasDefect(v, mail.DefectPartLimit) {
			t.Errorf("no part-limit defect: %+v", v.Message.Defects)
		}
	}
}

func hasDefect(v *Verdict, code string) bool {
	for _, d := range v.Message.Defects {
		if d.Code == code {
			return true
		}
	}
	return false
}

// TestMessageMemoryBound checks hostile shapes against the documented bound
// (MessageAllocBound): big plain, quoted-printable and base64 texts, a
// single-byte charset that grows in UTF-8, attached messages nested in
// base64, and a page of distinct links.
//
// The race detector changes what is allocated, so this runs without it, in
// the corpus stage of test.sh, at the full 32 MiB (8 MiB with -short).
func TestMessageMemoryBound(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under the race detector; test.sh runs this test without it")
	}
	an := memoryAnalyzer(t)
	size := 8 << 20
	if !testing.Short() {
		size = 32 << 20
	}
	fill := func(head, unit string) []byte {
		return append([]byte(head), bytes.Repeat([]byte(unit), (size-len(head))/len(unit))...)
	}
	shapes := map[string][]byte{
		"text": fill("From: a@example.com\r\nSubject: s\r\nContent-Type: text/plain\r\n\r\n", "hello world http://x.example/a a@b.example\r\n"),
		"qp-html": fill("From: a@example.com\r\nSubject: s\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
			"<p>hi <a href=3D\"http://x.example/\">x</a></p>=\r\n"),
		"base64-text": fill("From: a@example.com\r\nSubject: s\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n",
			"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29y\r\n"),
		"cp1252-html": fill("From: a@example.com\r\nSubject: s\r\nContent-Type: text/html; charset=windows-1252\r\n\r\n", "\x80\x80\x80\x80<b>\x80</b>\r\n"),
	}
	inner := []byte("From: a@example.com\r\nSubject: s\r\n\r\n" + strings.Repeat("word ", size/8))
	for len(inner) < size*3/4 {
		enc := base64.StdEncoding.EncodeToString(inner)
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
		inner = []byte(b.String())
	}
	shapes["nested-base64"] = inner
	var links strings.Builder
	links.WriteString("From: a@example.com\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n")
	for i := 0; links.Len() < size; i++ {
		fmt.Fprintf(&links, "<a href=\"http://h%d.example/p%d\">l%d</a>\n", i, i, i)
	}
	shapes["links"] = []byte(links.String())
	for name, raw := range shapes {
		got, v := allocated(t, an, raw)
		bound := MessageAllocBound(len(raw))
		t.Logf("%-13s %5.1f MiB message: %6.1f MiB allocated (bound %.0f MiB)", name, float64(len(raw))/(1<<20), float64(got)/(1<<20), float64(bound)/(1<<20))
		if int64(got) > bound {
			t.Errorf("%s: %.0f MiB allocated for a %.0f MiB message, over the documented bound of %.0f MiB",
				name, float64(got)/(1<<20), float64(len(raw))/(1<<20), float64(bound)/(1<<20))
		}
		if name == "links" && (!v.Content.URLsTruncated || len(v.Content.URLs) != mail.MaxURLs) {
			t.Errorf("links: %d URLs, truncated %v", len(v.Content.URLs), v.Content.URLsTruncated)
		}
	}
}
