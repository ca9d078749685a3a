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
	for _, q := range []string{"Hello, how do I report spam?\r\n", "Bonjour, comment signaler un spam ? Ann (ann@example.net)\r\n",
		"Hello, how do I report spam?\r\n-- \r\nAnn Smith, Smith & Co\r\nTel. +44 20 7946 0958\r\nwww.smith-and-co.example\r\n"} {
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
		// This real report ends without its MIME close delimiter: its
		// message may be cut short, and the item says so.
		{file: "arf-01.eml", forwarded: true, form: FormARF, subjects: []string{"Kijitora cat family"},
			feedback: map[string]string{"Feedback-Type": "abuse"}, unverif: true},
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
	b.WriteString("From: r@example.net\r\nTo: report@desk.example\r\nSubject: many\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n")
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
	f.Add(forwardOf("Signalement spam", "Begin forwarded message:\r\n", "From: a@spam.example\r\nDate: x\r\nSubject: s\r\n\r\nbuy\r\n"), false)
	f.Add(forwardOf("RE: x", "", "De : a@spam.example\r\nEnvoyé : x\r\n\r\nObjet : s\r\n\r\nbuy\r\n"), false)
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

// forwardOf is a reporter's forward with the spam quoted after head (a
// marker line, or nothing when the quoted header block stands alone),
// under a subject that does not say "Fwd:".
func forwardOf(subject, head, quoted string) []byte {
	return []byte("From: Jean Dubois <jean.dubois@reporter-fr.example>\r\nTo: report@desk.example\r\nSubject: " + subject +
		"\r\nDate: Tue, 24 Nov 2026 11:00:00 +0000\r\nMessage-ID: <f1@reporter-fr.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Voici un spam que j'ai reçu. Jean Dubois\r\n\r\n" + head + quoted)
}

// TestForwardKnownByItsStructure: a forward is unwrapped whatever its
// subject says ("Signalement spam", fourth attack review): by an attached
// message, or by the marker or quoted header block its client wrote, in
// the desk's languages — through the API and the form as through the
// mailbox. Taken whole, the forwarder passed for the spammer and their
// name went to partners.
func TestForwardKnownByItsStructure(t *testing.T) {
	attached := []byte("From: Jean Dubois <jean.dubois@reporter-fr.example>\r\nTo: report@desk.example\r\nSubject: Signalement spam\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"O\"\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\nVoici un spam. Jean Dubois\r\n" +
		"--O\r\nContent-Type: message/rfc822\r\n\r\nFrom: La Poste <colis@colis3-scam.example>\r\nTo: emilie.dupre@citizen-fr.example\r\n" +
		"Subject: Votre colis\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nPayez ici http://colis3-scam.example/r/jean.dubois/ref\r\n--O--\r\n")
	octet := []byte(strings.Replace(string(fixture(t, "forward-eml-octet.eml")), "Subject: Fwd:", "Subject: look at this:", 1))
	if forwardSubject(subjectOf(octet)) {
		t.Fatal("the fixture still says Fwd:")
	}
	// Jean forwards what was sent to him (the quote's To names him), or,
	// after a marker that says "forwarded", what was sent to anyone.
	quoted := func(to string) string {
		return "From: La Poste <colis@colis3-scam.example>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nSubject: Votre colis\r\n" +
			"To: " + to + "\r\n\r\nPayez ici http://colis3-scam.example/pay\r\n"
	}
	forwarded := []string{
		"---------- Forwarded message ---------", "---------- Message transféré ---------", "---------- Weitergeleitete Nachricht ---------",
		"---------- Mensaje reenviado ---------", "---------- Messaggio inoltrato ---------", "---------- Doorgestuurd bericht ---------",
		"---------- Mensagem encaminhada ---------", "-------- Forwarded Message --------", "-------- Message transféré --------",
		"----- Forwarded Message -----", "Begin forwarded message:", "Début du message réexpédié :", "Anfang der weitergeleiteten Nachricht:",
		"Inicio del mensaje reenviado:", "Inizio messaggio inoltrato:", "Begin doorgestuurd bericht:", "Início da mensagem reencaminhada:",
	}
	original := []string{
		"-------- Original Message --------", "-----Original Message-----", "-----Message d'origine-----",
		"-----Ursprüngliche Nachricht-----", "-----Mensaje original-----", "-----Messaggio originale-----", "-----Oorspronkelijk bericht-----",
		"-----Mensagem original-----", "> -----Original Message-----",
	}
	// The spam Jean got was a bounce (backscatter): he forwards a message
	// that is itself a delivery notice.
	bounce := []byte("From: Jean Dubois <jean.dubois@reporter-fr.example>\r\nTo: report@desk.example\r\nSubject: Signalement spam\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"O\"\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\nEncore. Jean Dubois\r\n" +
		"--O\r\nContent-Type: message/rfc822\r\n\r\nFrom: MAILER-DAEMON@colis3-scam.example\r\nTo: jean.dubois@reporter-fr.example\r\nSubject: Undelivered\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"d\"\r\n\r\n" +
		"--d\r\nContent-Type: text/plain\r\n\r\nYour parcel: http://colis3-scam.example/pay\r\n--d\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.colis3-scam.example\r\n\r\nFinal-Recipient: rfc822; x@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n--d--\r\n--O--\r\n")
	cases := map[string][]byte{"attached": attached, "attached .eml": octet, "attached bounce": bounce}
	for _, mk := range forwarded {
		cases[mk] = forwardOf("Signalement spam", mk+"\r\n", quoted("<emilie.dupre@citizen-fr.example>"))
	}
	for _, mk := range original {
		cases[mk] = forwardOf("Signalement spam", mk+"\r\n", quoted("Jean <jean.dubois@reporter-fr.example>"))
	}
	// Outlook's block with no marker line, in plain text and in HTML.
	cases["outlook en"] = forwardOf("spam", "________________________________\r\n", "From: La Poste <colis@colis3-scam.example>\r\n"+
		"Sent: Tuesday, November 24, 2026 10:00 AM\r\nTo: Jean Dubois\r\nSubject: Votre colis\r\n\r\nPayez ici http://colis3-scam.example/pay\r\n")
	cases["outlook fr"] = forwardOf("à vérifier", "", "De : La Poste <colis@colis3-scam.example>\r\nEnvoyé : mardi 24 novembre 2026 10:00\r\n"+
		"À : jean.dubois@reporter-fr.example\r\nObjet : Votre colis\r\n\r\nPayez ici http://colis3-scam.example/pay\r\n")
	cases["outlook de html"] = []byte("From: Jean Dubois <jean.dubois@reporter-fr.example>\r\nTo: report@desk.example\r\nSubject: Bitte prüfen\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Bitte prüfen. Jean Dubois</p>" +
		`<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal"><b>Von:</b> La Poste &lt;colis@colis3-scam.example&gt;<br>` +
		"<b>Gesendet:</b> Dienstag, 24. November 2026 10:00<br><b>An:</b> Jean Dubois &lt;jean.dubois@reporter-fr.example&gt;<br>" +
		"<b>Betreff:</b> Votre colis</p></div><p>Payez ici http://colis3-scam.example/pay</p></body></html>\r\n")
	api, form, mailbox := Via{Declared: "message/rfc822"}, Via{}, Via{Mailbox: true, Reporter: "jean.dubois@reporter-fr.example"}
	unwrapped := func(name string, raw []byte, via Via) {
		t.Helper()
		items, err := Extract(raw, via)
		if err != nil {
			t.Errorf("%s %+v: %v", name, via, err)
			return
		}
		if it := items[0]; it.Form != FormAttached && it.Form != FormInlineForward {
			t.Errorf("%s %+v: taken as %s, not unwrapped", name, via, it.Form)
		}
	}
	// A reply's quote ("Original Message", Outlook's block) over the
	// message of someone else: through the API it could as well be spam
	// posing as a thread, unless the subject says "forward"; at the
	// mailbox the complaint is Jean's own mail.
	for _, mk := range original {
		other := forwardOf("Signalement spam", mk+"\r\n", quoted("<emilie.dupre@citizen-fr.example>"))
		if items, err := Extract(other, api); err != nil || items[0].Form != FormRaw {
			t.Errorf("%s over someone else's message, through the API: %v (%s)", mk, err, forms(items))
		}
		unwrapped(mk+" over someone else's message", other, mailbox)
		unwrapped(mk+" over someone else's message, TR:", forwardOf("TR: Signalement spam", mk+"\r\n", quoted("<emilie.dupre@citizen-fr.example>")), api)
	}
	for name, raw := range cases {
		for _, via := range []Via{api, form, mailbox} {
			items, err := Extract(raw, via)
			if err != nil {
				t.Errorf("%s %+v: %v", name, via, err)
				continue
			}
			it := items[0]
			if it.Form != FormAttached && it.Form != FormInlineForward {
				t.Errorf("%s %+v: taken as %s, not unwrapped", name, via, it.Form)
				continue
			}
			if got := mail.ParseBytes(it.Raw, mail.DefaultLimits()).Header.Get("From"); name != "attached .eml" && !strings.Contains(got, "colis3-scam.example") {
				t.Errorf("%s %+v: the spam's From is %q", name, via, got)
			}
			if bytes.Contains(it.Raw, []byte("Voici un spam")) || bytes.Contains(it.Raw, []byte("Bitte prüfen.")) {
				t.Errorf("%s %+v: the reporter's note is in the spam:\n%s", name, via, it.Raw)
			}
		}
	}
}

// TestNotAForward: what only looks like a forward is the spam itself, its
// own headers the evidence — a phishing mail posing as a thread ("RE:"
// over Outlook's "Original Message" or its header block, or a bought
// thread under no "Re:" that names neither its author nor a forward), a
// marker named in the middle of a sentence; through the API and the form
// also a mail system's notice carrying or quoting the returned message.
func TestNotAForward(t *testing.T) {
	const head = "Received: from relay.example ([12.0.0.9]) by mx.example.org with ESMTP id Q1; Tue, 24 Nov 2026 10:00:01 +0000\r\n" +
		"From: CEO <ceo@lookalike-corp.example>\r\nTo: ana@example.org\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
	thread := head + "Subject: RE: Invoice 4432\r\n\r\nPlease pay the invoice below today.\r\n\r\n-----Original Message-----\r\n" +
		"From: Ana <ana@example.org>\r\nSent: Monday, November 23, 2026 9:00 AM\r\nTo: CEO <ceo@corp.example>\r\nSubject: Invoice 4432\r\n\r\nWhich account?\r\n"
	block := head + "Subject: AW: Rechnung\r\n\r\nBitte heute zahlen.\r\n\r\nVon: Ana <ana@example.org>\r\nGesendet: Montag, 23. November 2026 09:00\r\n" +
		"An: CEO <ceo@corp.example>\r\nBetreff: Rechnung\r\n\r\nWelches Konto?\r\n"
	dsn := head + "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"d\"\r\n\r\n" +
		"--d\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--d\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; x@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--d\r\nContent-Type: message/rfc822\r\n\r\nFrom: ana@example.org\r\nTo: x@example.net\r\nSubject: hello\r\n\r\nhi\r\n--d--\r\n"
	prose := head + "Subject: Win big\r\n\r\nNever read a begin forwarded message: line again! Claim http://win.example/now\r\n"
	// Spam carrying a bought thread under Outlook's block, with no "Re:"
	// (two of the modern samples): the quote names neither the author nor
	// a forward.
	bought := head + "Subject: URGENT: your storage is almost full\r\n\r\nUpgrade now at http://cloud-scam.example/up\r\n\r\nThank you\r\n\r\n" +
		"From: Shields, Trevor\r\n\r\nSent: Wednesday, January 21, 2026 1:23 PM\r\n\r\nTo: Angela Lord\r\n\r\nSubject: storage\r\n\r\nSee below.\r\n"
	// A bounce quoting the returned message's own header ("Date:", not
	// Outlook's "Sent:"), and one attaching it from the mail daemon.
	bounce := "From: MAILER-DAEMON@mx.example.net\r\nTo: ana@example.org\r\nSubject: failure notice\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n" +
		"Sorry, we were unable to deliver your message.\r\n\r\n--- Below this line is a copy of the message.\r\n\r\n" +
		"From: ana@example.org\r\nTo: x@example.net\r\nDate: Tue, 24 Nov 2026 09:00:00 +0000\r\nSubject: hello\r\n\r\nhi\r\n"
	daemon := "From: no-reply@mx.example.net\r\nTo: ana@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: ana@example.org\r\nTo: x@example.net\r\nSubject: hello\r\n\r\nhi\r\n--b--\r\n"
	for name, raw := range map[string]string{"thread": thread, "block": block, "dsn": dsn, "prose": prose, "bought": bought, "bounce": bounce, "daemon": daemon,
		"mailer-daemon": strings.Replace(daemon, "From: no-reply@mx.example.net", "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>", 1)} {
		for _, via := range []Via{{Declared: "message/rfc822"}, {}, {Mailbox: true, Reporter: "ana@example.org"}} {
			if via.Mailbox && (name == "dsn" || name == "daemon" || name == "mailer-daemon") {
				continue // at the mailbox, bounces are turned away before (smtpd), and a reporter's attachment is unwrapped
			}
			items, err := Extract([]byte(raw), via)
			if err != nil || len(items) != 1 || items[0].Form != FormRaw {
				t.Errorf("%s (%+v): %v, %d items (%s)", name, via, err, len(items), forms(items))
			}
		}
	}
	// A forward of a thread says so. Declared, it is unwrapped; not
	// declared, it passes a mail sent to a third party on to someone at
	// another organisation, as a phish above a made-up original does
	// (the eighth attack review's q2): taken whole, unsure.
	fwd := strings.Replace(thread, "Subject: RE: Invoice", "Subject: FW: RE: Invoice", 1)
	if items, err := Extract([]byte(fwd), Via{Declared: "message/rfc822", As: AsForwarded}); err != nil || items[0].Form != FormInlineForward {
		t.Errorf("FW: RE: as=forwarded: %v (%s)", err, forms(items))
	}
	if items, err := Extract([]byte(fwd), Via{Declared: "message/rfc822"}); err != nil || items[0].Form != FormRaw || !UnsureOrigin(items[0].Unverifiable) {
		t.Errorf("FW: RE: undeclared: %v (%s)", err, forms(items))
	}
}

func forms(items []Item) string {
	var f []string
	for _, it := range items {
		f = append(f, it.Form)
	}
	return strings.Join(f, ",")
}

// TestFakeForwardIsTheSpamItself is the fifth attack review's third
// finding: a phish uploaded as received, whose own body carries a
// made-up forwarded original (attached, or quoted after a marker) from its
// own domain to the same victim, is the spam — taken whole, with its
// delivery headers — not a forward by its phisher. A person's forward of
// a spam from their own provider's domain is still one.
func TestFakeForwardIsTheSpamItself(t *testing.T) {
	head := "Received: from relay.example ([12.0.9.84]) by mx.fr.example with SMTP id p1b; Tue, 24 Nov 2026 10:00:01 +0000\r\n" +
		"From: Accounts Payable <ap@inv4-phish.example>\r\nTo: claire.moreau@citizen-fr.example\r\nSubject: Fwd: Invoice 2231 overdue\r\n" +
		"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <p4@inv4-phish.example>\r\nMIME-Version: 1.0\r\n"
	attached := func(innerFrom, innerTo string) []byte {
		return []byte(head + "Content-Type: multipart/mixed; boundary=\"O\"\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\nPlease pay today.\r\n" +
			"--O\r\nContent-Type: message/rfc822\r\n\r\nFrom: " + innerFrom + "\r\nTo: " + innerTo + "\r\nSubject: Invoice 2231 overdue\r\n" +
			"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\nPay at http://inv4-phish.example/pay/2231\r\n--O--\r\n")
	}
	quoted := []byte(strings.Replace(head, "Subject: Fwd:", "Subject: FW:", 1) + "Content-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Please process today.\r\n\r\n---------- Forwarded message ---------\r\nFrom: Director <director@inv4-phish.example>\r\n" +
		"Date: Mon, 23 Nov 2026 at 09:00\r\nSubject: Payment confirmation\r\nTo: <claire.moreau@citizen-fr.example>\r\n\r\nWire it via http://inv4-phish.example/pay/77\r\n")
	for name, raw := range map[string][]byte{
		"attached, the same victim":   attached("Director <director@inv4-phish.example>", "claire.moreau@citizen-fr.example"),
		"attached, from itself":       attached("Accounts Payable <ap@inv4-phish.example>", "finance@inv4-phish.example"),
		"quoted after a marker (FW:)": quoted,
	} {
		items, err := Extract(raw, Via{Declared: "message/rfc822"})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].Form != FormRaw || !bytes.Equal(items[0].Raw, raw) {
			t.Errorf("%s: taken as %s, not the spam itself", name, items[0].Form)
		}
		if by := ForwardedBy(raw, items); by != "" {
			t.Errorf("%s: the phisher %s taken for the reporter", name, by)
		}
	}
	// A person at a large provider forwarding a spam from the same
	// provider, and a spam spoofing its recipient forwarded by them: both
	// forwards.
	fwd := func(from, innerFrom, innerTo string) []byte {
		return []byte("From: " + from + "\r\nTo: report@desk.example\r\nSubject: Signalement\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"O\"\r\n\r\n--O\r\nContent-Type: message/rfc822\r\n\r\nFrom: " + innerFrom + "\r\nTo: " + innerTo +
			"\r\nSubject: prize\r\n\r\nclaim at http://prize.example/\r\n--O--\r\n")
	}
	for _, raw := range [][]byte{
		fwd("alice@bigmail.example", "winner@bigmail.example", "alice@bigmail.example"),
		fwd("alice@bigmail.example", "alice@bigmail.example", "alice@bigmail.example"),
		fwd("Alice <alice@bigmail.example>", "winner@bigmail.example", "undisclosed-recipients:;"),
	} {
		items, err := Extract(raw, Via{Declared: "message/rfc822"})
		if err != nil || items[0].Form != FormAttached || ForwardedBy(raw, items) != "alice@bigmail.example" {
			t.Errorf("a person's forward taken as %s (%v)", items[0].Form, err)
		}
	}
}

// TestCEOFraudIsTheSpamItself is the sixth attack review's first finding:
// the CEO fraud whose look-alike "CEO" (another domain than the made-up
// original's) writes "FW:" to the firm's accountant above a lawyer's mail
// "to the CEO" was unwrapped with the phisher as the reporter, the origin
// dropped and the innocent lawyer's domain shared as the spam's sender.
// It is the spam itself; a person's forward to the desk stays a forward.
// A colleague's forward inside the recipients' organisation (to IT) is
// what the chief executive's exact domain spoofed writes too (the eighth
// attack review's p3): taken whole, unsure, the colleague kept apart.
func TestCEOFraudIsTheSpamItself(t *testing.T) {
	bec := []byte("Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.acme-corp.example; Sat, 28 Nov 2026 10:00:00 +0000\r\n" +
		"From: \"Jean Leroy (CEO)\" <ceo@acme-c0rp.example>\r\nTo: compta@acme-corp.example\r\nSubject: FW: Virement urgent - confidentiel\r\n" +
		"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@acme-c0rp.example>\r\n\r\nMerci de traiter aujourd'hui.\r\n\r\n" +
		"---------- Forwarded message ---------\r\nFrom: Maitre Dubois <m.dubois@cabinet-dubois.example>\r\nDate: Fri, 27 Nov 2026\r\n" +
		"Subject: Virement urgent\r\nTo: Jean Leroy <ceo@acme-corp.example>\r\n\r\nVeuillez virer 48 000 EUR: http://bec-pay.example/pay/77\r\n")
	items, err := Extract(bec, Via{Declared: "message/rfc822"})
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Form != FormRaw || !bytes.Equal(items[0].Raw, bec) || ForwardedBy(bec, items) != "" {
		t.Errorf("the CEO fraud taken as %s, reporter %q", items[0].Form, ForwardedBy(bec, items))
	}
	fwd := func(from, to, innerTo string) []byte {
		return []byte("From: " + from + "\r\nTo: " + to + "\r\nSubject: Fwd: prize\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"O\"\r\n\r\n--O\r\nContent-Type: message/rfc822\r\n\r\nFrom: winner@prize.example\r\nTo: " + innerTo +
			"\r\nSubject: prize\r\n\r\nclaim at http://prize.example/\r\n--O--\r\n")
	}
	colleague := fwd("alice@acme-corp.example", "it@acme-corp.example", "sales@acme-corp.example")
	if items, err := Extract(colleague, Via{Declared: "message/rfc822"}); err != nil || items[0].Form != FormRaw || !UnsureOrigin(items[0].Unverifiable) || ForwardedBy(colleague, items) != "alice@acme-corp.example" {
		t.Errorf("a colleague's forward to IT taken as %s (%v)", items[0].Form, err)
	}
	for _, c := range []struct{ from, to, innerTo string }{
		{"bob@home.example", "report@desk.example", "alice@acme-corp.example"},        // someone else's spam, to the desk
		{"alice@acme-corp.example", "report@desk.example", "alice@acme-corp.example"}, // their own
		{"bob@home.example", "report@desk.example", "undisclosed-recipients:;"},       // a Bcc spam
	} {
		raw := fwd(c.from, c.to, c.innerTo)
		items, err := Extract(raw, Via{Declared: "message/rfc822"})
		if err != nil || items[0].Form != FormAttached || ForwardedBy(raw, items) != c.from {
			t.Errorf("%s's forward to %s taken as %s (%v)", c.from, c.to, items[0].Form, err)
		}
	}
}

// TestForwardOfAForward is the sixth attack review's third finding: Alice
// forwards to the desk the forward Bob made her of a spam he received.
// Taken as the spam, Bob's forward gave his provider's relay as the origin
// (an innocent address shared as an indicator) and lost the spammer's.
// Bob's forward to Alice, at another firm or at his own, is what a phish
// above a made-up original writes too (the eighth attack review, finding
// 2: "FW:" from the spoofed chief executive to the accountant): it stops
// at Bob's forward, marked unsure, whose origin and From the federation
// does not share; the spam's links still go. Bob's forward to his firm's
// abuse desk is a report: the spam inside is the report, attached or
// quoted. An attached message that was not sent to the forward's sender
// stays where it is.
func TestForwardOfAForward(t *testing.T) {
	spam := "Received: from mx.spam.example (mx.spam.example [12.0.9.50]) by mx.girard.example; Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
		"From: Colis <colis@parcel-scam.example>\r\nTo: Bob Girard <bob.girard@girard.example>\r\nSubject: votre colis\r\n" +
		"Date: Sat, 28 Nov 2026 09:00:00 +0000\r\nMessage-ID: <s@parcel-scam.example>\r\n\r\nPayez http://parcel-scam.example/r/ref\r\n"
	attach := func(from, to, inner string) string {
		return "Received: from smtp.example ([12.0.9.60]) by mx.example; Sat, 28 Nov 2026 09:30:00 +0000\r\nFrom: " + from + "\r\nTo: " + to +
			"\r\nSubject: Fwd: votre colis\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + from[:3] + "\"\r\n\r\n--" + from[:3] +
			"\r\nContent-Type: text/plain\r\n\r\nRegarde.\r\n--" + from[:3] + "\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--" + from[:3] + "--\r\n"
	}
	bob := attach("bob.girard@girard.example", "am1987@orange-fr.example", spam)
	quotedBob := "Received: from smtp.example ([12.0.9.60]) by mx.example; Sat, 28 Nov 2026 09:30:00 +0000\r\nFrom: Bob Girard <bob.girard@girard.example>\r\n" +
		"To: am1987@orange-fr.example\r\nSubject: Fwd: votre colis\r\n\r\nRegarde.\r\n\r\n---------- Forwarded message ---------\r\n" +
		"From: Colis <colis@parcel-scam.example>\r\nDate: Sat, 28 Nov 2026\r\nSubject: votre colis\r\nTo: Bob Girard <bob.girard@girard.example>\r\n\r\n" +
		"Payez http://parcel-scam.example/r/ref\r\n"
	to := func(who string) func(string) string {
		return func(s string) string { return strings.ReplaceAll(s, "am1987@orange-fr.example", who) }
	}
	colleague, abuse := to("alice@girard.example"), to("abuse@girard.example")
	for name, raw := range map[string]string{
		"attached in attached, to the abuse desk":     attach("abuse@girard.example", "report@desk.example", abuse(bob)),
		"quoted in attached, to the abuse desk":       attach("abuse@girard.example", "report@desk.example", abuse(quotedBob)),
		"attached in attached, Alice a colleague":     attach("alice@girard.example", "report@desk.example", colleague(bob)),
		"quoted in attached, Alice a colleague":       attach("alice@girard.example", "report@desk.example", colleague(quotedBob)),
		"attached in attached, Alice at another firm": attach("am1987@orange-fr.example", "report@desk.example", bob),
		"quoted in attached, Alice at another firm":   attach("am1987@orange-fr.example", "report@desk.example", quotedBob),
	} {
		reporter := map[bool]string{true: "abuse@girard.example", false: "alice@girard.example"}[strings.Contains(name, "abuse")]
		if strings.Contains(name, "another firm") {
			reporter = "am1987@orange-fr.example"
		}
		for _, via := range []Via{{Declared: "message/rfc822"}, {Mailbox: true, Reporter: reporter}} {
			items, err := Extract([]byte(raw), via)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 || !strings.Contains(string(items[0].Raw), "Payez") {
				t.Fatalf("%s (mailbox %v): the spam is lost:\n%s", name, via.Mailbox, items[0].Raw)
			}
			bobs := strings.Contains(string(items[0].Raw), "Regarde")
			if strings.Contains(name, "abuse desk") && bobs {
				t.Errorf("%s (mailbox %v): the report is not the spam inside:\n%s", name, via.Mailbox, items[0].Raw)
			}
			if !strings.Contains(name, "abuse desk") && (!bobs || !UnsureOrigin(items[0].Unverifiable) || !strings.Contains(headerField(items[0].Raw, "From"), "bob.girard")) {
				t.Errorf("%s (mailbox %v): not Bob's forward, unsure (%q):\n%s", name, via.Mailbox, items[0].Unverifiable, items[0].Raw)
			}
			if by := ForwardedBy([]byte(raw), items); !via.Mailbox && by != reporter {
				t.Errorf("%s: reporter %q", name, by)
			}
		}
	}
	// Carol's forward of a spam that attaches a message it was not sent:
	// the spam is the report, not what it carries.
	carol := attach("carol@home.example", "report@desk.example", attach("news@promo.example", "carol@home.example", spam))
	items, err := Extract([]byte(carol), Via{Declared: "message/rfc822"})
	if err != nil || !strings.Contains(string(items[0].Raw), "news@promo.example") {
		t.Errorf("the spam's own attachment taken for the report (%v):\n%s", err, items[0].Raw)
	}
}

// TestFakeOriginalFromTheVictim is the sixth attack review's fifth
// finding: an invoice phish quoting a made-up mail from its victim
// ("From: compta@acme-corp, To: support@phish") above "Fwd:", sent to that
// victim, was unwrapped — the phisher the reporter, the victim's company
// shared as the spam's sender domain, the phish's own domain cut. It hands
// the "original" back to its author: the spam itself. Forwarding a spam
// that spoofed a reporting address (the desk's report@, a bank's
// phishing@) to that address is still a forward.
func TestFakeOriginalFromTheVictim(t *testing.T) {
	quoted := func(from, to, innerFrom, innerTo string) []byte {
		return []byte("Received: from mx.bad.example ([12.0.9.98]) by mx.example; Sat, 28 Nov 2026 10:00:00 +0000\r\nFrom: " + from + "\r\nTo: " + to +
			"\r\nSubject: Fwd: Invoice 2231 overdue\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b2@x.example>\r\n\r\nSee below.\r\n\r\n" +
			"-----Original Message-----\r\nFrom: " + innerFrom + "\r\nSent: Friday, November 27, 2026\r\nTo: " + innerTo +
			"\r\nSubject: Invoice 2231 overdue\r\n\r\nPay at http://invoices-portal.example/pay/2231\r\n")
	}
	phish := quoted("Support <support@invoices-portal.example>", "compta@acme-corp.example", "compta@acme-corp.example", "support@invoices-portal.example")
	items, err := Extract(phish, Via{Declared: "message/rfc822"})
	if err != nil {
		t.Fatal(err)
	}
	if items[0].Form != FormRaw || ForwardedBy(phish, items) != "" {
		t.Errorf("the phish taken as %s, reporter %q", items[0].Form, ForwardedBy(phish, items))
	}
	for _, c := range []struct{ from, to, innerFrom string }{
		{"alice@mail.example", "report@desk.example", "report@desk.example"},     // a phish spoofing the desk, forwarded to it
		{"alice@mail.example", "phishing@bank.example", "phishing@bank.example"}, // the bank's reporting address
		{"alice@mail.example", "report@desk.example", "winner@prize.example"},    // an ordinary forward
	} {
		raw := quoted(c.from, c.to, c.innerFrom, "alice@mail.example")
		items, err := Extract(raw, Via{Declared: "message/rfc822"})
		if err != nil || items[0].Form != FormInlineForward || ForwardedBy(raw, items) != c.from {
			t.Errorf("%s's forward to %s taken as %s (%v)", c.from, c.to, items[0].Form, err)
		}
	}
}

// The seventh attack review's invoice phish (b2): it hands a made-up
// original back to its victim, and its CEO fraud (b1): a look-alike "CEO"
// forwards a made-up lawyer's mail to the firm's accountant.
const (
	invoicePhish = "Received: from mx.bad.example (mx.bad.example [12.0.9.98]) by mx.acme-corp.example; Sat, 28 Nov 2026 10:00:00 +0000\r\n" +
		"From: Support <support@invoices-portal.example>\r\nTo: compta@acme-corp.example\r\nSubject: Fwd: Invoice 2231 overdue\r\n" +
		"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b2@invoices-portal.example>\r\n\r\nSee below.\r\n\r\n" +
		"-----Original Message-----\r\nFrom: compta@acme-corp.example\r\nSent: Friday, November 27, 2026\r\nTo: support@invoices-portal.example\r\n" +
		"Subject: Invoice 2231 overdue\r\n\r\nPay at http://invoices-portal.example/pay/2231\r\n"
	ceoFraud = "Received: from mx.bad.example (mx.bad.example [12.0.9.97]) by mx.acme-corp.example; Sat, 28 Nov 2026 10:00:00 +0000\r\n" +
		"From: \"Jean Leroy (CEO)\" <ceo@acme-c0rp.example>\r\nTo: compta@acme-corp.example\r\nSubject: FW: Virement urgent - confidentiel\r\n" +
		"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b1@acme-c0rp.example>\r\n\r\nMerci de traiter aujourd'hui: http://acme-c0rp.example/virement/77\r\n\r\n" +
		"---------- Forwarded message ---------\r\nFrom: Maitre Dubois <m.dubois@cabinet-dubois-avocats.example>\r\nDate: Fri, 27 Nov 2026\r\n" +
		"Subject: Virement urgent\r\nTo: Jean Leroy <ceo@acme-corp.example>\r\n\r\nVeuillez virer 48 000 EUR http://bec-pay.example/pay/77\r\n"
)

// TestHonestForwardOfAFakeForward is the seventh attack review's third
// finding: a reporter forwarding the invoice phish to the desk (from work
// or from home, attached or quoted) had it unwrapped once more, down to
// its made-up original: the reporter or the victim's company became the
// spam's sender, and the phish's own domain and link were cut as a
// recipient's. The phish is the report; the reporter stays the reporter.
func TestHonestForwardOfAFakeForward(t *testing.T) {
	attach := func(from string) string {
		return "From: Claire Petit <" + from + ">\r\nTo: report@desk.example\r\nSubject: Fwd: Invoice 2231 overdue\r\n" +
			"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <c3@x.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=ZZ\r\n\r\n" +
			"--ZZ\r\nContent-Type: text/plain\r\n\r\nPhishing ci-dessous. Claire\r\n--ZZ\r\nContent-Type: message/rfc822\r\n\r\n" + invoicePhish + "--ZZ--\r\n"
	}
	quoted := "From: Claire Petit <compta@acme-corp.example>\r\nTo: report@desk.example\r\nSubject: Fwd: Fwd: Invoice 2231 overdue\r\n" +
		"Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <c4@acme-corp.example>\r\n\r\nPhishing ci-dessous. Claire\r\n\r\n" +
		"---------- Forwarded message ---------\r\nFrom: Support <support@invoices-portal.example>\r\nDate: Sat, 28 Nov 2026\r\n" +
		"Subject: Fwd: Invoice 2231 overdue\r\nTo: compta@acme-corp.example\r\n\r\nSee below.\r\n\r\n-----Original Message-----\r\n" +
		"From: compta@acme-corp.example\r\nSent: Friday, November 27, 2026\r\nTo: support@invoices-portal.example\r\nSubject: Invoice 2231 overdue\r\n\r\n" +
		"Pay at http://invoices-portal.example/pay/2231\r\n"
	for name, c := range map[string]struct{ raw, by, form string }{
		"attached, from work": {attach("compta@acme-corp.example"), "compta@acme-corp.example", FormAttached},
		"attached, from home": {attach("claire.petit@petit-famille.example"), "claire.petit@petit-famille.example", FormAttached},
		"quoted, from work":   {quoted, "compta@acme-corp.example", FormInlineForward},
	} {
		for _, via := range []Via{{Declared: "message/rfc822"}, {Mailbox: true, Reporter: c.by}} {
			items, err := Extract([]byte(c.raw), via)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 1 || items[0].Form != c.form || !strings.Contains(headerField(items[0].Raw, "From"), "support@invoices-portal.example") {
				t.Errorf("%s (mailbox %v): the report is %s from %q, not the phish", name, via.Mailbox, items[0].Form, headerField(items[0].Raw, "From"))
			}
			if c.form == FormAttached && !strings.Contains(string(items[0].Raw), "[12.0.9.98]") {
				t.Errorf("%s (mailbox %v): the phish's delivery header is lost", name, via.Mailbox)
			}
			if by := ForwardedBy([]byte(c.raw), items); by != c.by {
				t.Errorf("%s (mailbox %v): reporter %q, want %q", name, via.Mailbox, by, c.by)
			}
		}
	}
}

// TestMailboxJudgesAFakeForward is the seventh attack review's fourth
// finding: at the complaints mailbox the fake-original check was never
// asked, so the CEO fraud and the invoice phish that the API takes whole
// were unwrapped when their victim redirected them there (Resent-From) or
// a server rule passed them on: the innocent lawyer's or the victim
// company's domain became the spam's sender and the origin was lost.
// Both are the spam itself on every channel.
func TestMailboxJudgesAFakeForward(t *testing.T) {
	for name, phish := range map[string]string{"CEO fraud": ceoFraud, "invoice phish": invoicePhish} {
		for how, raw := range map[string]string{
			"redirected (Resent-From)": "Resent-From: compta@acme-corp.example\r\nResent-To: report@desk.example\r\n" +
				"Resent-Date: Sat, 28 Nov 2026 11:00:00 +0000\r\n" + phish,
			"passed on by a server rule": phish,
		} {
			for _, via := range []Via{{Mailbox: true, Reporter: "compta@acme-corp.example"}, {Mailbox: true, Reporter: "rules@acme-corp.example"}, {Declared: "message/rfc822"}} {
				items, err := Extract([]byte(raw), via)
				if err != nil {
					t.Fatal(err)
				}
				if len(items) != 1 || items[0].Form != FormRaw || !bytes.Equal(items[0].Raw, []byte(raw)) {
					t.Errorf("%s %s (mailbox %v): taken as %s from %q, not the spam itself", name, how, via.Mailbox, items[0].Form, headerField(items[0].Raw, "From"))
				}
				if by := ForwardedBy([]byte(raw), items); by != "" {
					t.Errorf("%s %s (mailbox %v): the phisher %s taken for the reporter", name, how, via.Mailbox, by)
				}
			}
		}
	}
	// The reporter's own forward of the same CEO fraud, at the mailbox, is
	// still a forward of it.
	own := "From: Claire Petit <compta@acme-corp.example>\r\nTo: report@desk.example\r\nSubject: Fwd: Virement\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=ZZ\r\n\r\n--ZZ\r\nContent-Type: message/rfc822\r\n\r\n" + ceoFraud + "--ZZ--\r\n"
	items, err := Extract([]byte(own), Via{Mailbox: true, Reporter: "compta@acme-corp.example"})
	if err != nil || items[0].Form != FormAttached || !strings.Contains(string(items[0].Raw), "[12.0.9.97]") {
		t.Errorf("the reporter's forward of the CEO fraud taken as %s (%v):\n%s", items[0].Form, err, items[0].Raw)
	}
}

// TestForwardInOtherLanguages is the seventh attack review's fifth
// finding: a reporter's inline forward written by a mail client in
// Swedish, Polish, Japanese, Danish, Russian or Finnish, uploaded through
// the API, was taken for the spam itself — the reporter's own domain and
// their provider's relay shared as spam indicators, their name unprotected.
// Each is a forward, and its author is the reporter.
func TestForwardInOtherLanguages(t *testing.T) {
	for _, c := range []struct{ lang, subject, block string }{
		{"sv", "VB: votre colis", "Från: Colis <colis@parcel-scam.example>\nSkickat: den 28 november 2026 09:00\nTill: Erik Svensson <erik@svensson.example>\nÄmne: votre colis"},
		{"sv marker", "votre colis", "-----Ursprungligt meddelande-----\nFrån: Colis <colis@parcel-scam.example>\nSkickat: den 28 november 2026 09:00\nTill: Erik Svensson <erik@svensson.example>\nÄmne: votre colis"},
		{"pl", "PD: votre colis", "Od: Colis <colis@parcel-scam.example>\nWysłano: sobota, 28 listopada 2026 09:00\nDo: Erik Svensson <erik@svensson.example>\nTemat: votre colis"},
		{"ja", "転送: votre colis", "差出人: Colis <colis@parcel-scam.example>\n送信日時: 2026年11月28日 9:00\n宛先: Erik Svensson <erik@svensson.example>\n件名: votre colis"},
		{"da", "Fwd: votre colis", "---------- Videresendt besked ----------\nFra: Colis <colis@parcel-scam.example>\nDato: 28. nov. 2026 09.00\nEmne: votre colis\nTil: Erik Svensson <erik@svensson.example>"},
		{"ru", "Fwd: votre colis", "-------- Пересылаемое сообщение --------\nОт: Colis <colis@parcel-scam.example>\nДата: 28.11.2026\nТема: votre colis\nКому: Erik Svensson <erik@svensson.example>"},
		{"fi", "VS: votre colis", "Lähettäjä: Colis <colis@parcel-scam.example>\nLähetetty: 28. marraskuuta 2026 9.00\nVastaanottaja: Erik Svensson <erik@svensson.example>\nAihe: votre colis"},
		{"cs", "Fwd: votre colis", "---------- Přeposlaná zpráva ---------\nOd: Colis <colis@parcel-scam.example>\nDate: so 28. 11. 2026 9:00\nPředmět: votre colis\nKomu: Erik Svensson <erik@svensson.example>"},
	} {
		raw := []byte(strings.ReplaceAll("Received: from smtp.svensson.example ([12.0.9.61]) by mx.desk.example; Sat, 28 Nov 2026 10:00:00 +0000\n"+
			"From: Erik Svensson <erik@svensson.example>\nTo: report@desk.example\nSubject: "+c.subject+
			"\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <h@svensson.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"+
			"Spam nedan. Erik Svensson, 070-123 45 67\n\n"+c.block+"\n\nPayez http://parcel-scam.example/r/ref\n", "\n", "\r\n"))
		items, err := Extract(raw, Via{Declared: "message/rfc822"})
		if err != nil {
			t.Fatalf("%s: %v", c.lang, err)
		}
		if items[0].Form != FormInlineForward || ForwardedBy(raw, items) != "erik@svensson.example" {
			t.Errorf("%s: taken as %s, reporter %q", c.lang, items[0].Form, ForwardedBy(raw, items))
			continue
		}
		if !strings.Contains(string(items[0].Raw), "colis@parcel-scam.example") || strings.Contains(string(items[0].Raw), "070-123") {
			t.Errorf("%s: the quoted original is not what was kept:\n%s", c.lang, items[0].Raw)
		}
	}
}

// TestPasteEvidence: what a paste (the API's text, the form's, the
// mailbox's note) must name to be a report. Scam pastes name a host
// under a real top-level domain without a scheme, a short link, a
// telephone number or an IBAN as often as a URL; they were refused (the
// attack review of the form's check, F3). Words, dates, prices, file
// names and names with dots are not evidence; nor is one header line over
// words (F2).
func TestPasteEvidence(t *testing.T) {
	for _, p := range []string{
		"Your parcel is held: pay the fee at dhl-parcel.nl/pay",
		"Claim prize: bit.ly/3xYzAbc",
		"Buy cheap pills at cheap-pills.com today",
		"WINNER! Call 0900-123-4567 now",
		"Appelez le +33 6 12 34 56 78 pour votre colis",
		"Wire the fee to IBAN DE89 3704 0044 0532 0130 00 today",
		"Wire the fee to DE89370400440532013000",
		"Pay to GB82 WEST 1234 5698 7654 32",
		"see http://x.example/a",
		"write to winner@lottery.example.biz",
	} {
		if !pasteHasEvidence(p, "") {
			t.Errorf("refused: %q", p)
		}
		if _, err := Extract([]byte(p), Via{Declared: "text/plain"}); err != nil {
			t.Errorf("API text %q: %v", p, err)
		}
	}
	for _, p := range []string{
		"just words", "hello world", "I hate spam, please stop it", "It came on 2026-11-29 10:00 and cost 1499.99 EUR",
		"see invoice.pdf and R.Hughes said so", "Version 1.2.3 of the app, e.g. the U.S. one",
		"IBAN GB82 WEST 1234 5698 7654 33", // a wrong check digit (…32 is right)
	} {
		if pasteHasEvidence(p, "") {
			t.Errorf("accepted: %q", p)
		}
	}
	for _, raw := range []string{"Subject: hi\r\n\r\nhello world\r\n", "From: a\r\n\r\nhello world\r\n"} {
		if _, err := Extract([]byte(raw), Via{}); !errors.Is(err, ErrNoMessage) {
			t.Errorf("a one-line header over words, uploaded: %v", err)
		}
		if _, err := Extract([]byte(raw), Via{As: AsReceived}); !errors.Is(err, ErrNoMessage) {
			t.Errorf("a one-line header over words, as received: %v", err)
		}
	}
	if _, err := Extract([]byte("Subject: You won\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\nClaim today\r\n"), Via{}); err != nil {
		t.Errorf("a message with a header: %v", err)
	}
}
