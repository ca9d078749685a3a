package intake

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

const defectSpam = "Received: from [198.51.100.23] (helo=pharma.example) by mx.example.net with esmtp; Tue, 3 Nov 2026 11:00:01 +0100\r\n" +
	"From: \"Pharmacy\" <sales@cheap-pills.example>\r\nTo: victim@example.net\r\nSubject: Cheap pills best prices\r\n" +
	"Date: Tue, 3 Nov 2026 11:00:00 +0100\r\nMessage-ID: <d1@cheap-pills.example>\r\n\r\n" +
	"Buy cheap pills now at http://cheap-pills.example/buy lowest prices, discreet shipping.\r\n"

func arfWith(feedback bool, msg string, closed bool) []byte {
	b := "From: fbl@isp.example\r\nTo: abuse@desk.example\r\nSubject: FW: report\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=XXB\r\n\r\n" +
		"--XXB\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
	if feedback {
		b += "--XXB\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: fbl/1\r\nVersion: 1\r\nSource-IP: 198.51.100.23\r\n\r\n"
	}
	b += "--XXB\r\nContent-Type: message/rfc822\r\n\r\n" + msg
	if closed {
		b += "\r\n--XXB--\r\n"
	}
	return []byte(b)
}

func xarfWith(items ...string) []byte {
	return []byte(`{"xarf_version": "4.2.0", "category": "messaging", "type": "spam", "source_identifier": "198.51.100.23", "evidence": [` +
		strings.Join(items, ", ") + `]}`)
}

func evidence(payload []byte, hash string) string {
	e := `{"content_type": "message/rfc822", "payload": "` + base64.StdEncoding.EncodeToString(payload) + `"`
	if hash != "" {
		e += `, "hash": "` + hash + `"`
	}
	return e + "}"
}

// TestCutOrPartialReportsSaySo: a feedback report or a forward that ends
// before closing the MIME part its message came in keeps the message,
// marked as possibly cut (truncated, with a defect, once analysed); an
// ARF with no feedback part says it has none; a whole one says nothing.
func TestCutOrPartialReportsSaySo(t *testing.T) {
	cutMsg := defectSpam[:len(defectSpam)-40]
	fwdCut := []byte("From: ivan@reporter.example\r\nTo: report@desk.example\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nlook\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + cutMsg)
	for _, tc := range []struct {
		name     string
		raw      []byte
		mailbox  bool
		cut      bool
		feedback bool
	}{
		{"whole ARF", arfWith(true, defectSpam, true), false, false, true},
		{"ARF cut in its message", arfWith(true, cutMsg, false), false, true, true},
		{"ARF with no feedback part", arfWith(false, defectSpam, true), false, false, false},
		{"forward whose attachment is cut", fwdCut, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := Extract(tc.raw, Via{Mailbox: tc.mailbox, Reporter: "ivan@reporter.example"})
			if err != nil || len(items) != 1 {
				t.Fatalf("%d items, %v", len(items), err)
			}
			it := items[0]
			if it.cut != tc.cut || slices.Contains(it.Unverifiable, unverifiableCut) != tc.cut {
				t.Errorf("cut %v, notes %q; want cut %v", it.cut, it.Unverifiable, tc.cut)
			}
			if slices.Contains(it.Unverifiable, unverifiableNoFeedback) == tc.feedback {
				t.Errorf("notes %q; want the missing feedback part noted: %v", it.Unverifiable, !tc.feedback)
			}
		})
	}
	// Once analysed, a cut message is truncated with a named defect.
	m := mail.ParseBytes([]byte(cutMsg), mail.DefaultLimits())
	if m.Truncated {
		t.Fatal("the cut message alone already reads as truncated: the test shows nothing")
	}
	m.MarkCut("cut")
	if !m.Truncated || !slices.ContainsFunc(m.Defects, func(d mail.Defect) bool { return d.Code == mail.DefectTruncated }) {
		t.Errorf("MarkCut: truncated %v, defects %+v", m.Truncated, m.Defects)
	}
}

// TestDamagedEvidenceRefused: evidence that is damaged by the report's
// own account — an X-ARF item that is not base64, or does not match the
// hash declared for it, or is no mail; an ARF message part that is no
// mail — refuses the whole report with the reason (nothing dropped
// silently); a matching hash is taken.
func TestDamagedEvidenceRefused(t *testing.T) {
	good := []byte(defectSpam)
	sum := sha256.Sum256(good)
	right := "sha256:" + hex.EncodeToString(sum[:])
	for _, tc := range []struct {
		name string
		raw  []byte
		want error
		says string
	}{
		{"hash does not match", xarfWith(evidence(good, "sha256:"+strings.Repeat("0", 64))), ErrBadEvidence, "does not match the hash"},
		{"second item not base64", xarfWith(evidence(good, ""), `{"content_type": "message/rfc822", "payload": "not*base64!"}`), ErrBadEvidence, "item 2"},
		{"payload is no mail", xarfWith(evidence([]byte("hello world no mail"), "")), ErrNoMessage, "not a mail message"},
		{"ARF message is no mail", arfWith(true, "hello world no mail", true), ErrNoMessage, "not a mail message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, err := Extract(tc.raw, Via{Declared: ""})
			var rej *RejectError
			if !errors.Is(err, tc.want) || !errors.As(err, &rej) || !strings.Contains(rej.Reason, tc.says) {
				t.Fatalf("got %d items, %v; want %v saying %q", len(items), err, tc.want, tc.says)
			}
		})
	}
	for _, h := range []string{right, strings.ToUpper(right[:6]) + right[6:], ""} {
		items, err := Extract(xarfWith(evidence(good, h), evidence(good, h)), Via{})
		if err != nil || len(items) != 2 || len(items[0].Unverifiable) != 0 {
			t.Errorf("hash %q: %d items %v %v", h, len(items), err, items)
		}
	}
	items, err := Extract(xarfWith(evidence(good, "crc32:1234")), Via{})
	if err != nil || len(items) != 1 || len(items[0].Unverifiable) != 1 {
		t.Errorf("a hash of an unknown algorithm is not noted: %v %v", err, items)
	}
}

// TestExtractLeavesTheComplaintAlone: reading a complaint never writes
// into its bytes — they are the evidence, hashed at receipt. A feedback
// report's fields were parsed from an append to their part's body, a
// slice of the complaint: two bytes after it were overwritten.
func TestExtractLeavesTheComplaintAlone(t *testing.T) {
	fs, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(fs) == 0 {
		t.Fatal("no fixtures", err)
	}
	for _, f := range append(fs, "testdata/v4-messaging-spam.json") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		orig := bytes.Clone(b)
		for _, mailbox := range []bool{false, true} {
			Extract(b, Via{Mailbox: mailbox, Reporter: "x@example.net"})
			if !bytes.Equal(b, orig) {
				t.Fatalf("%s: Extract changed the complaint's bytes (mailbox %v)", f, mailbox)
			}
		}
	}
	for _, raw := range [][]byte{arfWith(true, defectSpam, true), arfWith(true, defectSpam, false)} {
		orig := bytes.Clone(raw)
		if Extract(raw, Via{}); !bytes.Equal(raw, orig) {
			t.Errorf("Extract changed an ARF's bytes")
		}
	}
}
