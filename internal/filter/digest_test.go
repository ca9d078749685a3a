package filter

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"mvdan.cc/xurls/v2"
)

type digestSink struct{ to, text []string }

func (c *digestSink) Notify(_ context.Context, to, _, text string) error {
	if to == "x y" {
		return errors.New("refused: not an address")
	}
	c.to = append(c.to, to)
	c.text = append(c.text, text)
	return nil
}

// A held message's encoded Subject with line breaks cannot add lines (a
// fake release link, a fake sender) to the node's digest; a recipient the
// outbound mail refuses stops no other digest, and is tried again.
func TestDigestInjectionAndBadRecipient(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	raw := []byte("From: \"PayPal Security\" <x@evil.test>\r\nTo: ana@example.org\r\n" +
		"Subject: =?utf-8?q?Invoice=0A=0ARelease:_https://accord-mail.example.net/q/release=3Ft=3Dabc=0A=0AFrom:_boss@example.org=E2=80=A8x?=\r\n" +
		"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <d1@x>\r\n\r\n" + GTUBE + "\r\n")
	for _, rc := range []string{"ana@example.org", "x y", "bob@example.org"} {
		d, _ := s.Check(ctx, raw, Envelope{Rcpts: []string{rc}})
		if _, err := s.Quarantine(ctx, d, []string{rc}); err != nil {
			t.Fatal(err)
		}
	}
	n := &digestSink{}
	sent, err := s.SendDigests(ctx, "https://mail.example.org", n)
	if sent != 2 || !errors.Is(err, ErrSomeDigests) || len(n.to) != 2 {
		t.Fatalf("sent %d to %v: %v", sent, n.to, err)
	}
	for _, text := range n.text {
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "Release:") && !strings.HasPrefix(l, "Release: https://mail.example.org/q/release?t=") ||
				strings.HasPrefix(l, "From:") && !strings.HasPrefix(l, "From: x@evil[.]test") || strings.ContainsRune(l, '\u2028') {
				t.Errorf("a line the sender wrote in the digest: %q", l)
			}
		}
	}
	// Next time: the good recipients got theirs; the refused one is tried
	// again with its held message.
	n2 := &digestSink{}
	_, err = s.SendDigests(ctx, "https://mail.example.org", n2)
	if !errors.Is(err, ErrSomeDigests) || !strings.Contains(err.Error(), "1 of 1") || len(n2.to) != 0 {
		t.Errorf("second round: %v to %v", err, n2.to)
	}
}

// The digest's window is in the store, not in the process: a message held
// before a restart and not yet listed is in the first digest after it
// (trial 26 T1), and in no other — not the next of the same instance, not
// another instance's sharing the store. A digest that cannot be sent gives
// its messages to the next.
func TestDigestAfterRestart(t *testing.T) {
	ctx := context.Background()
	st := NewMemStore()
	before, _ := newService(t, Deps{Store: st}, Config{})
	before.PutPolicy(ctx, Policy{Kind: ScopeDefault, Action: ptr(ActionQuarantine)}, "t")
	hold := func(s *Service, rc string) string {
		d, _ := s.Check(ctx, msg("x@y.example", "held", GTUBE), Envelope{Rcpts: []string{rc}})
		ids, err := s.Quarantine(ctx, d, []string{rc})
		if err != nil || len(ids) != 1 {
			t.Fatal(ids, err)
		}
		return ids[0]
	}
	first := hold(before, "ana@example.org")
	// The node restarts before its digest: a new service on the same store.
	after, _ := newService(t, Deps{Store: st}, Config{})
	other, _ := newService(t, Deps{Store: st}, Config{}) // a second instance
	second := hold(after, "ana@example.org")
	n := &notes{}
	if sent, err := after.SendDigests(ctx, "https://node.example", n); err != nil || sent != 1 {
		t.Fatalf("first digest after the restart: sent %d %v", sent, err)
	}
	for _, id := range []string{first, second} {
		if strings.Count(n.text[0], "Release: https://node.example/q/release?t="+id+".") != 1 {
			t.Errorf("%s (held %s the restart) is not listed once:\n%s", id, map[bool]string{true: "before", false: "after"}[id == first], n.text[0])
		}
	}
	for name, s := range map[string]*Service{"the same instance": after, "another instance": other} {
		n2 := &notes{}
		if sent, err := s.SendDigests(ctx, "https://node.example", n2); err != nil || sent != 0 {
			t.Errorf("%s listed the messages again: %v %v", name, n2.text, err)
		}
	}
	// A digest that cannot be sent gives its messages to the next.
	third := hold(other, "x y")
	if _, err := other.SendDigests(ctx, "https://node.example", &digestSink{}); !errors.Is(err, ErrSomeDigests) {
		t.Fatalf("refused digest: %v", err)
	}
	if hs, _ := st.AnnounceHeld(ctx, time.Now(), 0); len(hs) != 1 || hs[0].ID != third {
		t.Errorf("after a refused digest, still to announce: %+v", hs)
	}
}

// TestDigestDefangsLinks (attack review 26, A8): a held message's Subject
// "Invoice\u2028http://phish.test/login\r\nClick" reached the recipient's
// digest — the node's own mail, DKIM-signed and delivered unscanned — as
// "Subject: Invoice http://phish.test/login Click", which mail clients
// make a link. Subjects and senders are defanged: a linkifier (xurls, in
// its relaxed mode that also takes bare domains, as mail clients do)
// finds no link in what the sender wrote; the release link stays one.
func TestDigestDefangsLinks(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	subjects := []string{
		"Invoice\u2028http://phish.test/login\r\nClick",
		"Your account: HTTPS://Login.PayPal.com.phish.example/verify now",
		"Visit www.paypal-login.com today",
		"Reset at paypal.com/reset or mail support@paypal-help.com",
		"Fullwidth dots: paypal\uff0ecom\u3002evil/x",
	}
	for i, subj := range subjects {
		raw := []byte("From: \"Support\" <login.paypal.com@phish.example>\r\nTo: ana@example.org\r\n" +
			"Subject: =?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(subj)) + "?=\r\n" +
			"Date: Mon, 30 Nov 2026 00:00:00 +0000\r\nMessage-ID: <p" + string(rune('a'+i)) + "@phish.example>\r\n\r\n" + GTUBE + "\r\n")
		d, _ := s.Check(ctx, raw, Envelope{Rcpts: []string{"ana@example.org"}})
		if _, err := s.Quarantine(ctx, d, []string{"ana@example.org"}); err != nil {
			t.Fatal(err)
		}
	}
	n := &digestSink{}
	if sent, err := s.SendDigests(ctx, "https://mail.example.org", n); sent != 1 || err != nil {
		t.Fatalf("sent %d: %v", sent, err)
	}
	text := n.text[0]
	if !strings.Contains(text, "Subject: Invoice hxxp[:]//phish[.]test/login Click") {
		t.Errorf("the attack's subject is not shown defanged:\n%s", text)
	}
	links := 0
	for _, l := range strings.Split(text, "\n") {
		found := xurls.Relaxed().FindAllString(l, -1)
		if strings.HasPrefix(l, "Release: ") {
			if len(found) != 1 || !strings.HasPrefix(found[0], "https://mail.example.org/q/release?t=") {
				t.Errorf("the release link is not a link: %q %q", l, found)
			}
			links++
			continue
		}
		if len(found) > 0 {
			t.Errorf("a link the sender wrote, in the node's own mail: %q in %q", found, l)
		}
	}
	if links != len(subjects) {
		t.Errorf("%d release links, want %d:\n%s", links, len(subjects), text)
	}
}
