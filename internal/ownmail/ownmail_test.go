package ownmail

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const digest = "From: Accord <desk@node.example>\r\nTo: ana@example.org\r\nSubject: Held for you: 2 messages\r\n" +
	"Message-ID: <d1@node.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
	"1. XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"

// TestMarkBindsMessageAndRecipient: a mark verifies for its message and
// recipient only; anything a sender could change to reuse it — the body,
// the subject, a second From, the recipient, the time, the key — makes it
// count for nothing.
func TestMarkBindsMessageAndRecipient(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := New([]byte("node key derived"))
	marked := m.Mark([]byte(digest), "mail-1", "Ana@Example.org", now)
	if !bytes.HasPrefix(marked, []byte(Field+": v=1; m=mail-1; r=ana@example.org; x=")) || !bytes.HasSuffix(marked, []byte(digest)) {
		t.Fatalf("marked:\n%s", marked)
	}
	if id, ok := m.Verify(marked, []string{"<ana@example.org>"}, now.Add(time.Hour), nil); !ok || id != "mail-1" {
		t.Fatalf("own mark not verified: %q %v", id, ok)
	}
	// A door that names no recipient (spamd without User, or with a bare
	// "-u bob"; rspamd without Rcpt) proves nothing: honoured there, the
	// mark passed the message unscanned to every user of the door.
	for _, rcpts := range [][]string{nil, {}, {""}, {"ana"}, {"bob"}} {
		if _, ok := m.Verify(marked, rcpts, now, nil); ok {
			t.Errorf("verified with the recipients %q: the mark counts only when its recipient is named", rcpts)
		}
	}
	// The node's normalisation decides what names the recipient.
	mailbox := func(a string) string {
		a = strings.ToLower(strings.Trim(a, "<> "))
		if l, d, ok := strings.Cut(a, "@"); ok {
			l, _, _ = strings.Cut(l, "+")
			return l + "@" + d
		}
		return ""
	}
	if _, ok := m.Verify(marked, []string{"Ana+Digest@example.org"}, now, mailbox); !ok {
		t.Error("not verified for a spelling of its recipient's mailbox")
	}
	if _, ok := m.Verify(marked, []string{"ana"}, now, mailbox); ok {
		t.Error("verified for a bare local name")
	}
	// Relays rewrite line ends and fold: still the node's mail.
	lf := bytes.ReplaceAll(marked, []byte("\r\n"), []byte("\n"))
	if _, ok := m.Verify(lf, []string{"ana@example.org"}, now, nil); !ok {
		t.Error("LF line ends broke the mark")
	}
	folded := bytes.Replace(marked, []byte("Subject: Held for you:"), []byte("Subject: Held for\r\n you:"), 1)
	if _, ok := m.Verify(folded, []string{"ana@example.org"}, now, nil); !ok {
		t.Error("a folded Subject broke the mark")
	}
	received := append([]byte("Received: from node.example by mx.example.org; Mon, 2 Mar 2026 10:00:00 +0000\r\n"), marked...)
	if _, ok := m.Verify(received, []string{"ana@example.org"}, now, nil); !ok {
		t.Error("a Received field above the mark broke it")
	}
	bad := map[string][]byte{
		"other body":       bytes.Replace(marked, []byte("1. XJS"), []byte("2. XJS"), 1),
		"other subject":    bytes.Replace(marked, []byte("Held for you"), []byte("Cheap pills"), 1),
		"a second From":    bytes.Replace(marked, []byte("To: ana"), []byte("From: boss@bank.example\r\nTo: ana"), 1),
		"other type":       bytes.Replace(marked, []byte("text/plain"), []byte("text/html"), 1),
		"mark on new mail": append(bytes.Clone(marked[:bytes.Index(marked, []byte("From:"))]), []byte("From: x@spam.example\r\nSubject: buy\r\n\r\nbuy now\r\n")...),
	}
	for name, raw := range bad {
		if _, ok := m.Verify(raw, []string{"ana@example.org"}, now, nil); ok {
			t.Errorf("%s: verified", name)
		}
	}
	if _, ok := m.Verify(marked, []string{"bob@example.org"}, now, nil); ok {
		t.Error("verified for another recipient")
	}
	if _, ok := m.Verify(marked, []string{"ana@example.org", "bob@example.org"}, now, nil); ok {
		t.Error("verified with a second recipient")
	}
	if _, ok := m.Verify(marked, []string{"ana@example.org"}, now.Add(Validity+time.Second), nil); ok {
		t.Error("verified after its expiry")
	}
	if _, ok := New([]byte("another node")).Verify(marked, []string{"ana@example.org"}, now, nil); ok {
		t.Error("verified with another key")
	}
	if _, ok := New(nil).Verify(marked, []string{"ana@example.org"}, now, nil); ok {
		t.Error("verified with no key")
	}
	// Marking again replaces the mark; Strip removes it and nothing else.
	again := m.Mark(marked, "mail-2", "ana@example.org", now)
	if strings.Count(string(again), Field+":") != 1 {
		t.Errorf("marked twice:\n%s", again)
	}
	if got := Strip(marked); string(got) != digest {
		t.Errorf("stripped:\n%q\nwant\n%q", got, digest)
	}
	if !bytes.Equal(New(nil).Mark([]byte(digest), "m", "ana@example.org", now), []byte(digest)) {
		t.Error("a Marker with no key changed the mail")
	}
}
