package fbl

import (
	"encoding/base64"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/intake"
	accmail "github.com/accord-antispam/accord/internal/mail"
)

// The ARF redacts the node's opt-out tokens however the reported message
// encodes its text: in a base64 part, and in a quoted-printable part with
// a soft line break inside the token; the recipient's address too.
func TestARFRedactsEncodedTokens(t *testing.T) {
	tok := strings.Repeat("x7mn", 11) + "q" // 45 base32 characters
	text := "Dear carl@example.com, to unsubscribe: https://accord.test/u/" + tok + "\r\n"
	var qp strings.Builder
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte(`<p>Dear carl@example.com, <a href="https://accord.test/u/` + tok + `">unsubscribe</a> or write to unsubscribe+` + tok + `@accord.test</p>`))
	w.Close()
	if !strings.Contains(qp.String(), "=\r\n") {
		t.Fatal("the quoted-printable part has no soft line break to hide the token behind")
	}
	raw := "From: Shop <news@shop.example>\r\nTo: carl@example.com\r\nSubject: Sale\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte(text)) + "\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		qp.String() + "\r\n--b--\r\n"
	arf, err := BuildARF(ARFInput{Report: &intake.Report{ID: "r1", Raw: []byte(raw), ReceivedAt: time.Now()},
		Complaint: consent.Complaint{Sender: "shop.example", How: consent.HowToken}, Sender: consent.Sender{ID: "shop.example"},
		Node: "test", Recipient: "carl@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	m := accmail.ParseBytes(arf, accmail.DefaultLimits())
	var texts []string
	var walk func(p *accmail.Part)
	walk = func(p *accmail.Part) {
		if p == nil {
			return
		}
		texts = append(texts, p.Text, string(p.Body))
		for _, c := range p.Children {
			walk(c)
		}
	}
	for _, p := range m.Parts {
		walk(p)
	}
	all := strings.Join(texts, "\n")
	if !strings.Contains(all, "REDACTED") || !strings.Contains(all, "unsubscribe") {
		t.Fatalf("the reported message's text is not in the ARF as decoded text:\n%s", all)
	}
	for _, secret := range []string{tok, "carl@example.com"} {
		if strings.Contains(all, secret) || strings.Contains(string(arf), secret) {
			t.Errorf("the ARF shows %q once decoded", secret)
		}
	}
}

// The ARF names neither the consent record nor the label the sender was
// given for this recipient: either would tell the sender who complained
// without the suppression feed.
func TestARFNamesNoRecordNorLabel(t *testing.T) {
	const label = "v=3; s=shop.example; t=1764400000;\r\n i=wmcw263wd5dhkcgyvd3q; b=QUJDREVGR0hJSktMTU5PUA"
	raw := "From: Shop <news@shop.example>\r\nTo: ana@example.net\r\nAccord-Label: " + label + "\r\nSubject: Sale\r\n\r\nHello ana, our sale. Accord-Label: i=wmcw263wd5dhkcgyvd3q stays in the body text.\r\n"
	arf, err := BuildARF(ARFInput{Report: &intake.Report{ID: "r1", Raw: []byte(raw), ReceivedAt: time.Now()},
		Complaint: consent.Complaint{Sender: "shop.example", How: consent.HowLabel, ConsentOnRecord: true, ConsentRecord: "gyriulwed7ty44biqyvcicy54i"},
		Sender:    consent.Sender{ID: "shop.example"}, Node: "test", Recipient: "ana@example.net"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(arf)
	if strings.Contains(s, "gyriulwed7ty44biqyvcicy54i") {
		t.Error("the ARF names the consent record")
	}
	if !strings.Contains(s, "Consent on record: yes") {
		t.Error("the ARF no longer says consent is on record")
	}
	if !strings.Contains(s, "\r\nAccord-Label: REDACTED\r\nSubject: Sale\r\n") {
		t.Errorf("the label field is not redacted whole:\n%s", s)
	}
	if strings.Contains(s, "QUJDREVGR0hJSktMTU5PUA") || strings.Count(s, "wmcw263wd5dhkcgyvd3q") != 1 {
		t.Errorf("the label's id or signature is left in its field, or the body was changed:\n%s", s)
	}
}
