package mail

import "testing"

func TestOuterStopsAtTheRedirectedHeader(t *testing.T) {
	raw := "Received: from bob.example by mx\r\nResent-From: bob@example.net\r\nResent-Date: Sat, 28 Nov 2026 09:00:00 +0000\r\n" +
		"Received: from spam.example by bob.example\r\nFrom: MAILER-DAEMON@spam.example\r\nAuto-Submitted: auto-generated\r\nList-Unsubscribe: <http://x>\r\n\r\nbody\r\n"
	h := ParseBytes([]byte(raw), Limits{}).Header.Outer()
	if len(h.Fields) != 3 || h.Has("Auto-Submitted") || h.Has("From") || h.Get("Resent-From") != "bob@example.net" {
		t.Fatalf("outer header of a redirect: %+v", h.Fields)
	}
	// No Resent- block: the whole header is the message's own.
	plain := ParseBytes([]byte("From: a@example.net\r\nAuto-Submitted: auto-replied\r\n\r\nx\r\n"), Limits{}).Header
	if o := plain.Outer(); len(o.Fields) != 2 {
		t.Fatalf("outer header of a plain mail: %+v", o.Fields)
	}
}

func TestDropFieldsKeepsEveryOtherByte(t *testing.T) {
	for _, nl := range []string{"\r\n", "\n"} {
		in := "From: a@example.org" + nl +
			"x-accord-release: one" + nl + "\tfolded" + nl +
			"Subject: hi" + nl + " there" + nl +
			"X-Accord-Release : two" + nl +
			"X-Accord-Released: kept" + nl
		want := "From: a@example.org" + nl + "Subject: hi" + nl + " there" + nl + "X-Accord-Released: kept" + nl
		if got := string(DropFields([]byte(in), "X-Accord-Release")); got != want {
			t.Errorf("DropFields(%q) = %q, want %q", in, got, want)
		}
	}
}
