package federation

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
)

// The two spams of issue 9's trial. dupontSpam reaches a recipient known
// only by the login "jdupont" (no display name anywhere) and greets and
// links them by surname; nguyenSpam reaches k.nguyen at a domain that
// spells her name and links her by login and domain run together.
const (
	dupontSpam = "Received: from relay.example ([12.0.0.21]) by smtp.orange.fr with ESMTP id D1; Sun, 29 Nov 2026 10:00:01 +0000\r\n" +
		"Delivered-To: jdupont@orange.fr\r\nFrom: Service Facturation <noreply@mailer-fx.example>\r\nTo: undisclosed-recipients:;\r\n" +
		"Subject: Jean, votre facture DUPONT est =?utf-8?q?pr=C3=AAte?=\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n" +
		"Message-ID: <d1@mailer-fx.example>\r\n\r\n" +
		"Bonjour, votre facture: https://factures-x.example/inv/Jean-Dupont/ et https://factures-x.example/inv/jdupont/\r\n"
	nguyenSpam = "Received: from relay.example ([12.0.0.22]) by mx.nguyen-dental.example with ESMTP id N1 for <k.nguyen@nguyen-dental.example>; Sun, 29 Nov 2026 10:00:01 +0000\r\n" +
		"To: k.nguyen@nguyen-dental.example\r\nFrom: Dental Supply <offers@dental-mailer.example>\r\nSubject: Votre commande de gants\r\n" +
		"Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <n1@dental-mailer.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<a href=3D\"https://dental-supply-x.example/clinic/nguyendental/ref=3Dknguyen\">Commander</a>\r\n"
)

// TestLoginNamesReachNoPartner runs both through Collect as a partner
// under personal_data = true receives them — indicators, campaign,
// report and evidence — and finds nothing of "dupont" or "nguyen" in
// what it receives, read as the whole-database scan of cmd/accord reads
// it (JSON strings, base64, percent-encoding, every MIME field and part
// decoded), while each spam's run still goes out: its link cut before the
// person, its evidence made.
func TestLoginNamesReachNoPartner(t *testing.T) {
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	for _, c := range []struct {
		raw, link string
	}{
		{dupontSpam, "ind:url:https://factures-x.example/inv/ "},
		{nguyenSpam, "ind:url:https://dental-supply-x.example/clinic/ "},
	} {
		items := sharedItems(t, an, []byte(c.raw), intake.Via{As: intake.AsReceived})
		all := listed(items)
		evidence := false
		for _, it := range items {
			evidence = evidence || strings.HasPrefix(it.Key, "ev:") && len(it.Body) > 0
			if f := namesIn(it.Body, 0); len(f) > 0 {
				t.Errorf("%s reaches the partner with %v:\n%s", it.Key, f, it.Body)
			}
		}
		if !evidence || !strings.Contains(all, c.link) || !strings.Contains(all, "[recipient]") && strings.Contains(c.raw, "DUPONT") {
			t.Errorf("the spam run did not go out (evidence %v, %s):\n%s", evidence, c.link, all)
		}
	}
}

// namesIn finds "dupont" and "nguyen" in b or in what it decodes to.
func namesIn(b []byte, depth int) []string {
	if depth > 4 || len(b) == 0 {
		return nil
	}
	var found []string
	low := bytes.ToLower(b)
	for _, n := range []string{"dupont", "nguyen"} {
		if bytes.Contains(low, []byte(n)) {
			found = append(found, n)
		}
	}
	if u, err := url.QueryUnescape(string(b)); err == nil && u != string(b) {
		found = append(found, namesIn([]byte(u), depth+1)...)
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		var walk func(any)
		walk = func(x any) {
			switch t := x.(type) {
			case string:
				found = append(found, namesIn([]byte(t), depth+1)...)
			case map[string]any:
				for _, e := range t {
					walk(e)
				}
			case []any:
				for _, e := range t {
					walk(e)
				}
			}
		}
		walk(v)
	}
	for _, tok := range bytes.FieldsFunc(b, func(r rune) bool {
		return !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-=", r)
	}) {
		if len(tok) < 12 {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(string(tok)); err == nil {
				found = append(found, namesIn(d, depth+1)...)
			}
		}
	}
	if bytes.Contains(b, []byte("\n")) && bytes.Contains(b, []byte(":")) {
		m := mail.ParseBytes(b, mail.Limits{})
		for _, p := range m.Parts {
			for _, f := range p.Header.Fields {
				if d, _ := mail.DecodeHeader(f.Value); d != f.Value {
					found = append(found, namesIn([]byte(d), depth+1)...)
				}
			}
			if p.Text != "" {
				found = append(found, namesIn([]byte(p.Text), depth+1)...)
			}
			if len(p.Body) > 0 && !bytes.Equal(p.Body, b) {
				found = append(found, namesIn(p.Body, depth+1)...)
			}
		}
	}
	return found
}
