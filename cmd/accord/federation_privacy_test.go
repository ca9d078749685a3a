package main

import (
	"archive/zip"
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

const (
	privVictim   = "alice.reporter@citizen-fr.example"
	privReporter = "bob.durand@mail-fr.example"
)

// targetedSpam carries its recipient's and its reporter's addresses in its
// links, subject, Received lines and encoded body parts.
func targetedSpam() string {
	html := base64.StdEncoding.EncodeToString([]byte(`<html><body><p>Hello Alice Reporter,</p>` +
		`<a href="http://pharma-us.example/buy/` + url.PathEscape(privVictim) + `/offer?u=` + base64.URLEncoding.EncodeToString([]byte(privVictim)) + `">Order now</a>` +
		`<a href="http://pharma-us.example/unsub?e=alice.reporter%40citizen-fr.example">unsubscribe</a>` +
		`<p>Reply to alice.reporter&#64;citizen-fr.example</p></body></html>`))
	var qp bytes.Buffer
	w := quotedprintable.NewWriter(&qp)
	w.Write([]byte("Dear alice.reporter, this offer is reserved for " + privVictim + " (forwarded to you by " + privReporter + "). " +
		"Best prices of the year on everything you need: cheap meds without prescription, order today at " +
		"http://pharma-us.example/buy/alice.reporter@citizen-fr.example/offer and save up to 80 percent.\r\n"))
	w.Close()
	return "Received: from mx.citizen-fr.example (mx.citizen-fr.example [10.0.0.5]) by in.citizen-fr.example with ESMTP id A1 for <" + privVictim + ">; Tue, 3 Nov 2026 10:00:02 +0000\r\n" +
		"Received: from relay.example ([12.0.0.7]) by mx.citizen-fr.example with SMTP id B1 for <" + privVictim + ">; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"Delivered-To: " + privVictim + "\r\n" +
		"From: Pharma Deals <deals@pharma-mailer.example>\r\n" +
		"To: \"Alice Reporter\" <" + privVictim + ">\r\n" +
		"Cc: " + privReporter + "\r\n" +
		"Subject: " + mime.BEncoding.Encode("utf-8", "Alice, your order for "+privVictim+" is waiting") + "\r\n" +
		"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <t1@pharma-us.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() + "\r\n" +
		"--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + html + "\r\n--b1--\r\n"
}

// needles are what must never reach the partner, in any form: the
// addresses, and the names the attack review found leaving in links and
// subjects — a recipient known only by the address (marc.lefort), whose
// name the links carry as host labels and path segments in any case and
// separator, and a Bcc recipient named only in the body (carol.petit).
var needles = []string{privVictim, privReporter, "alice.reporter", "bob.durand", "lefort", "carol", "petit@", "/petit", "zoe.zip",
	// The re-review's: initials and surname in links, accented names, an
	// address split around its "@" by a fold.
	"edupre", "emilied", "dupre", "dupré", "fzimmer", "frederic", "frédéric", "zimmer", "jean.durand", "ville-fr",
	// The fourth review's: a forwarder through the API whose subject does
	// not say "Fwd:", named in the spam's links.
	"jean.dubois", "jeandubois", "dubois",
	// Issue 9's: a surname known only from a login, a login and a domain
	// that spells the person run together (loginSpam, dentalSpam).
	"dupont", "nguyen"}

// apiForward is the fourth attack review's fwd2.eml, reduced: Jean Dubois
// uploads through the API a forward with the spam attached and the subject
// "Signalement spam"; the spam's links carry his name.
const apiForward = "From: Jean Dubois <jean.dubois@reporter-fr.example>\r\nTo: report@localhost\r\nSubject: Signalement spam\r\n" +
	"Date: Tue, 3 Nov 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"OUTER\"\r\n\r\n" +
	"--OUTER\r\nContent-Type: text/plain\r\n\r\nVoici un spam. Jean Dubois\r\n--OUTER\r\nContent-Type: message/rfc822\r\n\r\n" +
	"Received: from relay.example ([12.0.0.4]) by mx.citizen-fr.example with ESMTP id P6; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
	"From: La Poste Colis <colis@colis3-mailer.example>\r\nTo: emilie.dupre@citizen-fr.example\r\nSubject: Votre colis attend\r\n" +
	"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\nPayez ici: http://colis3-scam.example/r/jean.dubois/ref http://colis3-scam.example/r2/JeanDubois/ref\r\n" +
	"--OUTER--\r\n"

// Three messages of the attack review. parcelSpam: the recipient has no
// display name; the subject and links carry the name. bccSpam: delivered
// by Bcc, the recipient is only in the body. zipSpam: the recipient's
// address inside a zip attachment, which the redactor cannot rewrite, so
// its evidence must be withheld.
const (
	parcelSpam = "Received: from relay.example ([12.0.0.9]) by mx.citizen-fr.example with ESMTP id P1 for <marc.lefort@citizen-fr.example>; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"From: Parcel Service <notice@parcel-mailer.example>\r\nTo: marc.lefort@citizen-fr.example\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n" +
		"Subject: Marc Lefort, marc.lefort@citizen-fr.example: your parcel is waiting\r\n\r\n" +
		"Your parcel is held at the depot. Pay the customs fee today: http://parcel-scam.example/track/marc-lefort/step1 " +
		"http://marc-lefort.parcel-scam.example/pay http://parcel-scam.example/p/lefort/fee http://parcel-scam.example/n/Marc_Lefort/fee\r\n"
	bccSpam = "Received: from relay.example ([12.0.0.8]) by mx.citizen-fr.example with ESMTP id P3; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"From: Promo <win@promo-mailer.example>\r\nTo: undisclosed-recipients:;\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n" +
		"Subject: Carol, a gift for carol.petit\r\n\r\n" +
		"Dear carol.petit@citizen-fr.example, you won a gift card. Claim it at http://promo-run.example/u/carol.petit/claim today.\r\n"
)

// accentSpam names Émilie Dupré (accented display name) and Frédéric
// Zimmer: links carry "edupre", "emilied", "fzimmer", the subject
// "Frédéric" in RFC 2047. foldSpam's subject splits an address at its "@".
const (
	accentSpam = "Received: from relay.example ([12.0.0.6]) by mx.citizen-fr.example with ESMTP id P4; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"From: Colis <suivi@colis-scam.example>\r\nTo: =?utf-8?q?=C3=89milie_Dupr=C3=A9?= <emilie.dupre@citizen-fr.example>\r\nCc: frederic.zimmer@citizen-fr.example\r\n" +
		"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\nSubject: =?utf-8?q?Fr=C3=A9d=C3=A9ric=2C_a_gift_for_you?=\r\n\r\n" +
		"Your parcel waits: http://colis-scam.example/edupre/pay http://colis-scam.example/emilied/pay http://colis-scam.example/v/fzimmer/claim\r\n"
	foldSpam = "Received: from relay.example ([12.0.0.5]) by mx.citizen-fr.example with ESMTP id P5; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"From: Billing <billing@invoice-mailer.example>\r\nTo: undisclosed-recipients:;\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n" +
		"Subject: Invoice for jean.durand@\r\n ville-fr.example overdue\r\n\r\nPay the invoice today at http://invoice-scam.example/pay now.\r\n"
)

// Issue 9's two spams. loginSpam: the recipient is known only by the
// login jdupont (no display name anywhere), greeted and linked by
// surname. dentalSpam: k.nguyen at a domain that spells her name, linked
// by login and domain run together.
const (
	loginSpam = "Received: from relay.example ([12.0.0.21]) by smtp.orange.fr with ESMTP id D1; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"Delivered-To: jdupont@orange.fr\r\nFrom: Service Facturation <noreply@mailer-fx.example>\r\nTo: undisclosed-recipients:;\r\n" +
		"Subject: Jean, votre facture DUPONT est prête\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\n" +
		"Votre facture: https://factures-x.example/inv/Jean-Dupont/ et https://factures-x.example/inv/jdupont/\r\n"
	dentalSpam = "Received: from relay.example ([12.0.0.22]) by mx.nguyen-dental.example with ESMTP id N1 for <k.nguyen@nguyen-dental.example>; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"To: k.nguyen@nguyen-dental.example\r\nFrom: Dental Supply <offers@dental-mailer.example>\r\nSubject: Votre commande de gants\r\n" +
		"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\nCommander: https://dental-supply-x.example/clinic/nguyendental/ref=knguyen\r\n"
)

func zipSpam(t *testing.T) string {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("invoice.html")
	w.Write([]byte("<form><input name=e value='zoe.zip@citizen-fr.example'></form>"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return "Received: from relay.example ([12.0.0.7]) by mx.citizen-fr.example with ESMTP id P2 for <zoe.zip@citizen-fr.example>; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
		"From: Billing <billing@invoice-mailer.example>\r\nTo: zoe.zip@citizen-fr.example\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n" +
		"Subject: Invoice overdue\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"z\"\r\n\r\n" +
		"--z\r\nContent-Type: text/plain\r\n\r\nYour invoice is attached, pay it now.\r\n" +
		"--z\r\nContent-Type: application/zip; name=\"invoice.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(b.Bytes()) + "\r\n--z--\r\n"
}

// exposed finds the needles in text or in what it decodes to: JSON
// strings, base64, percent-encoding, and whole MIME messages (every
// header field and part decoded).
func exposed(b []byte, depth int) []string {
	if depth > 4 || len(b) == 0 {
		return nil
	}
	var found []string
	low := strings.ToLower(string(b))
	for _, n := range needles {
		if strings.Contains(low, n) {
			found = append(found, n)
		}
	}
	if u, err := url.QueryUnescape(string(b)); err == nil && u != string(b) {
		found = append(found, exposed([]byte(u), depth+1)...)
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		var walk func(any)
		walk = func(x any) {
			switch t := x.(type) {
			case string:
				found = append(found, exposed([]byte(t), depth+1)...)
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
	for _, tok := range regexp.MustCompile(`[A-Za-z0-9+/_-]{12,}={0,2}`).FindAll(b, -1) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(string(tok)); err == nil {
				found = append(found, exposed(d, depth+1)...)
			}
		}
	}
	if bytes.Contains(b, []byte("\n")) && bytes.Contains(b, []byte(":")) {
		m := mail.ParseBytes(b, mail.Limits{})
		for _, p := range m.Parts {
			for _, f := range p.Header.Fields {
				if d, _ := mail.DecodeHeader(f.Value); d != f.Value {
					found = append(found, exposed([]byte(d), depth+1)...)
				}
			}
			if len(p.Body) > 0 && !bytes.Equal(p.Body, b) {
				found = append(found, exposed(p.Body, depth+1)...)
			}
		}
	}
	return found
}

// TestPersonalDataNeverReachesThePartner: a spam carrying the reporter's
// and the recipient's addresses in links, subject, Received lines and
// encoded parts is reported to FR by mail and shared with US under an
// agreement that allows everything, evidence included: the receiving
// node's whole database — every file byte, and every value of every table
// decoded — holds no trace of them, nor does FR's TAXII feed.
func TestPersonalDataNeverReachesThePartner(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	fr := startNode(t, bin, dir, "fr", "FR", "")
	us := startNode(t, bin, dir, "us", "US", "")
	all := writeFile(t, filepath.Join(dir, "all.toml"), `id = "FR-US-ALL"
version = 1
audience = ["us"]
share = ["indicators", "campaigns", "reports", "evidence", "statistics"]
tlp_max = "red"
personal_data = true
origins = ["*"]
min_aggregate = 1
`)
	fr.run(t, bin, "peer", "add", "us", "--url", "http://"+us.s.http, "--key", us.key, "--jurisdiction", "US", "--agreement", all)
	us.run(t, bin, "peer", "add", "fr", "--url", "http://"+fr.s.http, "--key", fr.key, "--jurisdiction", "FR", "--agreement",
		writeFile(t, filepath.Join(dir, "to-fr.toml"), "id = \"TO-FR\"\nversion = 1\naudience = [\"fr\"]\nshare = []\n"))

	// Bob forwards the spam he got as Alice's … to FR's complaints mailbox.
	complaint := "From: Bob Durand <" + privReporter + ">\r\nTo: complaints@fr.example\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"fw\"\r\n\r\n--fw\r\nContent-Type: text/plain\r\n\r\nSpam sent to my colleague.\r\n" +
		"--fw\r\nContent-Type: message/rfc822\r\n\r\n" + targetedSpam() + "\r\n--fw--\r\n"
	if err := smtp.SendMail(fr.s.smtp, nil, privReporter, []string{"complaints@fr.example"}, []byte(complaint)); err != nil {
		t.Fatal(err)
	}
	post, _ := poster(t, bin, fr) // more, so statistics (5 reports at least) flow too
	post(parcelSpam)
	post(bccSpam)
	post(zipSpam(t))
	post(accentSpam)
	post(foldSpam)
	post(apiForward)
	post(loginSpam)
	post(dentalSpam)
	for i := 0; i < 4; i++ {
		post(federationSpam(fmt.Sprintf("12.0.0.%d", 30+i), "deals@pharma-mailer.example", "Cheap meds", 30+i))
	}
	if out := fr.run(t, bin, "peer", "sync", "us"); !regexp.MustCompile(`[1-9]\d* items?`).MatchString(out) {
		t.Fatalf("sync: %s", out)
	}
	got := us.received(t, bin, "fr")
	kinds := map[string]int{}
	links := map[string]bool{}
	senderKept := false
	for _, it := range got {
		kinds[string(it.Kind)]++
		if it.Kind == "indicators" {
			var in struct{ Value string }
			json.Unmarshal(it.Body, &in)
			links[in.Value] = true
		}
		if it.Kind == "evidence" {
			var ev struct{ Redacted string }
			json.Unmarshal(it.Body, &ev)
			red, _ := base64.StdEncoding.DecodeString(ev.Redacted)
			if !bytes.Contains(red, []byte("[redacted]")) || !bytes.Contains(red, []byte("From: ")) {
				t.Errorf("the evidence is not the redacted message:\n%s", red)
			}
			if bytes.Contains(red, []byte("deals@pharma-mailer.example")) {
				senderKept = true
			}
		}
	}
	for _, k := range []string{"evidence", "reports", "campaigns", "indicators", "statistics"} {
		if kinds[k] == 0 {
			t.Errorf("no %s reached US (%v): the test would prove nothing", k, kinds)
		}
	}
	if !senderKept {
		t.Error("no evidence keeps the spammer's address: redaction took too much")
	}
	// The links still say what the spam run was, cut before the name.
	for _, l := range []string{"http://parcel-scam.example/track/", "http://parcel-scam.example/pay", "http://parcel-scam.example/n/", "http://promo-run.example/u/",
		"http://colis3-scam.example/r/", "https://factures-x.example/inv/", "https://dental-supply-x.example/clinic/"} {
		if !links[l] {
			t.Errorf("indicator %s did not reach US: %v", l, links)
		}
	}
	// 13 reports; the zip's evidence cannot be shown clean and stays home.
	if kinds["reports"] != 13 || kinds["evidence"] != 12 {
		t.Errorf("%d reports and %d evidence items reached US, want 13 and 12", kinds["reports"], kinds["evidence"])
	}
	// FR's TAXII feed for US.
	tok := lastLine(fr.run(t, bin, "peer", "token", "us"))
	feed := taxiiAll(t, "http://"+fr.s.http, tok)
	if len(feed) < 100 {
		t.Errorf("the TAXII feed is nearly empty: %s", feed)
	}
	if f := exposed(feed, 0); len(f) > 0 {
		t.Errorf("FR's TAXII feed exposes %v", f)
	}
	us.s.stop(t)
	fr.s.stop(t)

	// Every byte of every file in US's data folder (database, WAL).
	filepath.WalkDir(us.data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		low := bytes.ToLower(b)
		for _, n := range needles {
			if bytes.Contains(low, []byte(n)) {
				t.Errorf("%s holds %q", filepath.Base(path), n)
			}
		}
		return nil
	})
	// Every value of every table, decoded.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(us.data, "accord.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	values := 0
	for _, table := range names {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for i, v := range vals {
				var b []byte
				switch x := v.(type) {
				case string:
					b = []byte(x)
				case []byte:
					b = x
				default:
					continue
				}
				values++
				if f := exposed(b, 0); len(f) > 0 {
					t.Errorf("%s.%s exposes %v", table, cols[i], f)
				}
			}
		}
		rows.Close()
	}
	if values < 50 {
		t.Errorf("only %d values scanned", values)
	}
	// And the scanner finds them where they are: FR's own database.
	raw, _ := os.ReadFile(filepath.Join(fr.data, "accord.db"))
	if !bytes.Contains(bytes.ToLower(raw), []byte(privVictim)) {
		t.Error("the scan would not have seen the address: FR itself does not hold it")
	}
}

// taxiiAll reads every page of the first collection a token sees.
func taxiiAll(t *testing.T, base, tok string) []byte {
	t.Helper()
	get := func(u string) map[string]any {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %s", u, b)
		}
		return m
	}
	cols, _ := get(base + "/taxii2/api/collections/")["collections"].([]any)
	if len(cols) == 0 {
		t.Fatal("no collection")
	}
	id := cols[0].(map[string]any)["id"].(string)
	var all bytes.Buffer
	next := ""
	for page := 0; page < 100; page++ {
		u := base + "/taxii2/api/collections/" + id + "/objects/?limit=50"
		if next != "" {
			u += "&next=" + url.QueryEscape(next)
		}
		m := get(u)
		b, _ := json.Marshal(m["objects"])
		all.Write(b)
		if more, _ := m["more"].(bool); !more {
			break
		}
		next = fmt.Sprint(m["next"])
	}
	return all.Bytes()
}
