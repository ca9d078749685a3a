package privacy

import (
	"encoding/base64"
	"mime"
	"net/url"
	"strings"
	"testing"
)

// TestLoginGivesSurname is issue 9's first leak: a recipient known only
// by a login of initial and surname ("jdupont@orange.fr", no display
// name anywhere) whose spam greets "DUPONT" and links to
// "/inv/Jean-Dupont/". The surname is theirs: cut from the subject, the
// links and the evidence, for each common shape of login.
func TestLoginGivesSurname(t *testing.T) {
	const subject = "Jean, votre facture DUPONT est prête"
	for _, login := range []string{"jdupont", "dupontj", "j.dupont", "dupont.j", "j_dupont", "jdupont75", "JDupont"} {
		p := New([]string{login + "@orange.fr"}, nil)
		if got := p.Text(subject); strings.Contains(strings.ToLower(got), "dupont") || !strings.Contains(got, "votre facture") {
			t.Errorf("%s: subject %q", login, got)
		}
		for _, link := range []string{"https://factures-x.example/inv/Jean-Dupont/", "https://factures-x.example/inv/DUPONT/",
			"https://factures-x.example/inv/jean_dupont/", "https://factures-x.example/inv/" + url.PathEscape(login) + "/"} {
			got, ok := p.URL(link)
			if !ok || got != "https://factures-x.example/inv/" {
				t.Errorf("%s: %s gives %q, %v", login, link, got, ok)
			}
		}
		// The same link, subject and greeting in the evidence.
		raw := "Delivered-To: " + login + "@orange.fr\r\nFrom: Factures <f@factures-x.example>\r\nSubject: " + subject +
			"\r\nContent-Type: text/html\r\n\r\n<p>Bonjour M. Dupont,</p><a href=\"https://factures-x.example/inv/Jean-Dupont/\">facture</a>\r\n"
		red := string(p.Message([]byte(raw)))
		if strings.Contains(strings.ToLower(red), "dupont") || !strings.Contains(red, "factures-x.example/inv/Jean-") {
			t.Errorf("%s: evidence\n%s", login, red)
		}
	}
}

// TestRoleLoginsGiveNoName: a desk's login names nobody. "sales",
// "orders", "alerts" read as initial and surname or surname and initial
// would give "sale", "order", "alert" — words of every spam — and cut
// them from subjects and links; they give none. Nor does a login whose
// derived surname is under four letters ("jdoe", "doej": "doe"), nor one
// that spells a role after its initial ("xsales"). (A login's own words
// of three letters are names as before: "j.doe" gives "doe".)
func TestRoleLoginsGiveNoName(t *testing.T) {
	logins := []string{"info", "contact", "sales", "admin", "support", "noreply", "no-reply", "newsletter", "billing", "service",
		"orders", "alerts", "invoices", "payments", "updates", "offers", "deals", "notifications", "factures", "ventes",
		"jdoe", "doej", "xsales", "salesx", "e.mail"}
	var addrs []string
	for _, l := range logins {
		addrs = append(addrs, l+"@acme-shop.example")
	}
	p := New(addrs, nil)
	for _, n := range p.Names {
		for _, w := range []string{"sale", "order", "alert", "invoice", "payment", "update", "offer", "deal", "notification", "facture", "vente",
			"doe", "ontact", "upport", "ervice", "illing", "ewsletter", "dmin", "oreply", "nfo"} {
			if n == w {
				t.Errorf("a role or short login gives the name %q (names %v)", n, p.Names)
			}
		}
	}
	const subject = "Big SALE: your order update, invoice and payment alert, best offer and deal, Doe family"
	if got := p.Text(subject); got != subject {
		t.Errorf("subject %q", got)
	}
	for _, link := range []string{"https://shop-x.example/sale/now", "https://shop-x.example/order/now", "https://shop-x.example/alert/now",
		"https://shop-x.example/doe/now", "https://shop-x.example/invoice/now"} {
		if got, ok := p.URL(link); !ok || got != link {
			t.Errorf("%s gives %q, %v", link, got, ok)
		}
	}
	// And the check can fail: a person's login beside them does give
	// their surname.
	if got := New(append(addrs, "msale@acme-shop.example"), nil).Text("Big SALE"); got == "Big SALE" {
		t.Error("msale gives no surname: the test proves nothing")
	}
}

// TestEvidenceCutsWhatTheLinksCut is issue 9's second leak: for
// k.nguyen@nguyen-dental.example, the link
// "/clinic/nguyendental/ref=knguyen" left the evidence whole while its
// indicator was cut. Every form the links lose — the initial and surname
// joined ("knguyen", "nguyenk"), inside a longer word ("knguyen2026"),
// the local part with digits run on, the domain that spells the person
// as a whole, as its name and with its words joined or reversed — is
// cut from the evidence too, in every encoding its redaction reads:
// plain, quoted-printable and base64 parts, RFC 2047 words,
// percent-encoding and HTML character references; and its domain from
// the trace fields.
func TestEvidenceCutsWhatTheLinksCut(t *testing.T) {
	const who = "k.nguyen@nguyen-dental.example"
	p := New([]string{who}, nil)
	segs := []string{"nguyendental", "ref=knguyen", "knguyen", "nguyenk", "knguyen2026", "k-nguyen", "nguyen_k", "k.nguyen42",
		"dentalnguyen", "nguyen-dental", "nguyen_dental", "www.nguyen-dental.example", "Nguyen"}
	var body strings.Builder
	for _, s := range segs {
		// The links lose each: the test would prove nothing otherwise.
		link := "https://clinic-x.example/clinic/" + s + "/go"
		if got, ok := p.URL(link); !ok || got != "https://clinic-x.example/clinic/" {
			t.Errorf("the link %s gives %q, %v", link, got, ok)
		}
		body.WriteString(link + "\r\n")
	}
	body.WriteString("https://clinic-x.example/p/%6Bnguyen/go https://clinic-x.example/p/nguyen%2Ddental/go k&#110;guyen nguyen&#100;ental\r\n")
	plain := body.String()
	b64 := base64.StdEncoding.EncodeToString([]byte("<a href=\"https://clinic-x.example/clinic/nguyendental/ref=knguyen\">x</a>"))
	raw := "Received: from relay.example ([12.0.0.9]) by mx.nguyen-dental.example with ESMTP id N1 for <" + who + ">; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"To: " + who + "\r\nFrom: Clinic <news@clinic-x.example>\r\n" +
		"Subject: " + mime.QEncoding.Encode("utf-8", "Rappel knguyen — nguyendental") + "\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + plain +
		"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Votre lien: https://clinic-x.example/clinic/nguyen=\r\ndental/ref=3Dknguyen\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n--b--\r\n"
	red := p.Message([]byte(raw))
	if all := strings.ToLower(decodedEverything(t, red)); strings.Contains(all, "nguyen") {
		t.Errorf("the evidence keeps the person:\n%s", red)
	}
	if !strings.Contains(string(red), "https://clinic-x.example/clinic/") || !strings.Contains(string(red), "by mx.") {
		t.Errorf("the redaction took the spam's own text:\n%s", red)
	}
	// A recipient's domain that spells no one (a firm's) stays in the
	// evidence, which says where the spam went.
	firm := New([]string{"k.nguyen@acme-corp.example"}, nil)
	if red := firm.Message([]byte("To: k.nguyen@acme-corp.example\r\n\r\nhttps://x.example/acmecorp/ acme-corp.example\r\n")); !strings.Contains(string(red), "acmecorp/ acme-corp.example") {
		t.Errorf("a firm's domain is cut from the evidence:\n%s", red)
	}
}
