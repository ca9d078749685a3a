package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
)

// consentSmallSenders: below consent.MinRateVolume counted messages a
// sender is judged by its distinct complainants, not by a rate that one
// complaint makes 50% (trial 25 F7); one person complaining of several
// messages, under several spellings, is one complainant; a sender that
// stays small in counted messages while mailing many — one signed
// message to many recipients, or complaints that name nobody — still
// loses standing at consent.MinComplainants, and recovers when the
// complaints leave the 30 days; from consent.MinRateVolume on the rate
// judges.
func consentSmallSenders(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clk := &consentClock{t: t0}
	svc := consentService(t, s, &mailbox{}, clk)
	for _, id := range []string{"shop.example", "bulk.example", "anon.example", "big.example"} {
		if _, err := svc.AddSender(ctx, consent.Sender{ID: id, Contact: "dpo@" + id}); err != nil {
			t.Fatal(err)
		}
	}
	confirm := func(sender, addr string) {
		t.Helper()
		res, err := svc.Record(ctx, sender, consent.RecordInput{Recipient: addr, List: "news", Basis: consent.BasisConsent,
			Capture: consent.Capture{Method: "form"}, Confirm: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Confirm(ctx, res.ConfirmURL[strings.LastIndex(res.ConfirmURL, "/")+1:], consent.Client{}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	complain := func(sender, from, key string) {
		t.Helper()
		n++
		if _, err := svc.RecordComplaint(ctx, consent.ComplaintInput{ReportID: fmt.Sprintf("r%d", n), Sender: sender, Address: from,
			List: "news", How: consent.HowDKIM, MessageKey: key}); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Hour)
	}
	standing := func(sender string) consent.Standing {
		t.Helper()
		st, err := svc.Standing(ctx, sender)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	// The small shop of the trial: 2 messages, one complaint.
	confirm("shop.example", "ana@gmail.com")
	confirm("shop.example", "bea@gmail.com")
	if got, err := svc.ReportSent(ctx, "shop.example", "news", "dec", 2); err != nil || got != 2 {
		t.Fatalf("2 messages accepted as %d (%v)", got, err)
	}
	complain("shop.example", "ana@gmail.com", "dkim:ana-1")
	if st := standing("shop.example"); !st.Good || st.Complaints != 1 || st.Complainants != 1 || st.JudgedBy != consent.JudgedByComplainants || st.Rate != 0.5 {
		t.Errorf("a shop of 2 messages after 1 complaint: %+v", st)
	}
	// ana again, about two more messages, once under another spelling of
	// her mailbox: one person.
	complain("shop.example", "ana@gmail.com", "dkim:ana-2")
	complain("shop.example", "a.na+news@googlemail.com", "dkim:ana-3")
	if st := standing("shop.example"); !st.Good || st.Complaints != 3 || st.Complainants != 1 {
		t.Errorf("one person's 3 complaints: %+v", st)
	}
	complain("shop.example", "bea@gmail.com", "dkim:bea-1")
	if st := standing("shop.example"); !st.Good || st.Complainants != 2 {
		t.Errorf("two complainants: %+v", st)
	}
	complain("shop.example", "cid@example.net", "dkim:cid-1")
	if st := standing("shop.example"); st.Good || st.Complainants != 3 || len(st.Why) != 1 || !strings.Contains(st.Why[0], "3 people complained") {
		t.Errorf("three complainants: %+v", st)
	}

	// A spammer with nothing counted sends one signed message to many:
	// it counts once as a message, but three people complained.
	start := clk.now()
	for _, who := range []string{"p1@example.net", "p2@example.org", "p3@example.com"} {
		complain("bulk.example", who, "dkim:one-signature")
	}
	st := standing("bulk.example")
	if st.Good || st.Complaints != 1 || st.Complainants != 3 || st.Sent != 0 {
		t.Errorf("one message to many, 3 complainants: %+v", st)
	}
	if want := start.Add(consent.RateWindow); !st.Recovers.Equal(want) {
		t.Errorf("recovers at %v, want %v (the oldest of the three leaves the window)", st.Recovers, want)
	}
	// Its recipients report by web form: nobody is named, each message
	// counts as one complainant.
	for i := 0; i < 3; i++ {
		complain("anon.example", "", fmt.Sprintf("dkim:anon-%d", i))
	}
	if st := standing("anon.example"); st.Good || st.Complainants != 3 {
		t.Errorf("3 anonymous complaints about 3 messages: %+v", st)
	}
	// From MinRateVolume counted messages on, the rate judges: 30
	// confirmed recipients × 60 = 1,800 messages, less 60 for each
	// complainant (a complaint withdraws their records): 4 complaints
	// are 4 of 1,560 (0.256%), 5 are 5 of 1,500 (0.333%).
	const recipients = 30
	for i := 0; i < recipients; i++ {
		confirm("big.example", fmt.Sprintf("r%d@%s", i, []string{"gmail.com", "posteo.de", "web.de"}[i%3]))
	}
	for i := 0; i < consent.MaxMessagesPerRecipient; i++ {
		if _, err := svc.ReportSent(ctx, "big.example", "news", fmt.Sprintf("c%d", i), recipients); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 4; i++ {
		complain("big.example", fmt.Sprintf("r%d@%s", i, []string{"gmail.com", "posteo.de", "web.de"}[i%3]), fmt.Sprintf("dkim:big-%d", i))
	}
	if st := standing("big.example"); !st.Good || st.JudgedBy != consent.JudgedByRate || st.Sent != 1560 || st.Complainants != 4 {
		t.Errorf("1,560 messages, 4 complaints: %+v", st)
	}
	complain("big.example", "r4@posteo.de", "dkim:big-4")
	if st := standing("big.example"); st.Good || len(st.Why) != 1 || !strings.Contains(st.Why[0], "complaint rate 0.333%") {
		t.Errorf("1,500 messages, 5 complaints: %+v", st)
	}

	// The way back: the first of bulk's complaints leaves the 30 days
	// (bulk took its opt-outs in time).
	if _, err := svc.Feed(ctx, "bulk.example", consent.FeedQuery{}); err != nil {
		t.Fatal(err)
	}
	clk.add(st.Recovers.Sub(clk.now()) + time.Second)
	if st := standing("bulk.example"); !st.Good || st.Complainants != 2 || !st.Recovers.IsZero() {
		t.Errorf("bulk 30 days after its first complaint: %+v", st)
	}

}
