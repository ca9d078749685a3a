package privacy

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/base64"
	"mime"
	"mime/quotedprintable"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/text/encoding/unicode/utf32"

	"github.com/accord-antispam/accord/internal/mail"
)

const (
	victim   = "alice.reporter@citizen-fr.example"
	reporter = "bob.durand@mail-fr.example"
)

// targeted is a spam that carries its recipient's and its reporter's
// addresses in every place spammers put them.
func targeted() []byte {
	b64html := base64.StdEncoding.EncodeToString([]byte(`<html><body><p>Hello Alice Reporter,</p>` +
		`<a href="http://pharma-us.example/buy/` + url.PathEscape(victim) + `/offer?u=` + base64.URLEncoding.EncodeToString([]byte(victim)) + `">buy</a>` +
		`<a href="http://pharma-us.example/unsub?e=alice.reporter%40citizen-fr.example">stop</a> ` +
		`contact: alice.reporter&#64;citizen-fr.example</p></body></html>`))
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte("Dear alice.reporter, this offer was reserved for " + victim + " and forwarded by " + reporter + ". " +
		strings.Repeat("Cheap meds without prescription. ", 4) + "\r\n"))
	w.Close()
	inner := "From: shop@pharma-us.example\r\nTo: " + reporter + "\r\nSubject: your copy\r\n\r\nSent to " + reporter + "\r\n"
	return []byte("Received: from relay.example ([12.0.0.1]) by mx.citizen-fr.example with ESMTP id X1 for <" + victim + ">; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"Delivered-To: " + victim + "\r\n" +
		"From: Pharma <deals@pharma-us.example>\r\n" +
		"To: \"Alice Reporter\" <" + victim + ">\r\n" +
		"Cc: " + reporter + "\r\n" +
		"Subject: " + mime.BEncoding.Encode("utf-8", "Alice, your offer for "+victim) + "\r\n" +
		"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() + "\r\n" +
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64html + "\r\n" +
		"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + inner +
		"--b1--\r\n")
}

// decodedEverything is an oracle written apart from the redactor: the
// message parsed by the mail package, every header field decoded, every
// part decoded, and each text also percent-decoded and with its base64
// runs decoded.
func decodedEverything(t *testing.T, raw []byte) string {
	t.Helper()
	m := mail.ParseBytes(raw, mail.Limits{})
	var b strings.Builder
	b.Write(raw)
	add := func(s string) {
		b.WriteString("\n" + s)
		if u, err := url.QueryUnescape(s); err == nil {
			b.WriteString("\n" + u)
		}
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" \t\r\n\"'<>=?&;:", r) }) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				if d, err := enc.DecodeString(f); err == nil {
					b.WriteString("\n" + string(d))
				}
			}
		}
	}
	for _, p := range m.Parts {
		for _, f := range p.Header.Fields {
			d, _ := mail.DecodeHeader(f.Value)
			add(f.Value)
			add(d)
		}
		add(string(p.Body))
		add(p.Text)
	}
	for _, f := range m.Header.Fields {
		d, _ := mail.DecodeHeader(f.Value)
		add(d)
	}
	return strings.ToLower(strings.ReplaceAll(b.String(), "&#64;", "@"))
}

func TestMessageRedactsEveryForm(t *testing.T) {
	raw := targeted()
	// The oracle sees the addresses in the original, in every form.
	all := decodedEverything(t, raw)
	for _, a := range []string{victim, reporter} {
		if !strings.Contains(all, a) {
			t.Fatalf("the test message does not carry %s", a)
		}
	}
	p := Of(raw, reporter)
	if !p.IsAddress(victim) || !p.IsAddress(reporter) {
		t.Fatalf("people: %+v", p.Addresses)
	}
	red := p.Message(raw)
	got := decodedEverything(t, red)
	for _, a := range []string{victim, reporter, "alice.reporter", "alice reporter"} {
		if strings.Contains(got, a) {
			t.Errorf("%q survives redaction:\n%s", a, red)
		}
	}
	if l := p.Leaks(red); len(l) > 0 {
		t.Errorf("Leaks finds %v", l)
	}
	if l := p.Leaks(raw); len(l) < 2 {
		t.Errorf("Leaks misses the addresses in the original: %v", l)
	}
	// What identifies the spam stays.
	for _, keep := range []string{"deals@pharma-us.example", "cheap meds without prescription", "pharma-us.example/buy/", "12.0.0.1", "shop@pharma-us.example"} {
		if !strings.Contains(got, keep) {
			t.Errorf("redaction lost %q", keep)
		}
	}
	// Still a readable message with the same structure.
	m, orig := mail.ParseBytes(red, mail.Limits{}), mail.ParseBytes(raw, mail.Limits{})
	if len(m.Parts) != len(orig.Parts) || len(m.Defects) != len(orig.Defects) {
		t.Errorf("structure changed: %d parts, defects %v", len(m.Parts), m.Defects)
	}
}

func TestURLKeepsTheRunNotTheVictim(t *testing.T) {
	p := New([]string{victim, reporter}, []string{"Alice Reporter"})
	for _, c := range []struct{ in, want string }{
		{"http://pharma-us.example/buy/alice.reporter@citizen-fr.example/offer", "http://pharma-us.example/buy/"},
		{"http://pharma-us.example/buy/alice.reporter%40citizen-fr.example/offer", "http://pharma-us.example/buy/"},
		{"https://pharma-us.example/o/alice.reporter/x.html", "https://pharma-us.example/o/"},
		{"http://pharma-us.example/order?ref=victim&e=" + victim, "http://pharma-us.example/order"},
		{"http://pharma-us.example/t/" + base64.RawURLEncoding.EncodeToString([]byte(victim)) + "/go", "http://pharma-us.example/t/"},
		{"http://pharma-us.example/c/8f3a9c2e1b7d4410/offer", "http://pharma-us.example/c/"},
		{"http://pharma-us.example/u/12345678", "http://pharma-us.example/u/"},
		{"http://user:pw@pharma-us.example/shop/offer.html#alice", "http://pharma-us.example/shop/offer.html"},
		{"http://alice-reporter.track.spam.example/open", "http://spam.example/open"},
		{"http://pharma-us.example", "http://pharma-us.example"},
		{"http://Pharma-US.example/Buy/Now", "http://pharma-us.example/Buy/Now"},
	} {
		got, ok := p.URL(c.in)
		if !ok || got != c.want {
			t.Errorf("URL(%s) = %q %v, want %q", c.in, got, ok, c.want)
		}
	}
	for _, bad := range []string{"mailto:" + victim, "javascript:alert(1)", "not a url", "cid:part1"} {
		if got, ok := p.URL(bad); ok {
			t.Errorf("URL(%s) = %q, want refused", bad, got)
		}
	}
}

func TestTextLosesAddressesAndNames(t *testing.T) {
	p := New([]string{victim}, []string{"Alice Reporter"})
	for _, c := range []struct{ in, want string }{
		{"Alice, your order for alice.reporter@citizen-fr.example", "[recipient], your order for [address]"},
		{"Invoice for someone@else.example", "Invoice for [address]"},
		{"Dear ALICE.REPORTER: last chance", "Dear [recipient]: last chance"},
		{"Cheap meds", "Cheap meds"},
		{"Malice in wonderland", "Malice in wonderland"},
	} {
		if got := p.Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzMessage(f *testing.F) {
	f.Add(targeted(), victim)
	f.Add([]byte("To: a@b.example\r\n\r\nhello a@b.example\r\n"), "a@b.example")
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Transfer-Encoding: base64\n\nYUBiLmV4YW1wbGU=\n--x--\n"), "a@b.example")
	f.Fuzz(func(t *testing.T, raw []byte, addr string) {
		p := Of(raw, addr)
		red := p.Message(raw)
		if strings.Contains(addr, "@") && len(addr) > 3 && !strings.ContainsAny(addr, " \t\r\n") {
			if bytes.Contains(bytes.ToLower(red), bytes.ToLower([]byte(strings.TrimSpace(addr)))) && p.IsAddress(addr) {
				t.Fatalf("%q survives in %q", addr, red)
			}
		}
		p.Leaks(red)
		for _, u := range []string{string(raw), addr} {
			p.URL(u)
			p.Text(u)
		}
	})
}

// parcelSpam and bccSpam are the messages of the federation attack
// review: a recipient known only by the address (no display name), whose
// name the links carry as host labels and path segments, and a Bcc
// recipient known only from the body.
const parcelSpam = "Received: from relay.example ([12.0.0.9]) by mx.citizen-fr.example with ESMTP id P1 for <bob.durand@citizen-fr.example>; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
	"From: Parcel Service <notice@parcel-scam.example>\r\nTo: bob.durand@citizen-fr.example\r\n" +
	"Subject: Bob Durand, bob.durand@citizen-fr.example: your parcel is waiting\r\n\r\n" +
	"Pay the fee: http://parcel-scam.example/track/bob-durand/step1 http://bob-durand.parcel-scam.example/pay " +
	"http://parcel-scam.example/p/durand/fee http://parcel-scam.example/n/Bob_Durand/fee http://parcel-scam.example/go/48213/x\r\n"

const bccSpam = "Received: from relay.example ([12.0.0.8]) by mx.citizen-fr.example with ESMTP id P3; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
	"From: Promo <win@promo-run.example>\r\nTo: undisclosed-recipients:;\r\nSubject: Carol, a gift for carol.petit\r\n\r\n" +
	"Dear carol.petit@citizen-fr.example, claim it at http://promo-run.example/u/carol.petit/claim or write to win@promo-run.example\r\n"

func TestNamesFromAddressesLeaveLinksAndSubjects(t *testing.T) {
	p := Of([]byte(parcelSpam), "")
	for _, c := range []struct{ in, want string }{
		{"http://parcel-scam.example/track/bob-durand/step1", "http://parcel-scam.example/track/"},
		{"http://bob-durand.parcel-scam.example/pay", "http://parcel-scam.example/pay"},
		{"http://parcel-scam.example/p/durand/fee", "http://parcel-scam.example/p/"},
		{"http://parcel-scam.example/n/Bob_Durand/fee", "http://parcel-scam.example/n/"},
		{"http://parcel-scam.example/n/BOBDURAND2026/fee", "http://parcel-scam.example/n/"},
		{"http://parcel-scam.example/x/Durand.Bob", "http://parcel-scam.example/x/"},
		{"http://parcel-scam.example/go/48213/x", "http://parcel-scam.example/go/"},
		{"http://parcel-scam.example/bob/x/durand", "http://parcel-scam.example/"},
		{"http://parcel-scam.example/track/now", "http://parcel-scam.example/track/now"},
	} {
		if got, ok := p.URL(c.in); !ok || got != c.want {
			t.Errorf("URL(%s) = %q %v, want %q", c.in, got, ok, c.want)
		}
	}
	if got, ok := p.URL("http://durand.example/pay"); ok {
		t.Errorf("a host that names the recipient kept as %q", got)
	}
	if got, want := p.Text("Bob Durand, bob.durand@citizen-fr.example: your parcel is waiting"), "[recipient] [recipient], [address]: your parcel is waiting"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}

	q := Of([]byte(bccSpam), "")
	if !q.IsAddress("carol.petit@citizen-fr.example") || q.IsAddress("win@promo-run.example") {
		t.Fatalf("Bcc recipient not learnt from the body (or the sender taken for one): %q", q.Addresses)
	}
	if q.IsDomain("citizen-fr.example") {
		t.Error("a domain only mentioned in the body is taken for the recipients'")
	}
	if got, want := q.Text("Carol, a gift for carol.petit"), "[recipient], a gift for [recipient]"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	if got, _ := q.URL("http://promo-run.example/u/carol.petit/claim"); got != "http://promo-run.example/u/" {
		t.Errorf("Bcc link kept as %q", got)
	}
	if red := q.Message([]byte(bccSpam)); bytes.Contains(bytes.ToLower(red), []byte("carol")) {
		t.Errorf("evidence keeps the Bcc recipient:\n%s", red)
	}
	// A body address at a known recipient's domain is a recipient too.
	r := Of([]byte("To: a.one@corp-fr.example\r\nFrom: x@spam.example\r\n\r\nalso for jean.colleague@corp-fr.example and sales@other.example\r\n"), "")
	if !r.IsAddress("jean.colleague@corp-fr.example") || r.IsAddress("sales@other.example") {
		t.Errorf("people %q", r.Addresses)
	}
}

// zipOf is a zip archive holding one file.
func zipOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestEvidenceLeaksInArchivesFoldsAndBcc is the attack review's evidence
// message: the recipient's address inside a zip attachment, folded across
// the Subject's lines, and a Bcc recipient named only in the body. What
// the redactor can rewrite comes out clean; the zip it cannot rewrite is
// found by Leaks, so the evidence is withheld.
func TestEvidenceLeaksInArchivesFoldsAndBcc(t *testing.T) {
	const rcpt = "bob.durand@citizen-fr.example"
	form := zipOf(t, "invoice.html", "<form><input name=e value='"+rcpt+"'></form>")
	zipped := base64.StdEncoding.EncodeToString(form)
	folded := "From: billing@invoice-scam.example\r\nTo: " + rcpt + "\r\n" +
		"Subject: Invoice for bob.durand@\r\n citizen-fr.example overdue\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"z\"\r\n\r\n" +
		"--z\r\nContent-Type: text/html\r\n\r\n<p>Hello bob.durand<span>@</span>citizen-fr.example</p>\r\n"
	withZip := folded + "--z\r\nContent-Type: application/zip; name=\"invoice.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + zipped + "\r\n--z--\r\n"
	withoutZip := folded + "--z--\r\n"

	p := Of([]byte(withoutZip), "")
	if l := p.Leaks([]byte(withoutZip)); len(l) == 0 {
		t.Error("Leaks misses the address folded across the Subject's lines")
	}
	red := p.Message([]byte(withoutZip))
	if l := p.Leaks(red); len(l) > 0 {
		t.Errorf("redacted copy still leaks %v:\n%s", l, red)
	}
	if bytes.Contains(red, []byte("citizen-fr.example overdue")) {
		t.Errorf("the folded subject keeps the address's domain:\n%s", red)
	}

	p = Of([]byte(withZip), "")
	if l := p.Leaks(p.Message([]byte(withZip))); len(l) == 0 {
		t.Error("Leaks misses the recipient inside the zip attachment: the evidence would be shared")
	}
	// A clean zip does not hold the evidence back; an unreadable archive does.
	clean := strings.Replace(withZip, zipped, base64.StdEncoding.EncodeToString(zipOf(t, "a.txt", "nothing personal")), 1)
	if l := p.Leaks(p.Message([]byte(clean))); len(l) > 0 {
		t.Errorf("a clean zip is reported as %v", l)
	}
	rar := strings.Replace(withZip, zipped, base64.StdEncoding.EncodeToString([]byte("Rar!\x1a\x07\x00 opaque bytes")), 1)
	if l := p.Leaks(p.Message([]byte(rar))); len(l) == 0 {
		t.Error("an archive that cannot be opened is taken as clean")
	}

	q := Of([]byte(bccSpam), "")
	if l := q.Leaks([]byte(bccSpam)); len(l) == 0 {
		t.Error("Leaks misses the Bcc recipient in the body")
	}
	if l := q.Leaks(q.Message([]byte(bccSpam))); len(l) > 0 {
		t.Errorf("Bcc redaction leaks %v", l)
	}
}

// The re-review's variants: initials and surname of a recipient in links,
// an accented name against its unaccented local part (and back), an
// address split around its "@" by a fold.
func TestInitialsAccentsAndFoldedAddresses(t *testing.T) {
	p := Of([]byte("To: =?utf-8?q?=C3=89milie_Dupr=C3=A9?= <emilie.dupre@citizen-fr.example>\r\nCc: frederic.zimmer@citizen-fr.example\r\n"+
		"From: x@colis-scam.example\r\n\r\nhi\r\n"), "henri.laval@reporter-fr.example")
	for _, c := range []struct{ in, want string }{
		{"http://colis-scam.example/edupre/pay", "http://colis-scam.example/"},
		{"http://colis-scam.example/emilied/pay", "http://colis-scam.example/"},
		{"http://colis-scam.example/e.dupre/pay", "http://colis-scam.example/"},
		{"http://bank-phish.example/id/hlaval", "http://bank-phish.example/id/"},
		{"http://gift-run.example/v/fzimmer/claim", "http://gift-run.example/v/"},
		{"http://gift-run.example/v/Fr%C3%A9d%C3%A9ric/claim", "http://gift-run.example/v/"},
		{"http://gift-run.example/v/claim", "http://gift-run.example/v/claim"},
	} {
		if got, ok := p.URL(c.in); !ok || got != c.want {
			t.Errorf("URL(%s) = %q %v, want %q", c.in, got, ok, c.want)
		}
	}
	for in, want := range map[string]string{
		"Frédéric, a gift for you":                          "[recipient], a gift for you",
		"FRÉDÉRIC ZIMMER wins":                              "[recipient] [recipient] wins",
		"Émilie: your parcel":                               "[recipient]: your parcel",
		"Invoice for jean.durand@ ville-fr.example overdue": "Invoice for [address] overdue",
		"Invoice for [recipient]@ citizen-fr.example due":   "Invoice for [address] due",
		"Meet the team at 5":                                "Meet the team at 5",
	} {
		if got := p.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
	// An accented local part against a plain name in the text.
	q := New([]string{"frédéric.zimmer@mail-de.example"}, nil)
	if got := q.Text("Frederic, hello"); got != "[recipient], hello" {
		t.Errorf("accented local part: %q", got)
	}
}

// The re-review's evidence that was shared as clean: the recipient's
// address in a raw zlib attachment (no gzip header) and in a UTF-32 text
// part. Both are read now, and what cannot be read with certainty — a
// charset the parser does not know, binary data that looks compressed or
// encrypted — is a leak too, so the evidence is withheld. Plain images
// are not.
func TestLeaksReadsZlibUTF32AndRefusesTheUnreadable(t *testing.T) {
	addr := "paul.renard@citizen-fr.example"
	p := New([]string{addr}, nil)
	msg := func(ctype, cte string, body []byte) []byte {
		if cte == "base64" {
			body = []byte(base64.StdEncoding.EncodeToString(body))
		}
		return []byte("From: x@spam.example\r\nTo: [redacted]\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: " + ctype + "\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n" +
			string(body) + "\r\n--b--\r\n")
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte("hello " + addr))
	zw.Close()
	u32, _ := utf32.UTF32(utf32.BigEndian, utf32.UseBOM).NewEncoder().Bytes([]byte("Contact: " + addr))
	u32le, _ := utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM).NewEncoder().Bytes([]byte("Contact: " + addr))
	random := make([]byte, 2048)
	rand.Read(random)
	for name, m := range map[string][]byte{
		"raw zlib":        msg("application/octet-stream", "base64", z.Bytes()),
		"utf-32":          msg("text/plain; charset=utf-32", "base64", u32),
		"utf-32le":        msg("text/plain; charset=utf-32le", "base64", u32le),
		"unknown charset": msg("text/plain; charset=x-made-up", "7bit", []byte("nothing to see")),
		"random bytes":    msg("application/octet-stream", "base64", random),
		"zstd":            msg("application/octet-stream", "base64", append([]byte("\x28\xb5\x2f\xfd"), random[:64]...)),
	} {
		if got := p.Leaks(m); len(got) == 0 {
			t.Errorf("%s: shared as clean", name)
		}
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), random...)
	if got := p.Leaks(msg("image/png", "base64", png)); len(got) != 0 {
		t.Errorf("an image is withheld: %v", got)
	}
}

// TestFoldedTraceFieldKeepsItsWords: a Received field folded the usual way
// (CRLF and a tab before "by" and "for") keeps its line breaks and
// whitespace when the recipient in its "for" clause is redacted — joining
// the folds without their whitespace glued "…13])by mx" and "id AB3for",
// altering trace evidence. An address split by a fold inside the same
// message is still joined and redacted.
func TestFoldedTraceFieldKeepsItsWords(t *testing.T) {
	msg := "Received: from smtp3.cheap-meds.example (unknown [185.220.101.13])\r\n" +
		"\tby mx.victim3.example (Postfix) with ESMTP id AB3\r\n" +
		"\tfor <user3@victim3.example>; Mon, 2 Nov 2026 10:00:00 +0000\r\n" +
		"Subject: pills for\r\n user3@\r\n victim3.example\r\n" +
		"From: x@cheap-meds.example\r\nTo: user3@victim3.example\r\n\r\nbuy\r\n"
	red := string(Of([]byte(msg), "").Message([]byte(msg)))
	want := "Received: from smtp3.cheap-meds.example (unknown [185.220.101.13])\r\n" +
		"\tby mx.victim3.example (Postfix) with ESMTP id AB3\r\n" +
		"\tfor <" + Redacted + ">; Mon, 2 Nov 2026 10:00:00 +0000\r\n"
	if !strings.HasPrefix(red, want) {
		t.Errorf("folded Received field:\n%s\nwant it to start:\n%s", red, want)
	}
	if strings.Contains(red, "user3") || strings.Contains(red, "victim3.example\r\n\r\n") {
		t.Errorf("the address split by a fold survived:\n%s", red)
	}
}

// TestReporterDisplayNameLeavesLinksAndSubjects is the attack review's
// forwarder whose address does not spell their name (Alice Martin at
// am1987@…): given as the From field they sent the complaint with, in
// whatever charset their client wrote it, the name goes from links and
// subjects in its usual URL forms. Given as an address only, it could
// not.
func TestReporterDisplayNameLeavesLinksAndSubjects(t *testing.T) {
	bcc := []byte("From: La Poste <colis@a2-scam.example>\r\nTo: undisclosed-recipients:;\r\nSubject: Alice Martin, votre colis\r\n\r\nPayez ici.\r\n")
	links := []string{"http://a2-scam.example/r/alice-martin/ref", "http://a2-scam.example/t/AliceMartin/ref",
		"http://a2-scam.example/u/martin_alice/ref", "http://a2-scam.example/v/Alice.Martin/ref"}
	for _, from := range []string{
		"Alice Martin <am1987@orange-fr.example>",
		`"Martin, Alice" <am1987@orange-fr.example>`,
		"Martin, Alice <am1987@orange-fr.example>", // unquoted: two items to a strict parser
		"=?windows-1252?Q?Alice_Mart=EDn?= <am1987@orange-fr.example>",
		"=?iso-8859-15?Q?Alice_Mart=EDn?= <am1987@orange-fr.example>",
		"Alice Mart\xedn <am1987@orange-fr.example>", // raw 8-bit Latin-1
		"Alice Martin <am1987@orange-fr.example>, Secretariat <sec@orange-fr.example>",
	} {
		p := Of(bcc, from)
		for _, l := range links {
			if got, ok := p.URL(l); !ok || strings.Contains(strings.ToLower(got), "martin") {
				t.Errorf("reporter %q: URL(%s) = %q %v", from, l, got, ok)
			}
		}
		if got := p.Text("Alice Martin, votre colis"); got != "[recipient], votre colis" && got != "[recipient] [recipient], votre colis" {
			t.Errorf("reporter %q: subject %q", from, got)
		}
		if !p.IsAddress("am1987@orange-fr.example") {
			t.Errorf("reporter %q: address not known", from)
		}
	}
	// The address alone knows no name: the test would pass without one.
	if got, _ := Of(bcc, "am1987@orange-fr.example").URL(links[0]); got != links[0] {
		t.Errorf("with the address only, %q", got)
	}
}

// TestRecipientDomainIdentifies: a family's or a small firm's domain names
// its people when their local part does not ("jd@", "contact@"), in host
// labels, path segments and subjects; a host's public suffix is nobody's,
// and a provider's name inside a longer label stays.
func TestRecipientDomainIdentifies(t *testing.T) {
	p := Of([]byte("From: x@webmail2-verify.example\r\nTo: jd@dupont-family.fr\r\nCc: contact@dupont-plomberie.fr\r\nSubject: s\r\n\r\nb\r\n"), "")
	for _, c := range []struct{ in, want string }{
		{"http://dupont-family.fr.webmail2-verify.example/login", "http://webmail2-verify.example/login"},
		{"http://webmail2-verify.example/login/dupont-family.fr/", "http://webmail2-verify.example/login/"},
		{"http://webmail2-verify.example/login/dupont-family/", "http://webmail2-verify.example/login/"},
		{"http://dupont-plomberie.webmail2-verify.example/x", "http://webmail2-verify.example/x"},
		{"http://webmail2-verify.example/login/now", "http://webmail2-verify.example/login/now"},
		{"http://dupont-family-loans.example/x", "http://dupont-family-loans.example/x"},
	} {
		if got, ok := p.URL(c.in); !ok || got != c.want {
			t.Errorf("URL(%s) = %q %v, want %q", c.in, got, ok, c.want)
		}
	}
	if got, want := p.Text("dupont-family.fr: your mailbox is full (DUPONT-PLOMBERIE.FR)"), "[recipient]: your mailbox is full ([recipient])"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	if q := Of([]byte("From: x@spam.example\r\nTo: bob@example.net\r\n\r\nb\r\n"), ""); q.HoldsDomain("pharma-us.example") {
		t.Error("a public suffix taken for the recipient's domain name")
	}
}

// TestSenderDomainIsNobodys: recipient fields are the spammer's to write.
// A Cc to the spam's own domain is redacted but does not make that domain
// a person's; a spam "from" its recipient's own address leaves the
// domain theirs.
func TestSenderDomainIsNobodys(t *testing.T) {
	p := Of([]byte("From: pay@inv5-phish.example\r\nTo: bob@victim.example\r\nCc: info@inv5-phish.example\r\nSubject: s\r\n\r\nb\r\n"), "")
	if p.IsDomain("inv5-phish.example") || p.HoldsDomain("inv5-phish.example") || !p.IsDomain("victim.example") {
		t.Errorf("domains %v", p.Domains)
	}
	if got := p.Text("write to info@inv5-phish.example"); got != "write to [address]" {
		t.Errorf("the Cc address kept: %q", got)
	}
	self := Of([]byte("From: bob@dupont.example\r\nTo: bob@dupont.example\r\nSubject: I hacked your account\r\n\r\nb\r\n"), "")
	if !self.IsDomain("dupont.example") {
		t.Errorf("a self-addressed spam's domain is nobody's: %v", self.Domains)
	}
}

// TestRecipientDomainWholeLabels is the sixth attack review's over-cut: a
// recipient at me.com or free.fr made every link and domain that merely
// contained those letters theirs (prime.com, carefree.fr,
// hotmail.com.verify.example), and a provider's name in a phish's link
// ("gmail.", "/orange/") was cut, though it names millions of people and
// is what the phish impersonates. A person's own domain is still found in
// its Punycode and Unicode spellings.
func TestRecipientDomainWholeLabels(t *testing.T) {
	p := Of([]byte("From: x@spam.example\r\nTo: bob@me.com, ann@mail.com, jean@free.fr, al@gmail.com\r\nSubject: s\r\n\r\nb\r\n"), "")
	for _, u := range []string{"http://prime.com/offer", "http://carefree.fr/login", "http://hotmail.com.verify.example/x",
		"http://email.company-deals.example/x", "http://gmail.account-verify.example/login", "http://espace-abonne.example/free/login",
		"http://free.fr-espace-abonne.example/login", "http://gmail.com.account-verify.example/login"} {
		if got, ok := p.URL(u); !ok || got != u {
			t.Errorf("URL(%s) = %q %v, want it whole", u, got, ok)
		}
	}
	for _, d := range []string{"prime.com", "welcome.com", "hotmail.com", "carefree.fr", "free.fr-espace-abonne.example"} {
		if p.HoldsDomain(d) {
			t.Errorf("%s taken for a recipient's domain", d)
		}
	}
	if !p.HoldsDomain("free.fr") || !p.HoldsDomain("me.com") {
		t.Error("the recipients' exact domains are no longer theirs")
	}
	if got := p.Text("Your free.fr mailbox is full"); got != "Your free.fr mailbox is full" {
		t.Errorf("a provider's domain cut from a subject: %q", got)
	}
	for _, to := range []string{"jd@café-dupont.fr", "jd@xn--caf-dupont-d7a.fr"} {
		q := Of([]byte("From: x@login-verify.example\r\nTo: "+to+"\r\nSubject: s\r\n\r\nb\r\n"), "")
		for _, u := range []string{"http://xn--caf-dupont-d7a.fr.login-verify.example/x", "http://café-dupont.fr.login-verify.example/x",
			"http://login-verify.example/xn--caf-dupont-d7a/", "http://login-verify.example/cafe-dupont/"} {
			if got, ok := q.URL(u); !ok || strings.Contains(got, "dupont") {
				t.Errorf("To %s: URL(%s) = %q %v", to, u, got, ok)
			}
		}
		for _, s := range []string{"xn--caf-dupont-d7a.fr: mailbox full", "café-dupont.fr: mailbox full", "CAFE-DUPONT.FR: mailbox full"} {
			if got := q.Text(s); got != "[recipient]: mailbox full" {
				t.Errorf("To %s: subject %q → %q", to, s, got)
			}
		}
	}
}

// TestRecipientAtAPublicSuffix is the seventh attack review's sixth
// finding: with people's domains matched as whole labels, a recipient at a
// public suffix ("Cc: info@com", "office@co.uk", "x@github.io") made every
// domain under it a person's, and a spam carrying that one Cc shared only
// its IP. A public suffix is nobody's domain; the address is still cut.
func TestRecipientAtAPublicSuffix(t *testing.T) {
	for _, c := range []struct{ cc, from, link string }{
		{"info@com", "service@paypal-verify.com", "http://paypal-verify.com/login"},
		{"office@co.uk", "refund@hmrc-refund.co.uk", "http://hmrc-refund.co.uk/claim"},
		{"x@github.io", "a@phish.example", "http://phish.github.io/x"},
		{"x@blogspot.com", "a@phish.example", "http://evil.blogspot.com/x"},
		{"x@example", "a@phish.example", "http://phish.example/x"},
		{"x@com.", "service@paypal-verify.com", "http://paypal-verify.com/login"},
	} {
		p := Of([]byte("From: "+c.from+"\r\nTo: bob.durand@gmail.com\r\nCc: "+c.cc+"\r\nSubject: s\r\n\r\nb\r\n"), "")
		if got, ok := p.URL(c.link); !ok || got != c.link {
			t.Errorf("Cc %s: URL(%s) = %q %v, want it whole", c.cc, c.link, got, ok)
		}
		if d := domainOf(c.from); p.HoldsDomain(d) {
			t.Errorf("Cc %s: the sender's domain %s taken for a person's", c.cc, d)
		}
		if !p.IsAddress(strings.TrimSuffix(c.cc, ".")) && !p.IsAddress(c.cc) {
			t.Errorf("Cc %s: the address itself is no longer redacted", c.cc)
		}
	}
	// A recipient at an ordinary domain still makes it theirs.
	if p := Of([]byte("From: a@x.example\r\nTo: jd@dupont-famille.fr\r\n\r\nb\r\n"), ""); !p.HoldsDomain("dupont-famille.fr") {
		t.Error("a family's own domain is no longer theirs")
	}
}

// TestNamesInUnspacedScriptsAndGreekCapitals: a reporter's name written in
// Japanese or Korean stands joined to its honorific ("山田太郎様",
// "김철수님"), and a Greek name in capitals ends in Σ, whose lower case is
// not the final ς the name was written with; each is cut from subjects
// and links.
func TestNamesInUnspacedScriptsAndGreekCapitals(t *testing.T) {
	bcc := []byte("From: colis@scam.example\r\nTo: undisclosed-recipients:;\r\nSubject: s\r\n\r\nb\r\n")
	for _, c := range []struct{ from, subject, want, link string }{
		{"=?utf-8?B?5bGx55Sw5aSq6YOO?= <ty@mail-jp.example>", "山田太郎様、お荷物のお知らせ", "[recipient]様、お荷物のお知らせ", "http://scam.example/r/山田太郎様/ref"},
		{"=?utf-8?B?6rmA7LKg7IiY?= <kcs@mail-kr.example>", "김철수님 택배 안내", "[recipient]님 택배 안내", "http://scam.example/r/김철수님/ref"},
		{"=?utf-8?Q?=CE=93=CE=B9=CF=8E=CF=81=CE=B3=CE=BF=CF=82?= <gp@mail-gr.example>", "ΓΙΏΡΓΟΣ, ΤΟ ΔΈΜΑ ΣΑΣ", "[recipient], ΤΟ ΔΈΜΑ ΣΑΣ", "http://scam.example/r/ΓΙΏΡΓΟΣ/ref"},
		// The seventh attack review's LOW 7: the Japanese address-book form
		// with a space (山田 太郎) cuts the name written joined; the Chinese
		// given name alone, and the parts joined by a hyphen in a link.
		{"=?utf-8?B?5bGx55SwIOWkqumDjg==?= <ty@mail-jp.example>", "山田太郎様、お荷物のお知らせ", "[recipient]様、お荷物のお知らせ", "http://scam.example/r/山田太郎様/ref"},
		{"=?utf-8?B?546L5bCP5piO?= <wxm88@mail-cn.example>", "小明，您的包裹", "[recipient]，您的包裹", "http://scam.example/r/王-小明/ref"},
		{"=?utf-8?B?546L5bCP5piO?= <wxm88@mail-cn.example>", "尊敬的王小明先生", "尊敬的[recipient]先生", "http://scam.example/r/小明/ref"},
		// The eighth attack review's LOW 7: the ideographic space (U+3000,
		// the usual Japanese form) and the middle dots separate a name's
		// parts as an ASCII space does; a name of two characters is found
		// with its parts joined by a separator.
		{"=?utf-8?B?5bGx55Sw44CA5aSq6YOO?= <ty@mail-jp.example>", "山田太郎様、お荷物のお知らせ", "[recipient]様、お荷物のお知らせ", "http://scam.example/r/山田太郎様/ref"},
		{"=?utf-8?B?5bGx55Sw44O75aSq6YOO?= <ty@mail-jp.example>", "山田太郎様、お荷物のお知らせ", "[recipient]様、お荷物のお知らせ", "http://scam.example/r/山田太郎様/ref"},
		{"=?utf-8?B?5bGx55SwwrflpKrpg44=?= <ty@mail-jp.example>", "山田太郎様、お荷物のお知らせ", "[recipient]様、お荷物のお知らせ", "http://scam.example/r/山田太郎様/ref"},
		{"=?utf-8?B?546L5piO?= <wm@mail-cn.example>", "王明先生，您的包裹", "[recipient]先生，您的包裹", "http://scam.example/r/王-明/ref"},
	} {
		addr := c.from[strings.Index(c.from, "<")+1 : len(c.from)-1]
		p := Of(bcc, c.from+", <"+addr+">")
		if got := p.Text(c.subject); got != c.want {
			t.Errorf("%s: subject %q → %q, want %q", c.from, c.subject, got, c.want)
		}
		if got, ok := p.URL(c.link); !ok || got != "http://scam.example/r/" {
			t.Errorf("%s: URL %s → %q %v", c.from, c.link, got, ok)
		}
	}
}

// TestDomainSpellingsOfReview7 is the seventh attack review's LOW 8: a
// recipient at a subdomain is named by the registrable domain in a
// subject, and a family's domain name is found written with an
// underscore or run together in a link.
func TestDomainSpellingsOfReview7(t *testing.T) {
	sub := Of([]byte("From: a@scam.example\r\nTo: bob@mail.girard-famille.example\r\n\r\nb\r\n"), "")
	if got := sub.Text("girard-famille.example: mailbox full"); strings.Contains(got, "girard-famille") {
		t.Errorf("the registrable domain of a recipient at a subdomain kept: %q", got)
	}
	p := Of([]byte("From: a@scam.example\r\nTo: bob@girard-famille.example\r\n\r\nb\r\n"), "")
	for _, link := range []string{"http://scam.example/r/girard_famille/x", "http://scam.example/r/girardfamille/x", "http://scam.example/r/GirardFamille/x",
		// The eighth attack review's LOW 8: other separators, the words
		// the other way round, the suffix joined.
		"http://scam.example/r/girard.famille/x", "http://scam.example/r/girard+famille/x", "http://scam.example/r/girard%20famille/x",
		"http://scam.example/r/girard~famille/x", "http://scam.example/r/famille-girard/x", "http://scam.example/r/girard-famille-example/x"} {
		if got, ok := p.URL(link); !ok || got != "http://scam.example/r/" {
			t.Errorf("%s → %q %v", link, got, ok)
		}
	}
	if got, ok := Of([]byte("From: a@scam.example\r\nTo: jd@dupont.example\r\n\r\nb\r\n"), "").URL("http://scam.example/r/dupont-example/x"); !ok || got != "http://scam.example/r/" {
		t.Errorf("dupont-example → %q %v", got, ok)
	}
	// A provider's subdomain names nobody, and a short name run together
	// is kept.
	if prov := Of([]byte("From: a@scam.example\r\nTo: bob@mail.gmail.com\r\n\r\nb\r\n"), ""); prov.HoldsDomain("gmail-verify.example") {
		t.Error("a provider's name became a person's")
	}
	if short := Of([]byte("From: a@scam.example\r\nTo: x@a-b.example\r\n\r\nb\r\n"), ""); short.HoldsDomain("ab.example") {
		t.Error("a short name run together taken for a person's")
	}
}

// TestDomainLabelInTextOfReview8 is the eighth attack review's LOW 8 in
// subjects: a recipient's domain name without its suffix, in any
// spelling the links are cut for, is cut from free text too — but not
// as a host's public suffix ("pharma.example" names no one at
// example.net), and a word that merely holds it stays. Cyrillic and
// Greek look-alike letters spell the Latin ones, in links and in text.
func TestDomainLabelInTextOfReview8(t *testing.T) {
	p := Of([]byte("From: a@scam.example\r\nTo: Bob Girard <bob@girard-famille.example>\r\n\r\nb\r\n"), "")
	for _, s := range []string{"Girard-Famille: votre colis", "girard_famille: votre colis", "girardfamille: votre colis", "GIRARD FAMILLE: votre colis",
		"famille-girard: votre colis", "girard-famille-example: votre colis", "Girard-Famіlle: votre colis", "Bоb Girаrd: votre colis"} {
		if got := p.Text(s); got != "[recipient]: votre colis" {
			t.Errorf("%q → %q", s, got)
		}
	}
	for _, link := range []string{"http://scam.example/r/bоb-girаrd/x", "http://scam.example/r/girard-famіlle/x"} {
		if got, ok := p.URL(link); !ok || got != "http://scam.example/r/" {
			t.Errorf("%s → %q %v", link, got, ok)
		}
	}
	d := Of([]byte("From: a@scam.example\r\nTo: jd@dupont.example\r\n\r\nb\r\n"), "")
	for s, want := range map[string]string{
		"Dupont, votre colis":         "[recipient], votre colis",
		"dupont-example: votre colis": "[recipient]: votre colis",
		"Dupontel: votre colis":       "Dupontel: votre colis",
		"famille: votre colis":        "famille: votre colis",
	} {
		if got := d.Text(s); got != want {
			t.Errorf("%q → %q, want %q", s, got, want)
		}
	}
	if got := Of([]byte("From: a@scam.example\r\nTo: jd@example.net\r\n\r\nb\r\n"), "").Text("Buy at pharma.example now"); got != "Buy at pharma.example now" {
		t.Errorf("a host's public suffix cut: %q", got)
	}
}

// TestSubjectDomainNameOfReview9 is the ninth attack review's finding 7
// (README: a recipient's domain's registrable name is cut from subjects
// in its spellings) with no display name that would cut the same words
// as a name: to bob@girard-famille.example, the subject partners receive
// (Text) keeps none of the spellings the review found kept.
func TestSubjectDomainNameOfReview9(t *testing.T) {
	p := Of([]byte("From: x@scam.example\r\nTo: bob@girard-famille.example\r\nSubject: s\r\n\r\nhi\r\n"), "")
	for s, want := range map[string]string{
		"girard-famille: boite pleine": "[recipient]: boite pleine",
		"Girard-Famille: boite pleine": "[recipient]: boite pleine",
		"girard_famille boite":         "[recipient] boite",
		"girardfamille boite":          "[recipient] boite",
		"GirardFamille boite":          "[recipient] boite",
		"girard-famille.example boite": "[recipient] boite",
		"famille boite":                "famille boite",
	} {
		if got := p.Text(s); got != want {
			t.Errorf("%q → %q, want %q", s, got, want)
		}
	}
}
