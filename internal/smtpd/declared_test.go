package smtpd_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/smtpd"
)

// TestAuthenticatedReporterDecidesTheForward: at the mailbox, the node's
// own SPF check of the relay that handed it the complaint (not a field of
// the message) says whose the mail is. Alice reports the spam sent from
// her hijacked account, attached to her mail: the desk's heuristics take
// a mail "forwarding" what its own author sent for a phish, so without
// the check it is the spam itself; with her domain's SPF passing for the
// connecting relay it is her forward, and the spam inside is the report.
func TestAuthenticatedReporterDecidesTheForward(t *testing.T) {
	var z resolve.Zone
	z.AddTXT("home.example", "v=spf1 ip4:127.0.0.1 -all")
	auth := func(ctx context.Context, ip, helo, from string, raw []byte) string {
		how, err := mailauth.EnvelopeSender(ctx, &z, netip.MustParseAddr(ip), helo, from, mail.ParseBytes(raw, mail.DefaultLimits()))
		if err != nil {
			t.Error(err)
		}
		return how
	}
	hijacked := "From: Alice <alice@home.example>\r\nTo: complaints@accord.example\r\nSubject: Fwd: my account sent this\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=O\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\nNot me!\r\n--O\r\nContent-Type: message/rfc822\r\n\r\n" +
		"Received: from vps.example ([12.0.9.66]) by smtp.home.example; Sat, 28 Nov 2026 09:00:00 +0000\r\nFrom: Alice <alice@home.example>\r\n" +
		"To: bob@friend.example\r\nSubject: urgent help\r\n\r\nSend gift cards http://cards-scam.example/x\r\n--O--\r\n"
	for _, c := range []struct {
		name, from string
		auth       func(context.Context, string, string, string, []byte) string
		form       string
	}{
		{"SPF passes for the relay", "alice@home.example", auth, intake.FormAttached},
		{"nothing authenticated", "alice@home.example", nil, intake.FormRaw},
	} {
		mb := start(t, smtpd.Config{Authenticate: c.auth})
		s := dial(t, mb.addr)
		s.cmd("EHLO client.example")
		s.cmd("MAIL FROM:<%s>", c.from)
		s.cmd("RCPT TO:<complaints@accord.example>")
		code, msg := s.data([]byte(hijacked))
		m := reportRe.FindStringSubmatch(msg)
		if code != 250 || m == nil {
			t.Fatalf("%s: answer %d %q", c.name, code, msg)
		}
		r, err := mb.store.Report(context.Background(), strings.Split(m[1], ", ")[0])
		if err != nil {
			t.Fatal(err)
		}
		if r.Form != c.form {
			t.Errorf("%s: the report is %s, want %s", c.name, r.Form, c.form)
		}
		if r.ReporterAuth == "" && c.auth != nil {
			t.Errorf("%s: the reporter is not recorded as authenticated", c.name)
		}
	}
}
