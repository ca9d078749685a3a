package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/outbound"
)

func mailItem(i int, at time.Time) outbound.Item {
	id := fmt.Sprintf("m%015d", i)
	return outbound.Item{ID: id, Kind: outbound.KindAck, Ref: "complaint:c" + id, To: fmt.Sprintf("r%d@example.net", i%3),
		From: "bounce+" + id + ".tag@desk.example", MessageID: id + ".tag@desk.example", Raw: []byte("Subject: ack\r\n\r\nthanks\r\n"),
		State: outbound.Queued, CreatedAt: at, NextAt: at, UpdatedAt: at}
}

// outboundQueue: mail is claimed once while leased, comes back after the
// lease, records its outcome, and concurrent claimers never share a mail.
func outboundQueue(t *testing.T, s Store) {
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if err := s.EnqueueMail(ctx, mailItem(i, clock.Add(time.Duration(i)*time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Mail(ctx, "m000000000000007")
	if err != nil || string(got.Raw) != "Subject: ack\r\n\r\nthanks\r\n" || got.State != outbound.Queued || !got.CreatedAt.Equal(clock.Add(7*time.Second)) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if _, err := s.Mail(ctx, "nope"); !errors.Is(err, outbound.ErrNotFound) {
		t.Fatalf("unknown mail: %v", err)
	}
	// Only what is due is claimed.
	now := clock.Add(9 * time.Second)
	items, err := s.ClaimMail(ctx, "a", now, time.Minute, 100)
	if err != nil || len(items) != 10 {
		t.Fatalf("claim due at +9s: %d items, %v", len(items), err)
	}
	// Leased mail is not claimed again until the lease ends.
	if again, _ := s.ClaimMail(ctx, "b", now, time.Minute, 100); len(again) != 0 {
		t.Fatalf("leased mail claimed twice: %d", len(again))
	}
	if err := s.FinishMail(ctx, items[0].ID, outbound.Sent, 1, time.Time{}, "", now); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishMail(ctx, items[1].ID, outbound.Queued, 1, now.Add(time.Hour), "451 try later", now); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishMail(ctx, items[2].ID, outbound.Failed, 1, time.Time{}, "550 no such user", now); err != nil {
		t.Fatal(err)
	}
	// A finished mail cannot be finished again (a late worker after its lease ran out).
	if err := s.FinishMail(ctx, items[0].ID, outbound.Failed, 2, time.Time{}, "late", now); err == nil {
		t.Fatal("a sent mail was finished twice")
	}
	after := now.Add(2 * time.Minute)
	back, err := s.ClaimMail(ctx, "c", after, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	// 7 of the first 10 whose lease ended (not the sent, failed or retried-later
	// ones), plus everything due by then.
	if len(back) != 27 {
		t.Fatalf("after the lease: %d items, want 27", len(back))
	}
	q, err := s.MailQueue(ctx)
	if err != nil || q[outbound.Sent] != 1 || q[outbound.Failed] != 1 || q[outbound.Queued] != 28 {
		t.Fatalf("queue counts: %v %v", q, err)
	}
	m1, _ := s.Mail(ctx, items[1].ID)
	if m1.Attempts != 1 || m1.LastError != "451 try later" || !m1.NextAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("retry not recorded: %+v", m1)
	}
	// The operator's list: by state, newest first, without the bytes.
	failed, err := s.Mails(ctx, outbound.MailFilter{State: outbound.Failed})
	if err != nil || len(failed) != 1 || failed[0].ID != items[2].ID || failed[0].LastError != "550 no such user" || len(failed[0].Raw) != 0 {
		t.Fatalf("failed mail listed: %+v %v", failed, err)
	}
	if all, err := s.Mails(ctx, outbound.MailFilter{Kind: outbound.KindAck, Limit: 3}); err != nil || len(all) != 3 || all[0].ID != "m000000000000029" {
		t.Fatalf("newest three: %+v %v", all, err)
	}
	if none, err := s.Mails(ctx, outbound.MailFilter{Kind: "digest"}); err != nil || len(none) != 0 {
		t.Fatalf("by kind: %d %v", len(none), err)
	}
	n, err := s.MailsTo(ctx, "r0@example.net", clock.Add(15*time.Second))
	if err != nil || n != 5 {
		t.Fatalf("mails to r0 since +15s: %d, %v (want 5)", n, err)
	}
	// Subaddresses are the same mailbox; other local parts are not (and
	// LIKE's wildcards in an address match only themselves).
	for i, to := range []string{"r0+a@example.net", "r0+b@example.net", "r0_@example.net", "r0x+1@example.net", "r0+c@example.org"} {
		it := mailItem(200+i, clock.Add(20*time.Second))
		it.To = to
		it.State = outbound.Sent // not claimable: the claim counts below stay as they were
		if err := s.EnqueueMail(ctx, it); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.MailsTo(ctx, "r0@example.net", clock.Add(15*time.Second)); err != nil || n != 7 {
		t.Fatalf("mails to the mailbox r0 and its subaddresses: %d, %v (want 7)", n, err)
	}
	if n, err := s.MailsTo(ctx, "r%@example.net", clock.Add(15*time.Second)); err != nil || n != 0 {
		t.Fatalf("a wildcard in the address matched %d mails, %v", n, err)
	}

	// Racing claimers share nothing.
	for i := 100; i < 160; i++ {
		if err := s.EnqueueMail(ctx, mailItem(i, clock)); err != nil {
			t.Fatal(err)
		}
	}
	later := after.Add(time.Hour * 2)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				items, err := s.ClaimMail(ctx, fmt.Sprint("w", w), later, time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range items {
					if o, ok := seen[it.ID]; ok {
						t.Errorf("mail %s claimed by %s and w%d", it.ID, o, w)
					}
					seen[it.ID] = fmt.Sprint("w", w)
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if len(seen) != 88 {
		t.Fatalf("racing claimers took %d mails, want 88", len(seen))
	}
}

// outboundBounces: a failure bounce marks its mail bounced; the same bounce
// again is a duplicate and changes nothing; an unlinked one is kept apart.
func outboundBounces(t *testing.T, s Store) {
	ctx := context.Background()
	it := mailItem(1, clock)
	if err := s.EnqueueMail(ctx, it); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishMail(ctx, it.ID, outbound.Sent, 1, time.Time{}, "", clock); err != nil {
		t.Fatal(err)
	}
	b := outbound.Bounce{MailID: it.ID, Kind: "dsn", Action: "failed", Status: "5.1.1", Recipient: "r1@example.net",
		Diagnostic: "smtp; 550 5.1.1 no such user", ReportingMTA: "mx.example.net", SHA256: "aa", ReceivedAt: clock.Add(time.Minute)}
	if dup, err := s.RecordBounce(ctx, b); err != nil || dup {
		t.Fatalf("record: dup %v, %v", dup, err)
	}
	if dup, err := s.RecordBounce(ctx, b); err != nil || !dup {
		t.Fatalf("replayed bounce: dup %v, %v", dup, err)
	}
	got, _ := s.Mail(ctx, it.ID)
	if got.State != outbound.Bounced || got.LastError != "bounced 5.1.1: smtp; 550 5.1.1 no such user" {
		t.Fatalf("mail after bounce: %s %q", got.State, got.LastError)
	}
	bs, err := s.Bounces(ctx, it.ID)
	if err != nil || len(bs) != 1 || bs[0].Status != "5.1.1" || bs[0].Recipient != "r1@example.net" || !bs[0].ReceivedAt.Equal(clock.Add(time.Minute)) {
		t.Fatalf("bounces: %+v %v", bs, err)
	}
	// An auto-reply is linked but does not mark the mail bounced.
	it2 := mailItem(2, clock)
	s.EnqueueMail(ctx, it2)
	s.FinishMail(ctx, it2.ID, outbound.Sent, 1, time.Time{}, "", clock)
	if _, err := s.RecordBounce(ctx, outbound.Bounce{MailID: it2.ID, Kind: "auto-reply", SHA256: "bb", ReceivedAt: clock}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Mail(ctx, it2.ID); got.State != outbound.Sent {
		t.Fatalf("auto-reply marked the mail %s", got.State)
	}
	if _, err := s.RecordBounce(ctx, outbound.Bounce{Kind: "bounce", Action: "failed", SHA256: "cc", ReceivedAt: clock}); err != nil {
		t.Fatal(err)
	}
	if un, _ := s.Bounces(ctx, ""); len(un) != 1 {
		t.Fatalf("unlinked bounces: %d", len(un))
	}
}

// outboundConfirmBounds: confirmation mail is bounded per mailbox —
// sub-addresses, case, quoting and a provider's spellings folded,
// whichever sender asked — and per recipient domain; other kinds of mail
// are not counted against it.
func outboundConfirmBounds(t *testing.T, s Store) {
	ctx := context.Background()
	now := clock
	q, err := outbound.New(s, outbound.Config{From: "desk@node.example", Secret: []byte("0123456789abcdef0123"), ConfirmPerDomainHour: 8,
		Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(kind outbound.Kind, to string) error {
		_, err := q.Send(ctx, outbound.Mail{Kind: kind, Ref: "consent:x", To: to, Subject: "Please confirm", Text: "confirm"})
		return err
	}
	// Answers to the mailbox do not count against confirmations.
	if err := send(outbound.KindAck, "victim@example.org"); err != nil {
		t.Fatal(err)
	}
	for i, to := range []string{"victim+0@example.org", "Victim@Example.ORG", `"victim+shop"@example.org`} {
		if err := send(outbound.KindConfirm, to); err != nil {
			t.Fatalf("confirmation %d: %v", i+1, err)
		}
	}
	var lim *outbound.LimitError
	for _, to := range []string{"victim@example.org", "victim+11@example.org", "VICTIM+x@example.org"} {
		if err := send(outbound.KindConfirm, to); !errors.As(err, &lim) || lim.Scope != "mailbox" || !errors.Is(err, outbound.ErrTooMany) {
			t.Fatalf("a fourth confirmation to the mailbox (%s): %v", to, err)
		}
	}
	// Gmail's dots and googlemail.com are one mailbox.
	for i, to := range []string{"jane.doe@gmail.com", "janedoe+a@googlemail.com", "j.a.n.e.d.o.e@Gmail.com"} {
		if err := send(outbound.KindConfirm, to); err != nil {
			t.Fatalf("gmail confirmation %d: %v", i+1, err)
		}
	}
	if err := send(outbound.KindConfirm, "jane.d.oe+z@gmail.com"); !errors.As(err, &lim) {
		t.Fatalf("a fourth confirmation to a gmail mailbox's spelling: %v", err)
	}
	// Other mailboxes of the domain: 8 an hour to example.org (3 went).
	for i := 0; i < 5; i++ {
		if err := send(outbound.KindConfirm, fmt.Sprintf("p%d@example.org", i)); err != nil {
			t.Fatalf("confirmation to p%d: %v", i, err)
		}
	}
	if err := send(outbound.KindConfirm, "p9@example.org"); !errors.As(err, &lim) || lim.Scope != "domain" {
		t.Fatalf("the domain's ninth confirmation in an hour: %v", err)
	}
	if err := send(outbound.KindConfirm, "p9@example.net"); err != nil {
		t.Fatalf("another domain: %v", err)
	}
	// An hour on, the domain may be mailed again; a day on, the mailbox.
	now = now.Add(61 * time.Minute)
	if err := send(outbound.KindConfirm, "p9@example.org"); err != nil {
		t.Fatalf("the domain an hour later: %v", err)
	}
	if err := send(outbound.KindConfirm, "victim+new@example.org"); !errors.As(err, &lim) {
		t.Fatalf("the mailbox an hour later: %v", err)
	}
	now = now.Add(24 * time.Hour)
	if err := send(outbound.KindConfirm, "victim+new@example.org"); err != nil {
		t.Fatalf("the mailbox a day later: %v", err)
	}
}

// outboundRetention: the node's mail loses its text once sent or failed;
// a reporter's acknowledgement goes with their erasure or their
// identity's retention, a how-to answer with the identities of its age;
// the rest goes with its bounces once finished for longer than the mail
// retention, and what is queued or recent stays.
func outboundRetention(t *testing.T, s Store) {
	ctx := context.Background()
	d := desk(t, s)
	submit := func(from string, i int) intake.Receipted {
		t.Helper()
		rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: forwarded(from, spam(i)), Reporter: from, SubmittedBy: "smtp"})
		if err != nil {
			t.Fatal(err)
		}
		return rec.Reports[0]
	}
	erin, frank := submit("erin@example.net", 71), submit("frank@example.net", 72)
	re, _ := s.Report(ctx, erin.ID)
	rf, _ := s.Report(ctx, frank.ID)
	n := 0
	queue := func(kind outbound.Kind, ref, to string, at time.Time) string {
		t.Helper()
		n++
		id := fmt.Sprintf("r%015d", n)
		it := outbound.Item{ID: id, Kind: kind, Ref: ref, To: to, From: "bounce+" + id + ".tag@desk.example", MessageID: id + "@desk.example",
			Raw: []byte("Subject: your report\r\n\r\nhttps://desk.example/r/x?t=SECRET" + id + "\r\n"), State: outbound.Queued, CreatedAt: at, NextAt: at, UpdatedAt: at}
		if err := s.EnqueueMail(ctx, it); err != nil {
			t.Fatal(err)
		}
		return id
	}
	gone := func(what, id string, want bool) {
		t.Helper()
		_, err := s.Mail(ctx, id)
		if errors.Is(err, outbound.ErrNotFound) != want {
			t.Errorf("%s: gone %v, want %v (%v)", what, !want, want, err)
		}
	}
	ackE := queue(outbound.KindAck, "complaint:"+re.ComplaintID, "erin@example.net", clock)
	ackF := queue(outbound.KindAck, "complaint:"+rf.ComplaintID, "frank@example.net", clock)
	howto := queue(outbound.KindHowTo, "mailbox:report@desk.example", "carol@example.net", clock)
	confirm := queue(outbound.KindConfirm, "consent:x", "dave@example.net", clock)
	waiting := queue(outbound.KindConfirm, "consent:y", "eve@example.net", clock)
	for _, id := range []string{ackE, ackF, howto, confirm} {
		if err := s.FinishMail(ctx, id, outbound.Sent, 1, time.Time{}, "", clock); err != nil {
			t.Fatal(err)
		}
		if it, _ := s.Mail(ctx, id); len(it.Raw) != 0 || it.State != outbound.Sent {
			t.Errorf("mail %s kept its text (its links in clear) once sent: %q", id, it.Raw)
		}
	}
	if it, _ := s.Mail(ctx, waiting); len(it.Raw) == 0 {
		t.Errorf("a queued mail lost its text")
	}
	if _, err := s.RecordBounce(ctx, outbound.Bounce{MailID: confirm, Kind: "dsn", Action: "failed", Status: "5.1.1", Recipient: "dave@example.net", SHA256: "cc", ReceivedAt: clock}); err != nil {
		t.Fatal(err)
	}

	// Erin erases: her acknowledgement goes, Frank's stays.
	if _, err := d.Erase(ctx, erin.ID, erin.StatusToken); err != nil {
		t.Fatal(err)
	}
	gone("erin's acknowledgement after her erasure", ackE, true)
	gone("frank's acknowledgement after erin's erasure", ackF, false)
	if n, _ := s.MailsTo(ctx, "erin@example.net", clock.Add(-time.Hour)); n != 0 {
		t.Errorf("erin's address is still in the queue after her erasure")
	}

	// The identity retention takes Frank's acknowledgement and the how-to
	// answer of their age, not the other mail.
	if _, err := s.PurgeIdentity(ctx, clock.Add(time.Hour), clock.Add(time.Hour), "test", 100); err != nil {
		t.Fatal(err)
	}
	gone("frank's acknowledgement after the identity retention", ackF, true)
	gone("the how-to answer after the identity retention", howto, true)
	gone("a confirmation after the identity retention", confirm, false)

	// The mail retention: finished mail before the cutoff goes with its
	// bounces; queued mail stays.
	if k, err := s.PurgeMail(ctx, clock.Add(-time.Minute), 100); err != nil || k != 0 {
		t.Errorf("purge of mail finished after the cutoff: %d %v", k, err)
	}
	if k, err := s.PurgeMail(ctx, clock.Add(time.Minute), 100); err != nil || k != 1 {
		t.Errorf("purge of the finished mail: %d %v", k, err)
	}
	gone("a finished confirmation after the mail retention", confirm, true)
	gone("a queued confirmation after the mail retention", waiting, false)
	if bs, _ := s.Bounces(ctx, confirm); len(bs) != 0 {
		t.Errorf("the bounces of a purged mail stayed: %+v", bs)
	}
}

// outboundConfirmShares: one sender's confirmation requests exhaust its
// own share of a mailbox's and a domain's bounds, not the bound of every
// sender; and a refusal over the shared bound says nothing of how many
// mails other senders caused.
func outboundConfirmShares(t *testing.T, s Store) {
	ctx := context.Background()
	now := clock
	q, err := outbound.New(s, outbound.Config{From: "desk@node.example", Secret: []byte("0123456789abcdef0123"), ConfirmPerDomainHour: 8,
		Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(sender, to string) error {
		_, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindConfirm, Ref: "consent:x", To: to, Subject: "Please confirm", Text: "confirm", Sender: sender})
		return err
	}
	// evil floods victimcorp.org: its share (8/4 = 2 an hour) runs out,
	// and shop can still reach the domain.
	var lim *outbound.LimitError
	for i := 0; i < 2; i++ {
		if err := send("evil.example", fmt.Sprintf("u%d@victimcorp.org", i)); err != nil {
			t.Fatalf("evil's confirmation %d: %v", i+1, err)
		}
	}
	if err := send("evil.example", "u9@victimcorp.org"); !errors.As(err, &lim) || !lim.Own || lim.Scope != "domain" {
		t.Fatalf("evil past its share of the domain: %v", err)
	}
	if err := send("shop.example", "ceo@victimcorp.org"); err != nil {
		t.Fatalf("shop's genuine sign-up after evil's flood: %v", err)
	}
	// bob: shop sends its share (2 of the 3), evil one; then the shared
	// bound answers evil without a count.
	for _, to := range []string{"bob@mailbox.example.org", "bob+news@mailbox.example.org"} {
		if err := send("shop.example", to); err != nil {
			t.Fatal(err)
		}
	}
	if err := send("evil.example", "bob@mailbox.example.org"); err != nil {
		t.Fatal(err)
	}
	err = send("evil.example", "bob+2@mailbox.example.org")
	if !errors.As(err, &lim) || lim.Own || lim.N != 0 || strings.ContainsAny(strings.ReplaceAll(err.Error(), "24 hours", ""), "0123456789") {
		t.Fatalf("the shared mailbox bound, answered to evil: %v", err)
	}
	// A sender past its own mailbox share is told its own count.
	if err := send("shop.example", "kim@mail2.example.net"); err != nil {
		t.Fatal(err)
	}
	if err := send("shop.example", "kim+b@mail2.example.net"); err != nil {
		t.Fatal(err)
	}
	if err := send("shop.example", "kim+c@mail2.example.net"); !errors.As(err, &lim) || !lim.Own || lim.N != 2 {
		t.Fatalf("shop past its share of kim's mailbox: %v", err)
	}
}

// outboundUnsentExpires: mail never delivered — a node with no relay
// never tries — is given up MaxAge after it was queued, its text (a
// confirmation link) dropped, and then purged with the finished mail.
func outboundUnsentExpires(t *testing.T, s Store) {
	ctx := context.Background()
	now := clock
	q, err := outbound.New(s, outbound.Config{From: "desk@node.example", Secret: []byte("0123456789abcdef0123"), MaxAge: 96 * time.Hour,
		Now: func() time.Time { return now }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindConfirm, Ref: "consent:x", To: "jill@example.net", Subject: "Please confirm", Text: "https://node.example/c/secret"})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(95 * time.Hour)
	young, err := q.Send(ctx, outbound.Mail{Kind: outbound.KindConfirm, Ref: "consent:y", To: "ann@example.net", Subject: "Please confirm", Text: "https://node.example/c/other"})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour) // old: 97 hours queued; young: 2
	if _, err := q.Purge(ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if it, _ := q.Status(ctx, old.ID); it.State != outbound.Failed || len(it.Raw) != 0 {
		t.Errorf("a confirmation queued 97 hours: %s, %d bytes of text", it.State, len(it.Raw))
	}
	if it, _ := q.Status(ctx, young.ID); it.State != outbound.Queued || len(it.Raw) == 0 {
		t.Errorf("a confirmation queued 2 hours: %s, %d bytes", it.State, len(it.Raw))
	}
	now = now.Add(25 * time.Hour)
	if _, err := q.Purge(ctx, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Status(ctx, old.ID); !errors.Is(err, outbound.ErrNotFound) {
		t.Errorf("the given-up mail a day after: %v", err)
	}
}
