package fbl

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/intake"
	accmail "github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/privacy"
)

// ARFInput is what a feedback report is made of.
type ARFInput struct {
	Report    *intake.Report
	Complaint consent.Complaint
	Sender    consent.Sender
	Node      string
	Recipient string   // The complaining recipient's address, when known: redacted everywhere.
	Redact    []string // Other addresses to redact (the reporter's).
}

// BuildARF makes the feedback report (RFC 5965): a human part, the
// machine-readable message/feedback-report, and the reported message with
// its recipients redacted (RFC 6590) by the privacy package, as evidence
// is, and every opt-out token of the node in it (a token stands for its
// recipient) replaced — in base64 and quoted-printable parts too, decoded
// and encoded again. Original-Rcpt-To's redacted local part is
// "redacted-" and a random id made for this report: nothing the sender
// can turn back into an address by hashing its own list. From, To, Date
// and Message-ID are added by the outbound queue.
func BuildARF(in ARFInput) ([]byte, error) {
	rep, c := in.Report, in.Complaint
	// Every recipient named in the message, and the complaining one, in
	// every spelling (the privacy package's redaction, as for evidence).
	original := privacy.Of(rep.Raw, in.Recipient).WithPattern(tokenRe, "${1}REDACTED").Message(rep.Raw)
	for _, a := range in.Redact {
		if a = strings.ToLower(strings.TrimSpace(a)); a != "" && a != strings.ToLower(in.Recipient) {
			original = privacy.New([]string{a}, nil).Message(original)
		}
	}
	original = tokenRe.ReplaceAll(original, []byte("${1}REDACTED")) // the header, and parts privacy left as they were
	original = redactLabels(original)
	rcpt := ""
	if at := strings.LastIndexByte(in.Recipient, '@'); at > 0 {
		var r [8]byte
		rand.Read(r[:])
		rcpt = "redacted-" + hex.EncodeToString(r[:]) + "@" + in.Recipient[at+1:]
	}

	var b bytes.Buffer
	boundary := newBoundary()
	subject := ""
	if rep.Verdict != nil {
		subject = rep.Verdict.Message.Subject
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", "Complaint about your mail: "+oneLine(subject, 120)))
	b.WriteString("MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=feedback-report; boundary=\"%s\"\r\n\r\n", boundary)
	b.WriteString("This is a multi-part message in MIME format.\r\n\r\n")

	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", boundary)
	how := map[string]string{consent.HowToken: "the node's opt-out token in its List-Unsubscribe field", consent.HowLabel: "the node's label on it",
		consent.HowDKIM: "its DKIM signature by your domain", consent.HowDKIMUnverified: "a DKIM signature by your domain that could not be verified (it does not count in your complaint rate)"}[c.How]
	fmt.Fprintf(&b, "A recipient complained about a message sent by %s.\r\n", in.Sender.ID)
	fmt.Fprintf(&b, "The complaint reached the Accord node %q on %s (report %s).\r\n", in.Node, rep.ReceivedAt.UTC().Format(time.RFC1123Z), rep.ID)
	fmt.Fprintf(&b, "It was tied to you by %s.\r\n", how)
	if c.List != "" {
		fmt.Fprintf(&b, "List: %s", c.List)
		if c.Campaign != "" {
			fmt.Fprintf(&b, "; campaign: %s", c.Campaign)
		}
		b.WriteString(".\r\n")
	}
	if c.Recipient != "" {
		b.WriteString("The recipient is now suppressed from all your lists at this node: your next suppression sync\r\n" +
			"(GET /api/v1/suppressions) carries it.\r\n")
	}
	if c.ConsentOnRecord {
		b.WriteString("Consent on record: yes. The authority sees this too.\r\n")
	} else {
		b.WriteString("Consent on record: no.\r\n")
	}
	if c.AfterOptOut {
		b.WriteString("The message was sent after the deadline of an earlier opt-out of this recipient.\r\n")
	}
	b.WriteString("The recipient's address is redacted below (RFC 6590).\r\n\r\n")

	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/feedback-report\r\n\r\n", boundary)
	b.WriteString("Feedback-Type: abuse\r\nUser-Agent: Accord\r\nVersion: 1\r\n")
	h := headerOf(rep.Raw)
	if rp := accmail.AddrSpec(h.Get("Return-Path")); rp != "" {
		fmt.Fprintf(&b, "Original-Mail-From: <%s>\r\n", oneLine(rp, 300))
	}
	if rcpt != "" {
		fmt.Fprintf(&b, "Original-Rcpt-To: <%s>\r\n", rcpt)
	}
	fmt.Fprintf(&b, "Arrival-Date: %s\r\n", rep.ReceivedAt.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Reported-Domain: %s\r\n", in.Sender.ID)
	if v := rep.Verdict; v != nil && v.Origin.IP != "" {
		fmt.Fprintf(&b, "Source-IP: %s\r\n", v.Origin.IP)
	}
	b.WriteString("Incidents: 1\r\n")
	fmt.Fprintf(&b, "X-Accord-Report: %s\r\n", rep.ID)
	if c.List != "" {
		fmt.Fprintf(&b, "X-Accord-List: %s\r\n", c.List)
	}
	if c.Campaign != "" {
		fmt.Fprintf(&b, "X-Accord-Campaign: %s\r\n", c.Campaign)
	}
	fmt.Fprintf(&b, "X-Accord-Consent-On-Record: %s\r\n\r\n", map[bool]string{true: "yes", false: "no"}[c.ConsentOnRecord])

	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n", boundary)
	b.Write(crlf(original))
	if !bytes.HasSuffix(original, []byte("\n")) {
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

// labelFieldRe is an Accord-Label field with its folded lines.
var labelFieldRe = regexp.MustCompile(`(?im)^Accord-Label:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*`)

// redactLabels replaces the value of every Accord-Label field in a
// message's header: a label is issued for one message to one recipient,
// so its id and signature name the recipient to the sender that asked
// for it, as an opt-out token does. The desk keeps the label in its
// evidence.
func redactLabels(raw []byte) []byte {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if e := bytes.Index(raw, []byte("\n\n")); e >= 0 && (end < 0 || e < end) {
		end = e
	}
	if end < 0 {
		end = len(raw)
	}
	head := labelFieldRe.ReplaceAll(raw[:end], []byte("Accord-Label: REDACTED"))
	return append(head, raw[end:]...)
}

func newBoundary() string {
	var r [12]byte
	rand.Read(r[:])
	return "accord-fbl-" + hex.EncodeToString(r[:])
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// crlf writes bare LF line ends as CRLF.
func crlf(b []byte) []byte {
	if bytes.Count(b, []byte("\n")) == bytes.Count(b, []byte("\r\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+bytes.Count(b, []byte("\n")))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// headerOf reads a message's header.
func headerOf(raw []byte) accmail.Header {
	return accmail.ParseBytes(raw, accmail.Limits{MaxBytes: 1 << 20}).Header
}

// tokenRe finds every opt-out token of the node, valid or not, in the
// URL and mailto forms, in any case.
var tokenRe = regexp.MustCompile(`(?i)(/u/|unsubscribe\+)[a-z2-7]{45}`)
