package smtpd_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/accord-antispam/accord/internal/smtpd"
)

// optOuts is a stand-in for the consent service's mailto door: tokens
// starting with "good" are valid.
type optOuts struct {
	mu   sync.Mutex
	done []string
}

func (o *optOuts) MailtoToken(addr string) (string, bool, error) {
	local, _, _ := strings.Cut(addr, "@")
	tok, ok := strings.CutPrefix(strings.ToLower(local), "unsubscribe+")
	if !ok {
		return "", false, nil
	}
	if !strings.HasPrefix(tok, "good") {
		return "", true, errors.New("forged")
	}
	return tok, true, nil
}

func (o *optOuts) MailtoOptOut(_ context.Context, tok, from, ip string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.done = append(o.done, tok+" from "+from)
	return false, nil
}

// Mail to an opt-out address unsubscribes and is no complaint; a forged
// opt-out address is refused at RCPT; complaints beside it are stored.
func TestMailtoOptOut(t *testing.T) {
	o := &optOuts{}
	mb := start(t, smtpd.Config{OptOut: o})
	msg := []byte("From: bob@example.net\r\nTo: unsubscribe+good1@node.example\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n")

	s := dial(t, mb.addr)
	s.cmd("EHLO client.example")
	s.cmd("MAIL FROM:<bob@example.net>")
	if code, m := s.cmd("RCPT TO:<unsubscribe+bad@node.example>"); code != 550 {
		t.Errorf("forged opt-out address: %d %s", code, m)
	}
	if code, _ := s.cmd("RCPT TO:<Unsubscribe+GOOD1@node.example>"); code != 250 {
		t.Fatalf("opt-out address refused: %d", code)
	}
	if code, m := s.data(msg); code != 250 || !strings.Contains(m, "Unsubscribed") {
		t.Fatalf("DATA: %d %s", code, m)
	}
	if n, _ := mb.store.CountReports(context.Background()); n != 0 {
		t.Errorf("an opt-out was stored as %d reports", n)
	}
	// An opt-out and a complaint in one transaction: both are handled.
	s.cmd("MAIL FROM:<bob@example.net>")
	s.cmd("RCPT TO:<unsubscribe+good2@node.example>")
	s.cmd("RCPT TO:<complaints@node.example>")
	fwd := "From: bob@example.net\r\nSubject: spam\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nspam\r\n--b\r\n" +
		"Content-Type: message/rfc822\r\n\r\n" + string(fixture(t, "forward-inline-gmail.eml")) + "\r\n--b--\r\n"
	if code, m := s.data([]byte(fwd)); code != 250 || !strings.Contains(m, "Stored") {
		t.Fatalf("mixed DATA: %d %s", code, m)
	}
	if n, _ := mb.store.CountReports(context.Background()); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
	if strings.Join(o.done, ",") != "good1 from bob@example.net,good2 from bob@example.net" {
		t.Errorf("opt-outs = %v", o.done)
	}
}
