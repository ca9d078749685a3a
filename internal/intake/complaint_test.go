package intake

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func subjectOf(raw []byte) string {
	return mail.ParseBytes(raw, mail.DefaultLimits()).Header.Get("Subject")
}

// TestNoteWithoutEvidenceIsNotAReport: the reporter's own mail with
// nothing attached is a paste only when it carries something to act on
// (a link, another address, header lines); a question is not a report.
func TestNoteWithoutEvidenceIsNotAReport(t *testing.T) {
	if _, err := Extract(fixture(t, "arf-26.eml"), Via{Mailbox: true, Reporter: "Example@iCloud.com"}); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Apple's unsubscribe note from its own author: %v", err)
	}
	note := func(body string) []byte {
		return []byte("From: Ann <ann@example.net>\r\nTo: complaints@desk.example\r\nSubject: question\r\n\r\n" + body)
	}
	for _, q := range []string{"Hello, how do I report spam?\r\n", "Bonjour, comment signaler un spam ? Ann (ann@example.net)\r\n"} {
		if _, err := Extract(note(q), Via{Mailbox: true, Reporter: "ann@example.net"}); !errors.Is(err, ErrNoMessage) {
			t.Errorf("%q: %v", q, err)
		}
	}
	for _, p := range []string{
		"I keep getting this: Congratulations, claim your prize at http://prize.example.biz/claim now\r\n",
		"Got this from winner-notice@lottery.example.biz, asking for my bank details\r\n",
		"From: Prize Team <x@y.example>\r\nSubject: You won\r\nClaim today\r\n",
	} {
		items, err := Extract(note(p), Via{Mailbox: true, Reporter: "ann@example.net"})
		if err != nil || len(items) != 1 || items[0].Form != FormPaste {
			t.Errorf("%q: %v %v", p, items, err)
		}
	}
}

func TestExtractForms(t *testing.T) {
	for _, tc := range []struct {
		file      string
		forwarded bool
		reporter  string
		form      string
		subjects  []string // of the recovered messages, in order
		feedback  map[string]string
		unverif   bool
	}{
		{file: "arf-01.eml", forwarded: true, form: FormARF, subjects: []string{"Kijitora cat family"},
			feedback: map[string]string{"Feedback-Type": "abuse"}},
		{file: "arf-22.eml", forwarded: true, form: FormAttached},
		{file: "v4-messaging-spam.json", form: FormXARF, feedback: map[string]string{"Source-IP": "192.168.1.100", "Report-Type": "messaging/spam"}},
		{file: "v3-spam_v3_sample.json", form: FormXARF},
		{file: "forward-two-attached.eml", forwarded: true, form: FormAttached,
			subjects: []string{"Cheap meds, no prescription needed", "You have WON 1,000,000 EUR"}},
		{file: "forward-eml-octet.eml", forwarded: true, form: FormAttached, subjects: []string{"Double your Bitcoin in 24 hours"}},
		{file: "forward-inline-gmail.eml", forwarded: true, form: FormInlineForward, subjects: []string{"Your account will be suspended"}, unverif: true},
		{file: "forward-inline-outlook-de.eml", forwarded: true, form: FormInlineForward, subjects: []string{"Gewinnbenachrichtigung"}, unverif: true},
		// The same mail sent by someone else is redirected spam.
		{file: "arf-26.eml", forwarded: true, reporter: "other@example.net", form: FormRaw},
		// Through the API a forward is unwrapped too (a plain message is
		// the spam itself: TestForwardThroughAPIUnwrapped).
		{file: "forward-inline-gmail.eml", forwarded: false, form: FormInlineForward, subjects: []string{"Your account will be suspended"}, unverif: true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			items, err := Extract(fixture(t, tc.file), Via{Mailbox: tc.forwarded, Reporter: tc.reporter})
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 {
				t.Fatal("no items")
			}
			if tc.subjects != nil && len(items) != len(tc.subjects) {
				t.Fatalf("%d items, want %d", len(items), len(tc.subjects))
			}
			for i, it := range items {
				if it.Form != tc.form {
					t.Errorf("item %d form %q, want %q", i, it.Form, tc.form)
				}
				if len(it.Raw) == 0 {
					t.Errorf("item %d is empty", i)
				}
				if tc.subjects != nil {
					if got := subjectOf(it.Raw); got != tc.subjects[i] {
						t.Errorf("item %d subject %q, want %q", i, got, tc.subjects[i])
					}
				}
				if (len(it.Unverifiable) > 0) != tc.unverif {
					t.Errorf("item %d unverifiable %q", i, it.Unverifiable)
				}
				for k, v := range tc.feedback {
					if it.Feedback[k] != v {
						t.Errorf("feedback %s = %q, want %q (all: %v)", k, it.Feedback[k], v, it.Feedback)
					}
				}
			}
		})
	}
}

// An attached message is kept byte for byte: its bytes are a slice of
// what the reporter sent.
func TestAttachedIsByteExact(t *testing.T) {
	raw := fixture(t, "forward-two-attached.eml")
	items, err := Extract(raw, Via{Mailbox: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if !bytes.Contains(raw, it.Raw) {
			t.Errorf("attached message is not a byte-exact slice of the complaint:\n%s", it.Raw)
		}
		if !bytes.HasPrefix(it.Raw, []byte("Return-Path:")) {
			t.Errorf("attached message starts %q", it.Raw[:20])
		}
	}
}

func TestInlineForwardRecoversHeaders(t *testing.T) {
	items, err := Extract(fixture(t, "forward-inline-outlook-de.eml"), Via{Mailbox: true})
	if err != nil {
		t.Fatal(err)
	}
	m := mail.ParseBytes(items[0].Raw, mail.DefaultLimits())
	if got := m.Header.Get("From"); !strings.Contains(got, "info@gewinn-zentrale.example") {
		t.Errorf("From %q", got)
	}
	if got := m.Header.Get("To"); got != "carla@example.de" {
		t.Errorf("To %q", got)
	}
	if m.Header.Has("Received") {
		t.Error("an inline forward cannot carry the original Received chain")
	}
	if !strings.Contains(string(items[0].Raw), "http://gewinn-zentrale.example/claim") {
		t.Errorf("body lost: %s", items[0].Raw)
	}
}

func TestExtractRejects(t *testing.T) {
	garbage := make([]byte, 4000)
	for i := range garbage {
		garbage[i] = byte(i*7 + i/13)
	}
	for name, tc := range map[string]struct {
		raw       []byte
		forwarded bool
	}{
		"empty":          {nil, false},
		"blank":          {[]byte(" \r\n\t\r\n"), true},
		"binary garbage": {garbage, false},
		"empty forward":  {[]byte("From: a@example.net\r\nSubject: hi\r\n\r\n\r\n"), true},
	} {
		if items, err := Extract(tc.raw, Via{Mailbox: tc.forwarded, Reporter: "a@example.net"}); err == nil {
			t.Errorf("%s: accepted as %d items (%s)", name, len(items), items[0].Form)
		}
	}
	if _, err := Extract(nil, Via{Mailbox: true}); !errors.Is(err, ErrNoMessage) {
		t.Errorf("empty complaint: %v", err)
	}
}

func TestPasteWithoutHeaders(t *testing.T) {
	items, err := Extract([]byte("WIN A FREE CRUISE!!! click http://cruise.example/free now"), Via{})
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Form != FormPaste || len(items[0].Unverifiable) == 0 {
		t.Errorf("%+v", items[0])
	}
	m := mail.ParseBytes(items[0].Raw, mail.DefaultLimits())
	if len(m.Header.Fields) != 0 || !strings.Contains(mail.Extract(m).Text, "FREE CRUISE") {
		t.Errorf("paste parsed as %d header fields; text %q", len(m.Header.Fields), mail.Extract(m).Text)
	}
}

// A complaint carrying more messages than maxItems is bounded.
func TestExtractBoundsItems(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: r@example.net\r\nSubject: many\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n")
	for i := 0; i < 100; i++ {
		b.WriteString("--x\r\nContent-Type: message/rfc822\r\n\r\nFrom: s@spam.example\r\nSubject: s\r\n\r\nbuy\r\n")
	}
	b.WriteString("--x--\r\n")
	items, err := Extract([]byte(b.String()), Via{Mailbox: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != maxItems {
		t.Errorf("%d items, want the bound %d", len(items), maxItems)
	}
}

// TestExtractBoundsARFItems: a 57 KB multipart/report with 400 tiny
// message/rfc822 parts made 255 reports from one anonymous form post.
func TestExtractBoundsARFItems(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: fbl@isp.example\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n")
	b.WriteString("--x\r\nContent-Type: text/plain\r\n\r\nabuse\r\n--x\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n\r\n")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "--x\r\nContent-Type: message/rfc822\r\n\r\nFrom: s@spam.example\r\nSubject: s%d\r\n\r\nbuy\r\n", i)
	}
	b.WriteString("--x--\r\n")
	for _, via := range []Via{{}, {Mailbox: true}} {
		items, err := Extract([]byte(b.String()), via)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != maxItems || items[0].Form != FormARF {
			t.Errorf("%d items (%s), want the bound %d", len(items), items[0].Form, maxItems)
		}
	}
}

func FuzzExtract(f *testing.F) {
	for _, n := range []string{"arf-01.eml", "arf-22.eml", "v4-messaging-spam.json", "forward-inline-gmail.eml", "forward-two-attached.eml"} {
		f.Add(fixture(f, n), true)
	}
	f.Add([]byte("{\"xarf_version\":\"4\",\"evidence\":[{\"content_type\":\"message/rfc822\",\"payload\":\"!!\"}]}"), false)
	f.Fuzz(func(t *testing.T, raw []byte, forwarded bool) {
		items, err := Extract(raw, Via{Mailbox: forwarded, Reporter: "r@example.net"})
		if err != nil {
			return
		}
		if len(items) == 0 || len(items) > maxItems {
			t.Fatalf("%d items without error", len(items))
		}
		for _, it := range items {
			if it.Form == "" {
				t.Fatal("item without form")
			}
		}
	})
}

// FuzzVerifyBundle: a bundle comes from outside (a partner, a court file);
// verifying one must never panic, and a bundle with a problem is never OK.
// The seed in testdata is a real bundle (sqlitetest.TestWriteBundleSeed).
func FuzzVerifyBundle(f *testing.F) {
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := VerifyBundle(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		if res.OK() && (res.Manifest.Format != "accord-evidence/1" || len(res.Manifest.Files) == 0 || res.Manifest.CustodyHead == "") {
			t.Fatalf("verified a bundle without format, files or custody: %+v", res.Manifest)
		}
	})
}

// TestForwardThroughAPIUnwrapped: a forward uploaded through the API or
// the form ("Fwd:"/"WG:" subject) is unwrapped as the mailbox unwraps it —
// taken whole, the reporter (its From) passed for the spammer, and the
// reporter's name was then spared when reports were shared. A message
// that only looks forwarded (no quoted original) is the spam itself.
func TestForwardThroughAPIUnwrapped(t *testing.T) {
	for _, name := range []string{"forward-inline-outlook-de.eml", "forward-inline-gmail.eml", "forward-two-attached.eml"} {
		items, err := Extract(fixture(t, name), Via{Declared: "message/rfc822"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if items[0].Form == FormRaw {
			t.Errorf("%s through the API: taken whole as the spam", name)
		}
	}
	spam := []byte("Received: from x.example (x.example [203.0.113.5]) by mx.example.org; Thu, 5 Nov 2026 08:00:00 +0000\r\n" +
		"From: deals@pills.example\r\nTo: ana@example.org\r\nSubject: Fwd: your order\r\nDate: Thu, 5 Nov 2026 08:00:00 +0000\r\n\r\nCheap pills http://pills.example/\r\n")
	items, err := Extract(spam, Via{Declared: "message/rfc822"})
	if err != nil || len(items) != 1 || items[0].Form != FormRaw {
		t.Fatalf("a spam with a Fwd: subject and nothing quoted: %v %+v", err, items)
	}
	for _, s := range []string{"Fwd: x", "FW: x", "=?UTF-8?Q?WG:_Gewinn?=", "tr: x", "[Fwd: x]"} {
		if !forwardSubject(s) {
			t.Errorf("%q is a forward's subject", s)
		}
	}
	for _, s := range []string{"Forward thinking", "Wgx", "Re: x", ""} {
		if forwardSubject(s) {
			t.Errorf("%q is not a forward's subject", s)
		}
	}
}
