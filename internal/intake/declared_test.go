package intake

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// review7 reads one of the seventh attack review's messages, rebuilt as
// it described them (testdata/review7).
func review7(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "review7", name+".eml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// review7Phishes are the seventh attack review's findings 1 and 2: each a
// phish that writes "FW:" above a made-up original, and the party its
// "forward" reading shared as the spam's sender — an innocent lawyer or
// the victim's company.
var review7Phishes = map[string]string{
	"c1":  "cabinet-dubois-avocats.example", // the original addressed to the phisher's look-alike
	"c7":  "kanzlei-dubois.example",         // the same in German Outlook, no marker line
	"c10": "cabinet-dubois-avocats.example", // the CEO's exact domain spoofed, DMARC fail, look-alike Reply-To
	"d9":  "cabinet-dubois-avocats.example", // the original nested twice
	"c2":  "acme-corp.example",              // a made-up original from the victim's colleague
	"c6":  "acme-corp.example",              // a victim at a role address (it-security@)
}

// TestPhishWithAMadeUpOriginal is the seventh attack review's findings 1
// and 2: with no declaration, through the API, the web form or redirected
// to the mailbox, each phish is the spam itself — never unwrapped down to
// its made-up original, the phisher never the reporter.
func TestPhishWithAMadeUpOriginal(t *testing.T) {
	for name, innocent := range review7Phishes {
		raw := review7(t, name)
		redirected := append([]byte("Resent-From: compta@acme-corp.example\r\nResent-To: report@desk.example\r\n"), raw...)
		for how, c := range map[string]struct {
			raw []byte
			via Via
		}{
			"API":                      {raw, Via{Declared: "message/rfc822"}},
			"web form":                 {raw, Via{}},
			"mailbox, redirected":      {redirected, Via{Mailbox: true, Reporter: "compta@acme-corp.example", Authenticated: true}},
			"mailbox, a server's rule": {raw, Via{Mailbox: true, Reporter: "rules@acme-corp.example", Authenticated: true}},
			"mailbox, sent to it":      {raw, Via{Mailbox: true, Reporter: "bounce@bulk-mailer.example"}},
		} {
			items, err := Extract(c.raw, c.via)
			if err != nil {
				t.Fatalf("%s (%s): %v", name, how, err)
			}
			if len(items) != 1 || items[0].Form != FormRaw || !bytes.Equal(items[0].Raw, c.raw) {
				t.Errorf("%s (%s): taken as %s from %q, not the phish itself: %s would be shared as its sender", name, how, items[0].Form, headerField(items[0].Raw, "From"), innocent)
			}
			if by := ForwardedBy(c.raw, items); by != "" {
				t.Errorf("%s (%s): the phisher %s taken for the reporter", name, how, by)
			}
		}
	}
}

// TestDeclaredReceived: "this is the spam as I received it" takes the
// message whole, whatever it quotes or attaches — also a genuine forward
// (the reporter said so), and never an error for a message.
func TestDeclaredReceived(t *testing.T) {
	for _, name := range []string{"c1", "c2", "c6", "c7", "c10", "d9", "b1", "b2", "c3", "c9"} {
		raw := review7(t, name)
		items, err := Extract(raw, Via{Declared: "message/rfc822", As: AsReceived})
		if err != nil || len(items) != 1 || items[0].Form != FormRaw || !bytes.Equal(items[0].Raw, raw) {
			t.Errorf("%s as received: %v %+v", name, err, items)
		}
	}
	// A paste as received is a paste; an X-ARF or ARF report says itself
	// what it is.
	if items, err := Extract([]byte("Win big at http://prize.example/x"), Via{Declared: "text/plain", As: AsReceived}); err != nil || items[0].Form != FormPaste {
		t.Errorf("a paste as received: %v %+v", err, items)
	}
	if _, err := Extract([]byte(`{"xarf_version":"4"}`), Via{Declared: "application/json", As: AsReceived}); err == nil {
		t.Error("an X-ARF report declared as received was taken")
	}
	if _, err := Extract([]byte("From: a@b.example\r\n\r\nx"), Via{As: "bounced"}); err == nil || !strings.Contains(err.Error(), "forwarded") {
		t.Errorf("an unknown declaration: %v", err)
	}
}

// TestDeclaredForwarded: "I forwarded this spam" makes the outer message
// the reporter's and the message inside it the spam, whatever either's
// From and To say: the seventh review's honest forwards of its phishes
// (c3, c4, c5, c9) report the phish, the reporter stays the reporter.
// Without a message inside, it is refused with a reason.
func TestDeclaredForwarded(t *testing.T) {
	for name, c := range map[string]struct{ phisher, by, form string }{
		"c3": {"support@invoices-portal.example", "compta@acme-corp.example", FormAttached},
		"c4": {"support@invoices-portal.example", "compta@acme-corp.example", FormInlineForward},
		"c5": {"ceo@acme-c0rp.example", "compta@acme-corp.example", FormAttached},
		"c9": {"support@invoices-portal.example", "claire.petit@petit-famille.example", FormAttached},
	} {
		raw := review7(t, name)
		for how, via := range map[string]Via{
			"API, as=forwarded":               {Declared: "message/rfc822", As: AsForwarded},
			"form, forwarded":                 {As: AsForwarded},
			"mailbox, authenticated reporter": {Mailbox: true, Reporter: c.by, Authenticated: true},
			"API, not said":                   {Declared: "message/rfc822"},
		} {
			items, err := Extract(raw, via)
			if err != nil {
				t.Fatalf("%s (%s): %v", name, how, err)
			}
			if len(items) != 1 || items[0].Form != c.form || !strings.Contains(headerField(items[0].Raw, "From"), c.phisher) {
				t.Errorf("%s (%s): the report is %s from %q, not the phish", name, how, items[0].Form, headerField(items[0].Raw, "From"))
			}
			if by := ForwardedBy(raw, items); !via.Mailbox && by != c.by {
				t.Errorf("%s (%s): reporter %q, want %q", name, how, by, c.by)
			}
		}
	}
	// An Outlook header block with neither a marker nor "Fwd:" nor the
	// reporter among its recipients: a forward because the reporter says so.
	bare := []byte("From: Claire <claire@home.example>\r\nTo: report@desk.example\r\nSubject: regarde\r\n\r\nCi-dessous.\r\n\r\n" +
		"From: Colis <colis@parcel-scam.example>\r\nSent: Friday, November 27, 2026\r\nTo: someone@else.example\r\nSubject: votre colis\r\n\r\nPayez http://parcel-scam.example/r\r\n")
	items, err := Extract(bare, Via{Declared: "message/rfc822", As: AsForwarded})
	if err != nil || items[0].Form != FormInlineForward || !strings.Contains(headerField(items[0].Raw, "From"), "parcel-scam") {
		t.Errorf("a bare quoted block declared forwarded: %v %+v", err, items)
	}
	if items, _ := Extract(bare, Via{Declared: "message/rfc822"}); items[0].Form != FormRaw {
		t.Errorf("the same not declared: %s, want raw (nothing says it is a forward)", items[0].Form)
	}
	// Alice reports the spam sent from her hijacked account: the heuristics
	// take a mail "forwarding" what its own author sent for a phish; her
	// declaration, or the node's own authentication of her mail at the
	// mailbox, makes it her forward.
	hijacked := []byte("From: Alice <alice@home.example>\r\nTo: report@desk.example\r\nSubject: Fwd: my account sent this\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=O\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\nNot me!\r\n--O\r\nContent-Type: message/rfc822\r\n\r\n" +
		"Received: from vps.example ([12.0.9.66]) by smtp.home.example; Sat, 28 Nov 2026 09:00:00 +0000\r\nFrom: Alice <alice@home.example>\r\n" +
		"To: bob@friend.example\r\nSubject: urgent help\r\n\r\nSend gift cards http://cards-scam.example/x\r\n--O--\r\n")
	for how, via := range map[string]Via{
		"API, as=forwarded":               {Declared: "message/rfc822", As: AsForwarded},
		"mailbox, authenticated reporter": {Mailbox: true, Reporter: "alice@home.example", Authenticated: true},
	} {
		items, err := Extract(hijacked, via)
		if err != nil || items[0].Form != FormAttached || !strings.Contains(string(items[0].Raw), "gift cards") || strings.Contains(string(items[0].Raw), "Not me") {
			t.Errorf("the hijacked account's spam (%s): %v, taken as %s", how, err, items[0].Form)
		}
	}
	if items, _ := Extract(hijacked, Via{Mailbox: true, Reporter: "alice@home.example"}); items[0].Form != FormRaw {
		t.Errorf("not authenticated, the heuristics decide: %s, want raw", items[0].Form)
	}
	_, err = Extract([]byte("From: Claire <claire@home.example>\r\nTo: report@desk.example\r\nSubject: spam\r\n\r\nI got spam from prize.example.\r\n"), Via{Declared: "message/rfc822", As: AsForwarded})
	if err == nil || !strings.Contains(err.Error(), "as=received") {
		t.Errorf("a forward with nothing inside: %v", err)
	}
}

// TestReportingRoleIsAWord: a local part names a reporting role as one of
// its words, not inside another word.
func TestReportingRoleIsAWord(t *testing.T) {
	for addr, want := range map[string]bool{
		"abuse@x.example": true, "report-phishing@x.example": true, "signal.spam@x.example": true, "it-security@x.example": true,
		"cert@x.example": true, "reports@x.example": true, "postmaster@x.example": true,
		"certification@x.example": false, "reporting-team@x.example": true, "signalisation@x.example": false,
		"spamalot@x.example": false, "concert@x.example": false, "fraudeau@x.example": false,
	} {
		if got := reportingAddress(addr); got != want {
			t.Errorf("reportingAddress(%s) = %v, want %v", addr, got, want)
		}
	}
}

func FuzzImpostor(f *testing.F) {
	for _, n := range []string{"c1", "c2", "c6", "c10", "d9", "c3"} {
		f.Add(review7(f, n))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		items, err := Extract(raw, Via{Declared: "message/rfc822"})
		if err == nil && len(items) == 0 {
			t.Fatal("no error and no item")
		}
		for _, as := range []string{AsForwarded, AsReceived} {
			items, err := Extract(raw, Via{As: as})
			if err == nil && len(items) == 0 {
				t.Fatalf("as %s: no error and no item", as)
			}
		}
	})
}

// TestUnsureForwardSharesLess is the eighth review's (self) finding: with
// no declaration, "Bob forwards the spam he got to Alice at another firm"
// and "a phish hands its victim a made-up mail from a lawyer to the
// phisher" (p1), or passes it on to nobody in sight (p2), are the same
// fields. Uploaded through the API or the form, such a message is taken
// whole and its From kept apart as a possible reporter's: either way an
// indicator is lost, nobody innocent is shared. Declared, or at the
// mailbox, it is read as said.
func TestUnsureForwardSharesLess(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "review8", name+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for name, by := range map[string]string{"p1": "support@invoices-portal.example", "p2": "ceo@acme-c0rp.example", "bob-to-alice": "bob.girard@girard.example",
		"p1, the desk in Cc": "support@invoices-portal.example", "p1, a colleague of the phisher in Cc": "support@invoices-portal.example"} {
		base, cc, _ := strings.Cut(name, ", ")
		raw := read(base)
		if cc != "" {
			add := map[string]string{"the desk in Cc": "report@desk.example", "a colleague of the phisher in Cc": "billing@invoices-portal.example"}[cc]
			raw = bytes.Replace(raw, []byte("To: compta@acme-corp.example\r\n"), []byte("To: compta@acme-corp.example\r\nCc: "+add+"\r\n"), 1)
		}
		for _, via := range []Via{{Declared: "message/rfc822"}, {}} {
			items, err := Extract(raw, via)
			if err != nil {
				t.Fatal(err)
			}
			if items[0].Form != FormRaw || !bytes.Equal(items[0].Raw, raw) || len(items[0].Unverifiable) == 0 || !strings.Contains(items[0].Unverifiable[0], "forward or spam") {
				t.Errorf("%s (%+v): taken as %s %q, not whole and unsure", name, via, items[0].Form, items[0].Unverifiable)
			}
			if got := ForwardedBy(raw, items); got != by {
				t.Errorf("%s: the possible forwarder is %q, want %q kept apart", name, got, by)
			}
		}
	}
	raw := read("bob-to-alice")
	items, err := Extract(raw, Via{Declared: "message/rfc822", As: AsForwarded})
	if err != nil || items[0].Form != FormInlineForward || !strings.Contains(headerField(items[0].Raw, "From"), "parcel-scam") {
		t.Errorf("Bob's forward (as=forwarded): %v, taken as %s", err, items[0].Form)
	}
	// Passed on to the mailbox by Alice's server rule (her envelope, Bob's
	// From): nothing authenticated says it is Bob's forward rather than a
	// phish; taken whole, unsure (eighth attack review, finding 3).
	items, err = Extract(raw, Via{Mailbox: true, Reporter: "am1987@orange-fr.example"})
	if err != nil || items[0].Form != FormRaw || !UnsureOrigin(items[0].Unverifiable) {
		t.Errorf("Bob's forward (mailbox): %v, taken as %s %q", err, items[0].Form, items[0].Unverifiable)
	}
}

// TestForwardedPhishStopsAtThePhish is the eighth attack review's
// findings 2 and 3, on its own messages. The victim's honest forward of
// a phish above a made-up original (f1, f2, f4, f6: p1, p1 quoted, p3,
// p2) — authenticated at the mailbox, declared, or not — stops at the
// phish: the made-up original's sender, an innocent lawyer, is never the
// report's From. The same phishes redirected to the mailbox by their
// victim (Resent-From, authenticated or not), passed on by a server rule
// (its envelope the phish's), or mailed to the desk by their author
// without authentication are taken whole and unsure, as when uploaded.
// The reporter's own authenticated forward is still unwrapped one level.
func TestForwardedPhishStopsAtThePhish(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	claire := "compta@acme-corp.example"
	for _, name := range []string{"f1", "f2", "f4", "f6"} {
		raw := read("review8b/" + name)
		for how, via := range map[string]Via{
			"mailbox, SPF pass":  {Mailbox: true, Reporter: claire, Authenticated: true, Desk: []string{"report@desk.example"}},
			"mailbox, no SPF":    {Mailbox: true, Reporter: claire, Desk: []string{"report@desk.example"}},
			"API, as=forwarded":  {Declared: "message/rfc822", As: AsForwarded},
			"API, undeclared":    {Declared: "message/rfc822"},
			"form, I don't know": {},
		} {
			items, err := Extract(raw, via)
			if err != nil {
				t.Fatalf("%s (%s): %v", name, how, err)
			}
			from := headerField(items[0].Raw, "From")
			if strings.Contains(from, "dubois") || !strings.Contains(from, "invoices-portal") && !strings.Contains(from, "acme-c0rp") && !strings.Contains(from, "ceo@acme-corp") {
				t.Errorf("%s (%s): the report's From is %q, not the phish's", name, how, from)
			}
			if items[0].Form == FormRaw {
				t.Errorf("%s (%s): the victim's forward taken whole", name, how)
			}
			if by := ForwardedBy(raw, items); !via.Mailbox && by != claire {
				t.Errorf("%s (%s): the reporter is %q", name, how, by)
			}
		}
	}
	resent := func(raw []byte) []byte {
		return append([]byte("Resent-From: "+claire+"\r\nResent-To: report@desk.example\r\nResent-Date: Sat, 28 Nov 2026 11:00:00 +0000\r\nResent-Message-ID: <r@acme-corp.example>\r\n"), raw...)
	}
	for _, c := range []struct {
		name string
		raw  []byte
		via  Via
	}{
		{"p1 redirected, SPF pass", resent(read("review8/p1")), Via{Mailbox: true, Reporter: claire, Authenticated: true}},
		{"p1 redirected, SPF fail", resent(read("review8/p1")), Via{Mailbox: true, Reporter: claire}},
		{"p2 redirected", resent(read("review8/p2")), Via{Mailbox: true, Reporter: claire, Authenticated: true}},
		{"p3 redirected", resent(read("review8/p3")), Via{Mailbox: true, Reporter: claire, Authenticated: true}},
		{"q1 redirected", resent(read("review8b/q1")), Via{Mailbox: true, Reporter: claire, Authenticated: true}},
		{"p1 passed on by a server rule", read("review8b/p1-rule"), Via{Mailbox: true, Reporter: "bounce@bulk-mailer.example"}},
		{"p1 mailed by its author, SPF fail", read("review8/p1"), Via{Mailbox: true, Reporter: "support@invoices-portal.example"}},
	} {
		items, err := Extract(c.raw, c.via)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if items[0].Form != FormRaw || !UnsureOrigin(items[0].Unverifiable) {
			t.Errorf("%s: taken as %s %q, not whole and unsure", c.name, items[0].Form, items[0].Unverifiable)
		}
	}
	// The reporter's own authenticated forward of the phish they got: one
	// level unwrapped, to the phish.
	items, err := Extract(read("review8b/f1"), Via{Mailbox: true, Reporter: claire, Authenticated: true})
	if err != nil || items[0].Form != FormAttached || !UnsureOrigin(items[0].Unverifiable) {
		t.Errorf("f1 authenticated: %v, %s %q", err, items[0].Form, items[0].Unverifiable)
	}
}
