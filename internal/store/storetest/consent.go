package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/outbound"
)

// mailbox records the mail the consent service asks to send.
type mailbox struct {
	mu   sync.Mutex
	sent []consent.Mail
}

func (m *mailbox) Send(_ context.Context, x consent.Mail) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, x)
	return fmt.Sprintf("mail-%d", len(m.sent)), nil
}

// consentClock is a settable clock for the consent service.
type consentClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *consentClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *consentClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func consentService(t testing.TB, s Store, mb *mailbox, clk *consentClock) *consent.Service {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	var m consent.Mailer
	if mb != nil {
		m = mb
	}
	svc, err := consent.New(s, consent.Options{
		Keys:   consent.Keys{Recipients: bytes.Repeat([]byte{1}, 32), TokenCipher: bytes.Repeat([]byte{2}, 32), TokenMAC: bytes.Repeat([]byte{3}, 32)},
		Signer: key, Mailer: m, BaseURL: "https://node.example", MailHost: "node.example", NodeName: "test node", Now: clk.now,
		Fold: func(a string) string { return outbound.MailboxKey(a, "") },
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// consentFlow walks a sender's life: registration, consent with and without
// confirmation, links, one-click opt-out twice, the feed, a renewed
// subscription that makes old links stale, and the proof.
func consentFlow(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} // a Tuesday
	mb := &mailbox{}
	svc := consentService(t, s, mb, clk)

	sd, err := svc.AddSender(ctx, consent.Sender{ID: "Shop.Example", Name: "Shop Ltd", Contact: "dpo@shop.example",
		Domains: []string{"mail.shop.example", "news.shop.example"}, Jurisdictions: []string{"EU", "us"}})
	if err != nil {
		t.Fatal(err)
	}
	if sd.ID != "shop.example" || len(sd.Domains) != 3 || strings.Join(sd.Jurisdictions, ",") != "EU,US" {
		t.Fatalf("sender = %+v", sd)
	}
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "x@shop.example"}); err == nil {
		t.Error("a sender was registered twice")
	}
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "other.example", Contact: "x@other.example", Domains: []string{"news.shop.example"}}); err == nil {
		t.Error("one domain was given to two senders")
	}
	if got, err := s.SenderByDomain(ctx, "news.shop.example"); err != nil || got.ID != "shop.example" {
		t.Errorf("sender by domain: %+v %v", got, err)
	}

	// Consent without confirmation: active at once, not confirmed.
	r1, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "Bob@Gmail.COM", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form", FormURL: "https://shop.example/join", Text: "Send me the news", CheckboxDefault: "unchecked", IP: "2001:db8::1"}})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Record.Status != consent.RecordActive || r1.Record.Confirmed || r1.Record.Capture.TextSHA256 == "" || len(mb.sent) != 0 {
		t.Fatalf("record = %+v", r1)
	}
	if _, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "bob@gmail.com", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}}); !errors.As(err, new(*consent.ErrExists)) {
		t.Errorf("second active record: %v", err)
	}
	// What the law refuses.
	for name, in := range map[string]consent.RecordInput{
		"pre-ticked box":         {Recipient: "c@gmail.com", List: "news", Basis: consent.BasisConsent, Capture: consent.Capture{Method: "form", CheckboxDefault: "checked"}},
		"no method":              {Recipient: "c@gmail.com", List: "news", Basis: consent.BasisConsent},
		"soft opt-in, no refuse": {Recipient: "c@gmail.com", List: "news", Basis: consent.BasisSoftOptIn, Customer: &consent.Customer{Reference: "o1", ProductCategory: "shoes"}},
		"soft opt-in, no sale":   {Recipient: "c@gmail.com", List: "news", Basis: consent.BasisSoftOptIn},
		"bad basis":              {Recipient: "c@gmail.com", List: "news", Basis: "implied"},
		"bad list":               {Recipient: "c@gmail.com", List: "News Letter!", Basis: consent.BasisConsent, Capture: consent.Capture{Method: "form"}},
		"future":                 {Recipient: "c@gmail.com", List: "news", Basis: consent.BasisConsent, Capture: consent.Capture{Method: "form", ObtainedAt: clk.now().Add(time.Hour)}},
	} {
		if _, err := svc.Record(ctx, "shop.example", in); !errors.As(err, new(*consent.InvalidError)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	soft, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "carol@gmail.com", List: "offers", Basis: consent.BasisSoftOptIn,
		Customer: &consent.Customer{Reference: "order-17", ProductCategory: "shoes", Since: clk.now().Add(-48 * time.Hour), OptOutOffered: true}})
	if err != nil || soft.Record.Status != consent.RecordActive || soft.Record.Customer == nil {
		t.Fatalf("soft opt-in: %+v %v", soft, err)
	}

	// Confirmed opt-in: mailed, pending until the POST.
	clk.add(time.Minute)
	r2, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "dave@gmail.com", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form", IP: "192.0.2.7"}, Confirm: true})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Record.Status != consent.RecordPending || len(mb.sent) != 1 || mb.sent[0].To != "dave@gmail.com" || !strings.Contains(mb.sent[0].Text, r2.ConfirmURL) {
		t.Fatalf("pending record %+v, mail %+v", r2, mb.sent)
	}
	tok := strings.TrimPrefix(r2.ConfirmURL, "https://node.example/c/")
	clk.add(3 * time.Second)
	for i := 0; i < 3; i++ { // a link scanner GETs, again and again
		v, err := svc.OpenConfirmation(ctx, tok, consent.Client{IP: "198.51.100.1", Method: "GET", UserAgent: "scanner"})
		if err != nil || v.Record.Status != consent.RecordPending {
			t.Fatalf("open: %+v %v", v.Record, err)
		}
	}
	if _, err := svc.Confirm(ctx, tok[:len(tok)-1]+"x", consent.Client{Method: "POST"}); !errors.Is(err, consent.ErrBadToken) {
		t.Errorf("forged confirmation: %v", err)
	}
	clk.add(time.Minute)
	v, err := svc.Confirm(ctx, tok, consent.Client{IP: "192.0.2.7", Method: "POST", UserAgent: "Firefox"})
	if err != nil || v.Record.Status != consent.RecordActive || !v.Record.Confirmed {
		t.Fatalf("confirm: %+v %v", v.Record, err)
	}
	if v, err := svc.Confirm(ctx, tok, consent.Client{Method: "POST"}); err != nil || !v.Record.Confirmed {
		t.Errorf("confirming twice: %v", err)
	}
	dave, _ := svc.Hash("shop.example", "dave@gmail.com")
	evs, _ := s.Events(ctx, "shop.example", dave, 0, 100)
	kinds := []string{}
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "consent-recorded,confirmation-sent,confirmation-page-opened,consent-confirmed" {
		t.Errorf("dave's events: %s", got)
	}
	if evs[3].Detail["method"] != "POST" || evs[3].Detail["ip"] != "192.0.2.7" || evs[2].Detail["user_agent"] != "scanner" {
		t.Errorf("confirmation evidence: %+v %+v", evs[2].Detail, evs[3].Detail)
	}
	// No flood of confirmation mails to one address, list after list.
	for i := 0; i < consent.MaxConfirmationsPerDay+1; i++ {
		_, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "victim@gmail.com", List: fmt.Sprintf("l%d", i), Basis: consent.BasisConsent,
			Capture: consent.Capture{Method: "api"}, Confirm: true})
		if (err == nil) != (i < consent.MaxConfirmationsPerDay) {
			t.Errorf("confirmation request %d: %v", i+1, err)
		}
	}
	// An expired confirmation link.
	r3, _ := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "erin@gmail.com", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}, Confirm: true})
	clk.add(8 * 24 * time.Hour)
	if _, err := svc.Confirm(ctx, strings.TrimPrefix(r3.ConfirmURL, "https://node.example/c/"), consent.Client{Method: "POST"}); !errors.Is(err, consent.ErrExpired) {
		t.Errorf("expired link: %v", err)
	}
	if rec, _ := s.Record(ctx, r3.Record.ID); rec.Status != consent.RecordExpired {
		t.Errorf("expired record status %s", rec.Status)
	}

	// Links for a campaign; one-click opt-out, twice.
	clk.t = time.Date(2026, 12, 11, 15, 0, 0, 0, time.UTC) // a Friday
	links, err := svc.Links(ctx, "shop.example", "news", "dec-sale", []string{"bob@gmail.com", "dave@gmail.com", "frank@gmail.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 3 || links[0].Token == links[1].Token || !strings.HasPrefix(links[0].ListUnsubscribe, "<https://node.example/u/") ||
		!strings.Contains(links[0].ListUnsubscribe, "<mailto:unsubscribe+") || links[0].ListUnsubscribePost != "List-Unsubscribe=One-Click" {
		t.Fatalf("links = %+v", links)
	}
	view, err := svc.OpenUnsubscribe(ctx, links[0].Token)
	if err != nil || view.List != "news" || view.Campaign != "dec-sale" || view.Sender.ID != "shop.example" || view.Already {
		t.Fatalf("open unsubscribe: %+v %v", view, err)
	}
	u, err := svc.Unsubscribe(ctx, links[0].Token, consent.ViaOneClick, false, consent.Client{IP: "192.0.2.9", Method: "POST"})
	if err != nil || u.Already {
		t.Fatalf("unsubscribe: %+v %v", u, err)
	}
	// EU's 48 hours come before US's 10 business days.
	if u.Suppression.Jurisdiction != "EU" || !u.Suppression.Deadline.Equal(clk.now().Add(48*time.Hour)) {
		t.Errorf("deadline %s (%s)", u.Suppression.Deadline, u.Suppression.Jurisdiction)
	}
	before, _, _ := s.Head(ctx, "shop.example")
	u, err = svc.Unsubscribe(ctx, links[0].Token, consent.ViaMailto, false, consent.Client{Method: "smtp"})
	if err != nil || !u.Already {
		t.Fatalf("second unsubscribe: %+v %v", u, err)
	}
	if after, _, _ := s.Head(ctx, "shop.example"); after != before {
		t.Errorf("a replayed unsubscribe wrote %d events", after-before)
	}
	bob, _ := svc.Hash("shop.example", "bob@gmail.com")
	recs, _ := s.Records(ctx, "shop.example", bob)
	if len(recs) != 1 || recs[0].Status != consent.RecordWithdrawn || recs[0].WithdrawnAt.IsZero() {
		t.Errorf("bob's record after opt-out: %+v", recs)
	}
	// Concurrent one-click POSTs of one token: one suppression, one event.
	var wg sync.WaitGroup
	already := make(chan bool, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := svc.Unsubscribe(ctx, links[2].Token, consent.ViaOneClick, false, consent.Client{})
			if err != nil {
				t.Error(err)
			}
			already <- u.Already
		}()
	}
	wg.Wait()
	close(already)
	fresh := 0
	for a := range already {
		if !a {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("8 concurrent opt-outs: %d took effect", fresh)
	}
	// The next mailing: opted-out recipients are flagged, not linked.
	links2, _ := svc.Links(ctx, "shop.example", "news", "jan", []string{"bob@gmail.com", "dave@gmail.com"})
	if !links2[0].Suppressed || links2[0].Token != "" || links2[1].Suppressed {
		t.Errorf("links after opt-out: %+v", links2)
	}
	// Only dave's links count in the campaigns' volume: his consent is
	// the one the node saw confirmed (bob's record is the sender's word,
	// frank has none).
	camps, _ := s.SenderCampaigns(ctx, "shop.example")
	if len(camps) != 2 || camps[0].Name != "dec-sale" || camps[0].Issued != 1 || camps[1].Issued != 1 {
		t.Errorf("campaigns = %+v", camps)
	}

	// The feed, by cursor and by time; the first fetch is the hand-over.
	feed, err := svc.Feed(ctx, "shop.example", consent.FeedQuery{})
	if err != nil || len(feed) != 2 || feed[0].Seq >= feed[1].Seq || feed[0].SyncedAt.IsZero() == false {
		t.Fatalf("feed = %+v %v", feed, err)
	}
	again, _ := svc.Feed(ctx, "shop.example", consent.FeedQuery{})
	if len(again) != 2 || !again[0].SyncedAt.Equal(clk.now()) {
		t.Errorf("second fetch: %+v", again)
	}
	if rest, _ := svc.Feed(ctx, "shop.example", consent.FeedQuery{After: feed[1].Seq}); len(rest) != 0 {
		t.Errorf("after the cursor: %+v", rest)
	}
	if rest, _ := svc.Feed(ctx, "shop.example", consent.FeedQuery{Since: clk.now().Add(time.Second)}); len(rest) != 0 {
		t.Errorf("since later: %+v", rest)
	}
	if od, _ := svc.Overdue(ctx, ""); len(od) != 0 {
		t.Errorf("overdue after a timely fetch: %+v", od)
	}
	// A withdrawal the sender reports, never fetched: overdue after 48 hours.
	if _, _, err := svc.Withdraw(ctx, "shop.example", "carol@gmail.com", "", "asked by phone"); err != nil {
		t.Fatal(err)
	}
	clk.add(47 * time.Hour)
	if od, _ := svc.Overdue(ctx, "shop.example"); len(od) != 0 {
		t.Errorf("overdue before the deadline: %+v", od)
	}
	clk.add(2 * time.Hour)
	od, _ := svc.Overdue(ctx, "shop.example")
	if len(od) != 1 || od[0].List != "" || od[0].Reason != consent.ViaWithdrawal {
		t.Errorf("overdue = %+v", od)
	}

	// Bob comes back by confirmed opt-in; the old link is now stale.
	clk.add(72 * time.Hour)
	r4, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "bob@gmail.com", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}})
	if !errors.As(err, new(*consent.InvalidError)) {
		t.Errorf("unconfirmed consent after an opt-out: %+v %v", r4, err)
	}
	r4, err = svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "bob@gmail.com", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}, Confirm: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Confirm(ctx, strings.TrimPrefix(r4.ConfirmURL, "https://node.example/c/"), consent.Client{Method: "POST"}); err != nil {
		t.Fatal(err)
	}
	if sup, _ := s.Suppressed(ctx, "shop.example", bob); len(sup) != 1 || !sup[0].Lifted {
		t.Errorf("bob's opt-out after renewed consent: %+v", sup)
	}
	lifted, _ := svc.Feed(ctx, "shop.example", consent.FeedQuery{After: feed[1].Seq})
	if len(lifted) != 2 || !lifted[1].Lifted {
		t.Errorf("feed after renewal: %+v", lifted)
	}
	if _, err := svc.Unsubscribe(ctx, links[0].Token, consent.ViaOneClick, false, consent.Client{}); !errors.Is(err, consent.ErrStale) {
		t.Errorf("old link replayed after renewal: %v", err)
	}
	fresh3, _ := svc.Links(ctx, "shop.example", "news", "feb", []string{"bob@gmail.com"})
	if u, err := svc.Unsubscribe(ctx, fresh3[0].Token, consent.ViaOneClick, true, consent.Client{}); err != nil || u.Already || u.Suppression.List != "" {
		t.Errorf("new link, all lists: %+v %v", u, err)
	}

	// The proof of dave's consent verifies; bob's shows his history.
	pr, err := svc.Proof(ctx, "shop.example", "dave@gmail.com", "news")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(pr)
	c, err := consent.VerifyProof(bytes.NewReader(doc))
	if err != nil || !c.OK() || !c.Payload.Summary.ConsentOnRecord || !c.Payload.Summary.Confirmed || len(c.Payload.Events) != 4 {
		t.Fatalf("proof: %+v %v %v", c.Payload.Summary, c.Problems, err)
	}
	pb, _ := svc.Proof(ctx, "shop.example", "bob@gmail.com", "")
	doc, _ = json.Marshal(pb)
	c, _ = consent.VerifyProof(bytes.NewReader(doc))
	if !c.OK() || !c.Payload.Summary.OptedOut || len(c.Payload.Records) != 2 {
		t.Errorf("bob's proof: %+v %v", c.Payload.Summary, c.Problems)
	}
	// The whole log verifies as one chain.
	all, _ := s.Events(ctx, "shop.example", "", 0, 10000)
	if p := consent.VerifyEvents("shop.example", all, true); len(p) != 0 || all[0].Kind != consent.EventSenderRegistered {
		t.Errorf("the log: %v", p)
	}

	// A suspended sender makes no links and records nothing.
	if _, err := svc.SetSenderStatus(ctx, "shop.example", consent.SenderSuspended, "complaints"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Links(ctx, "shop.example", "news", "", []string{"bob@gmail.com"}); !errors.Is(err, consent.ErrSuspended) {
		t.Errorf("links while suspended: %v", err)
	}
	// Unsubscribing still works: an opt-out never depends on the sender's standing.
	if _, err := svc.Unsubscribe(ctx, links[1].Token, consent.ViaOneClick, false, consent.Client{}); err != nil {
		t.Errorf("opt-out while suspended: %v", err)
	}
}

// consentComplaints checks the complaint rows and their counts.
func consentComplaints(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, nil, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CampaignRef(ctx, "shop.example", "news", "dec", 1000); err != nil {
		t.Fatal(err)
	}
	c := consent.Complaint{ReportID: "rep1", Sender: "shop.example", At: clk.now(), Recipient: "h1", List: "news", Campaign: "dec", How: "unsubscribe-token", ConsentOnRecord: true, ConsentRecord: "r1"}
	ch := consent.Change{Sender: "shop.example", Complaint: &c, Events: []consent.Event{{At: clk.now(), Kind: consent.EventComplaint, Recipient: "h1", List: "news"}}}
	if _, err := s.Apply(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, ch); !errors.Is(err, consent.ErrDuplicate) {
		t.Errorf("the same report counted twice: %v", err)
	}
	if err := s.MarkForwarded(ctx, "rep1", "shop.example", "mail-9"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ComplaintsByReport(ctx, "rep1")
	if len(got) != 1 || got[0].Forwarded != "mail-9" || !got[0].ConsentOnRecord || got[0].How != "unsubscribe-token" {
		t.Errorf("complaint = %+v", got)
	}
	camps, _ := s.SenderCampaigns(ctx, "shop.example")
	if len(camps) != 1 || camps[0].Complaints != 1 || camps[0].Rate() != 0.001 {
		t.Errorf("campaign = %+v rate %v", camps, camps[0].Rate())
	}
	if err := s.ReportSent(ctx, "shop.example", "news", "dec", 4000); err != nil {
		t.Fatal(err)
	}
	camps, _ = s.SenderCampaigns(ctx, "shop.example")
	if camps[0].Sent() != 4000 || camps[0].Rate() != 0.00025 {
		t.Errorf("after the sender's count: %+v", camps[0])
	}
	if list, _ := s.SenderComplaints(ctx, "shop.example", 10); len(list) != 1 {
		t.Errorf("complaints = %+v", list)
	}
}

// consentConfirmLimits: the confirmation mails to one address are counted
// over the last 24 hours whatever the recipient's log holds before them
// (a log padded past a thousand events once hid them), and one sender's
// confirmation mails to everyone are bounded per hour.
func consentConfirmLimits(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	mb := &mailbox{}
	_, key, _ := ed25519.GenerateKey(nil)
	svc, err := consent.New(s, consent.Options{
		Keys:   consent.Keys{Recipients: bytes.Repeat([]byte{1}, 32), TokenCipher: bytes.Repeat([]byte{2}, 32), TokenMAC: bytes.Repeat([]byte{3}, 32)},
		Signer: key, Mailer: mb, BaseURL: "https://node.example", MailHost: "node.example", NodeName: "test node", Now: clk.now,
		MaxConfirmationsPerHour: 6,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	victim, _ := svc.Hash("shop.example", "victim@example.org")
	pad := consent.Change{Sender: "shop.example"}
	for i := 0; i < 1100; i++ {
		pad.Events = append(pad.Events, consent.Event{At: clk.now(), Kind: consent.EventWithdrawn, Recipient: victim, List: "news"})
	}
	if _, err := s.Apply(ctx, pad); err != nil {
		t.Fatal(err)
	}
	ask := func(who string) error {
		_, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: who, List: "news", Basis: consent.BasisConsent,
			Capture: consent.Capture{Method: "form"}, Confirm: true})
		if err == nil {
			_, _, err = svc.Withdraw(ctx, "shop.example", who, "news", "")
		}
		return err
	}
	for i := 0; i < consent.MaxConfirmationsPerDay; i++ {
		if err := ask("victim@example.org"); err != nil {
			t.Fatalf("confirmation %d: %v", i+1, err)
		}
	}
	var inv *consent.InvalidError
	if err := ask("victim@example.org"); !errors.As(err, &inv) {
		t.Fatalf("a fourth confirmation mail in a day after a padded log: %v (%d mails)", err, len(mb.sent))
	}
	// A day later the address may be asked again.
	clk.add(25 * time.Hour)
	if err := ask("victim@example.org"); err != nil {
		t.Fatalf("the next day: %v", err)
	}
	// Six in the hour for the whole sender: the seventh waits.
	for i := 0; i < 5; i++ {
		if err := ask(fmt.Sprintf("p%d@example.org", i)); err != nil {
			t.Fatalf("confirmation to p%d: %v", i, err)
		}
	}
	var rate *consent.RateError
	if err := ask("p9@example.org"); !errors.As(err, &rate) {
		t.Fatalf("the sender's seventh confirmation mail in an hour: %v", err)
	}
}

// consentSentBounds: a sender's own count of a campaign's messages cannot
// wash out its complaints: it is bounded by the links made for the
// campaign and the sender's active consent records, and logged.
func consentSentBounds(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, &mailbox{}, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	// a and b confirmed from the node's mail; c's record is the sender's
	// word alone.
	for _, who := range []string{"a@gmail.com", "b@gmail.com"} {
		res, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: who, List: "news", Basis: consent.BasisConsent,
			Capture: consent.Capture{Method: "form"}, Confirm: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Confirm(ctx, res.ConfirmURL[strings.LastIndex(res.ConfirmURL, "/")+1:], consent.Client{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "c@gmail.com", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}}); err != nil {
		t.Fatal(err)
	}
	// Links for everyone; only a's and b's count in the campaign: not the
	// unconfirmed c, made-up addresses at reserved domains, nor the
	// sender's own.
	if _, err := svc.Links(ctx, "shop.example", "news", "dec", []string{"a@gmail.com", "b@gmail.com", "c@gmail.com",
		"made-up-1@example.invalid", "x@mail.test", "y@host.localhost", "seed@shop.example"}); err != nil {
		t.Fatal(err)
	}
	var invented []string
	for i := 0; i < 1000; i++ {
		invented = append(invented, fmt.Sprintf("made-up-0-%d@example.invalid", i))
	}
	if _, err := svc.Links(ctx, "shop.example", "news", "dec", invented); err != nil {
		t.Fatal(err)
	}
	if camps, _ := s.SenderCampaigns(ctx, "shop.example"); len(camps) != 1 || camps[0].Issued != 2 {
		t.Fatalf("links counted in the campaign: %+v", camps)
	}
	if _, err := svc.RecordComplaint(ctx, consent.ComplaintInput{ReportID: "r1", Sender: "shop.example", List: "news", Campaign: "dec",
		How: consent.HowDKIM, MessageKey: "dkim:1"}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.ReportSent(ctx, "shop.example", "news", "dec", 1<<40)
	if err != nil || got != 2 {
		t.Fatalf("a claim of 2^40 messages accepted as %d (%v)", got, err)
	}
	if got, err := svc.ReportSent(ctx, "shop.example", "news", "other", 1000); err != nil || got != 2 {
		t.Fatalf("a campaign without links: %d %v", got, err)
	}
	st, _ := svc.Standing(ctx, "shop.example")
	// One complaint of 4 messages: judged by complainants, not by a 25%
	// rate (consent.MinRateVolume).
	if st.Sent != 4 || st.Complaints != 1 || !st.Good || st.JudgedBy != consent.JudgedByComplainants {
		t.Errorf("standing after the claims: %+v", st)
	}
	if n, _ := s.CountEvents(ctx, "shop.example", consent.EventQuery{Kind: consent.EventSentReported}); n != 2 {
		t.Errorf("claims logged: %d", n)
	}
}

// consentNoOpWithdrawals: a withdrawal that changes nothing writes
// nothing, so repeating it cannot pad a recipient's log (and push later
// events out of a proof); one that withdraws a record still does.
func consentNoOpWithdrawals(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, nil, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	nobody, _ := svc.Hash("shop.example", "nobody@example.net")
	events := func(h string) int {
		evs, err := s.Events(ctx, "shop.example", h, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	var firstSeq int64
	for i := 0; i < 30; i++ {
		sup, already, err := svc.Withdraw(ctx, "shop.example", "nobody@example.net", "", "")
		if err != nil || already != (i > 0) {
			t.Fatalf("withdrawal %d: already %v, %v", i+1, already, err)
		}
		// The answer names the row the sync feed shows: the first
		// answer too, not a zero cursor.
		if i == 0 {
			firstSeq = sup.Seq
		}
		if sup.Seq == 0 || sup.Seq != firstSeq {
			t.Fatalf("withdrawal %d answered seq %d, the first %d", i+1, sup.Seq, firstSeq)
		}
	}
	if sups, err := svc.Suppressions(ctx, "shop.example", "nobody@example.net"); err != nil || len(sups) != 1 || sups[0].Seq != firstSeq {
		t.Fatalf("the stored suppression %+v (%v), the withdrawal said seq %d", sups, err, firstSeq)
	}
	if n := events(nobody); n != 1 {
		t.Errorf("30 withdrawals of an address with no records left %d events, want 1", n)
	}
	// A record on the list after the suppression: withdrawing it is not a
	// no-op.
	if _, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "ann@example.net", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}}); err != nil {
		t.Fatal(err)
	}
	ann, _ := svc.Hash("shop.example", "ann@example.net")
	before := events(ann)
	if _, already, err := svc.Withdraw(ctx, "shop.example", "ann@example.net", "news", ""); err != nil || already || events(ann) == before {
		t.Fatalf("withdrawing ann's record: already %v, %v", already, err)
	}
	before = events(ann)
	if _, already, err := svc.Withdraw(ctx, "shop.example", "ann@example.net", "news", ""); err != nil || !already {
		t.Fatalf("withdrawing ann again: already %v, %v", already, err)
	}
	if n := events(ann); n != before {
		t.Errorf("withdrawing ann again added %d events", n-before)
	}
}

// consentDilution: one confirmed mailbox cannot make any number of
// counted messages — a recipient counts once per campaign however many
// links are asked for them, and the 30-day total over every campaign is
// bounded by the confirmed recipients × consent.MaxMessagesPerRecipient.
func consentDilution(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, &mailbox{}, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "alice@gmail.com", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}, Confirm: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Confirm(ctx, res.ConfirmURL[strings.LastIndex(res.ConfirmURL, "/")+1:], consent.Client{}); err != nil {
		t.Fatal(err)
	}
	dup := make([]string, consent.MaxLinks)
	for i := range dup {
		dup[i] = "alice@gmail.com"
	}
	for i := 0; i < 3; i++ {
		if _, err := svc.Links(ctx, "shop.example", "news", "c1", dup); err != nil {
			t.Fatal(err)
		}
	}
	if camps, _ := s.SenderCampaigns(ctx, "shop.example"); len(camps) != 1 || camps[0].Issued != 1 {
		t.Fatalf("3 × %d links for one recipient counted as %+v, want 1", consent.MaxLinks, camps)
	}
	for i := 0; i < consent.MaxMessagesPerRecipient+10; i++ {
		if got, err := svc.ReportSent(ctx, "shop.example", "news", fmt.Sprintf("x%d", i), 1000000); err != nil || got != 1 {
			t.Fatalf("campaign x%d: accepted %d (%v)", i, got, err)
		}
	}
	st, err := svc.Standing(ctx, "shop.example")
	if err != nil || st.Bound != consent.MaxMessagesPerRecipient || st.Sent != st.Bound {
		t.Errorf("standing of one confirmed recipient after %d campaigns: sent %d, bound %d (%v)", consent.MaxMessagesPerRecipient+11, st.Sent, st.Bound, err)
	}
}

// consentAllListsException: confirming one list after an opt-out of all
// the sender's mail lifts the opt-out for that list only; the feed never
// says "lift" for the others, and a new opt-out of all puts the list
// back.
func consentAllListsException(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, &mailbox{}, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	const bob = "bob@example.net"
	if _, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: bob, List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}}); err != nil {
		t.Fatal(err)
	}
	links, err := svc.Links(ctx, "shop.example", "news", "", []string{bob})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unsubscribe(ctx, links[0].Token, consent.ViaOneClick, true, consent.Client{}); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Hour)
	res, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: bob, List: "promo", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form"}, Confirm: true})
	if err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	if _, err := svc.Confirm(ctx, res.ConfirmURL[strings.LastIndex(res.ConfirmURL, "/")+1:], consent.Client{}); err != nil {
		t.Fatal(err)
	}
	suppressed := func(list string) bool {
		t.Helper()
		l, err := svc.Links(ctx, "shop.example", list, "", []string{bob})
		if err != nil {
			t.Fatal(err)
		}
		return l[0].Suppressed
	}
	if !suppressed("news") || suppressed("promo") || !suppressed("other") {
		t.Errorf("after confirming promo: news %v promo %v other %v, want true false true", suppressed("news"), suppressed("promo"), suppressed("other"))
	}
	feed, err := svc.Feed(ctx, "shop.example", consent.FeedQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range feed {
		if x.Lifted && x.List != "promo" {
			t.Errorf("the feed lifts list %q, which bob did not confirm again: %+v", x.List, feed)
		}
	}
	if len(feed) != 2 {
		t.Errorf("feed = %+v, want the all-lists suppression and promo lifted", feed)
	}
	// Bob opts out of all once more (from the promo link): promo is
	// suppressed again, and it is not "already".
	pl, err := svc.Links(ctx, "shop.example", "promo", "", []string{bob})
	if err != nil {
		t.Fatal(err)
	}
	clk.add(time.Minute)
	u, err := svc.Unsubscribe(ctx, pl[0].Token, consent.ViaOneClick, true, consent.Client{})
	if err != nil || u.Already {
		t.Fatalf("opt-out of all after the exception: already %v, %v", u.Already, err)
	}
	if !suppressed("promo") {
		t.Error("promo not suppressed after a new opt-out of all")
	}
}

// consentRespelling: an opt-out holds for every spelling of the mailbox —
// the domain as U-label or A-label, Gmail's dots, googlemail.com, a
// sub-address — and for keys stored before domains were A-labels.
func consentRespelling(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, &mailbox{}, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	record := func(who string, soft bool) error {
		in := consent.RecordInput{Recipient: who, List: "news", Basis: consent.BasisConsent, Capture: consent.Capture{Method: "form"}}
		if soft {
			in.Basis, in.Capture = consent.BasisSoftOptIn, consent.Capture{}
			in.Customer = &consent.Customer{Reference: "o1", ProductCategory: "coats", Since: clk.now().AddDate(0, -1, 0), OptOutOffered: true}
		}
		_, err := svc.Record(ctx, "shop.example", in)
		return err
	}
	suppressed := func(who ...string) []bool {
		t.Helper()
		l, err := svc.Links(ctx, "shop.example", "news", "", who)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]bool, len(l))
		for i := range l {
			out[i] = l[i].Suppressed
		}
		return out
	}
	// eve opts out of all by her link's token, spelled with a U-label.
	if err := record("eve@mälbox.org", false); err != nil {
		t.Fatal(err)
	}
	l, err := svc.Links(ctx, "shop.example", "news", "", []string{"eve@mälbox.org"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unsubscribe(ctx, l[0].Token, consent.ViaOneClick, true, consent.Client{}); err != nil {
		t.Fatal(err)
	}
	if got := suppressed("eve@mälbox.org", "eve@xn--mlbox-gra.org", "Eve@XN--MLBOX-GRA.ORG"); got[0] != true || got[1] != true || got[2] != true {
		t.Errorf("eve's opt-out by spelling (U-label, A-label, upper case): %v", got)
	}
	var inv *consent.InvalidError
	if err := record("eve@xn--mlbox-gra.org", true); !errors.As(err, &inv) {
		t.Errorf("a soft opt-in for eve's A-label after her opt-out: %v", err)
	}
	// kim withdraws from all (the sender tells the node, by address);
	// zed opts out by token: other spellings of their Gmail mailboxes are
	// suppressed and get no new record.
	if err := record("kim.lee@gmail.com", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Withdraw(ctx, "shop.example", "kim.lee@gmail.com", "", ""); err != nil {
		t.Fatal(err)
	}
	zl, err := svc.Links(ctx, "shop.example", "news", "", []string{"zed.x@gmail.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Unsubscribe(ctx, zl[0].Token, consent.ViaOneClick, false, consent.Client{}); err != nil {
		t.Fatal(err)
	}
	got := suppressed("kim.lee@gmail.com", "kimlee@googlemail.com", "kim.lee+n@gmail.com", "zedx+a@googlemail.com", "kim.other@gmail.com")
	if want := []bool{true, true, true, true, false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Gmail spellings suppressed: %v, want %v", got, want)
	}
	if err := record("kimlee@googlemail.com", true); !errors.As(err, &inv) {
		t.Errorf("a soft opt-in for kim's googlemail spelling after her opt-out: %v", err)
	}
	// A suppression stored under the key an address had before domains
	// were A-labels (lower case only) still holds.
	old := consent.RecipientHash(svc.RecipientKey("shop.example"), "old@bücher.example")
	if _, err := s.Apply(ctx, consent.Change{Sender: "shop.example", Suppress: []consent.Suppression{{Sender: "shop.example", Recipient: old,
		Reason: consent.ViaAPI, RequestedAt: clk.now(), Deadline: clk.now().Add(48 * time.Hour), Jurisdiction: "EU"}}}); err != nil {
		t.Fatal(err)
	}
	if got := suppressed("old@bücher.example", "old@xn--bcher-kva.example"); !got[0] || !got[1] {
		t.Errorf("an opt-out under the old key: %v", got)
	}
}

// consentPendingExpires: a pending record past the confirmation link's
// life is expired wherever it is read, so a lost confirmation mail does
// not block the address from the list forever.
func consentPendingExpires(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, &mailbox{}, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	ask := func() (consent.RecordResult, error) {
		return svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "jill@example.net", List: "news", Basis: consent.BasisConsent,
			Capture: consent.Capture{Method: "form"}, Confirm: true})
	}
	first, err := ask()
	if err != nil {
		t.Fatal(err)
	}
	var exists *consent.ErrExists
	if _, err := ask(); !errors.As(err, &exists) {
		t.Fatalf("a second sign-up while the first is pending: %v", err)
	}
	clk.add(10 * 24 * time.Hour) // past the 7 days of the link
	jill, _ := svc.Hash("shop.example", "jill@example.net")
	recs, err := svc.Records(ctx, "shop.example", jill)
	if err != nil || len(recs) != 1 || recs[0].Status != consent.RecordExpired {
		t.Fatalf("records 10 days on: %+v %v", recs, err)
	}
	if r, _ := s.Record(ctx, first.Record.ID); r.Status != consent.RecordExpired {
		t.Errorf("the stored record 10 days on: %s", r.Status)
	}
	if _, err := ask(); err != nil {
		t.Fatalf("a new sign-up after the first expired: %v", err)
	}
}

// queueMailer sends the consent service's mail through a real outbound
// queue, as the node does.
type queueMailer struct{ q *outbound.Queue }

func (m queueMailer) Send(ctx context.Context, x consent.Mail) (string, error) {
	it, err := m.q.Send(ctx, outbound.Mail{Kind: outbound.Kind(x.Kind), Ref: x.Ref, To: x.To, Subject: x.Subject, Text: x.Text, Sender: x.Sender})
	return it.ID, err
}

func (m queueMailer) CancelConfirmations(ctx context.Context, sender string) (int, error) {
	return m.q.CancelConfirmations(ctx, sender)
}

// consentSuspension: suspending a sender cancels its confirmation mail
// still queued, and its pending records cannot be confirmed meanwhile.
func consentSuspension(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	q, err := outbound.New(s, outbound.Config{From: "desk@node.example", Secret: []byte("0123456789abcdef0123"), Now: clk.now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	svc, err := consent.New(s, consent.Options{
		Keys:   consent.Keys{Recipients: bytes.Repeat([]byte{1}, 32), TokenCipher: bytes.Repeat([]byte{2}, 32), TokenMAC: bytes.Repeat([]byte{3}, 32)},
		Signer: key, Mailer: queueMailer{q}, BaseURL: "https://node.example", MailHost: "node.example", Now: clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"evil.example", "shop.example"} {
		if _, err := svc.AddSender(ctx, consent.Sender{ID: id, Contact: "dpo@" + id}); err != nil {
			t.Fatal(err)
		}
	}
	ask := func(sender, who string) consent.RecordResult {
		res, err := svc.Record(ctx, sender, consent.RecordInput{Recipient: who, List: "l1", Basis: consent.BasisConsent,
			Capture: consent.Capture{Method: "form"}, Confirm: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	evil, shop := ask("evil.example", "bob@example.net"), ask("shop.example", "ann@example.net")
	if _, err := svc.SetSenderStatus(ctx, "evil.example", consent.SenderSuspended, "abuse"); err != nil {
		t.Fatal(err)
	}
	if it, _ := q.Status(ctx, evil.MailID); it.State != outbound.Failed {
		t.Errorf("the suspended sender's queued confirmation: %s", it.State)
	}
	if it, _ := q.Status(ctx, shop.MailID); it.State != outbound.Queued {
		t.Errorf("another sender's queued confirmation: %s", it.State)
	}
	var inv *consent.InvalidError
	if _, err := svc.Confirm(ctx, evil.ConfirmURL[strings.LastIndex(evil.ConfirmURL, "/")+1:], consent.Client{}); !errors.As(err, &inv) {
		t.Errorf("confirming a suspended sender's record: %v", err)
	}
	if r, _ := s.Record(ctx, evil.Record.ID); r.Status != consent.RecordPending {
		t.Errorf("the suspended sender's record after a confirmation: %s", r.Status)
	}
}

// consentProofNotCut: a recipient's log padded past what a proof holds
// gets no proof rather than a cut one signed as the whole history.
func consentProofNotCut(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, nil, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		t.Fatal(err)
	}
	pad, _ := svc.Hash("shop.example", "pad@example.net")
	ch := consent.Change{Sender: "shop.example"}
	for i := 0; i < 5000; i++ {
		ch.Events = append(ch.Events, consent.Event{At: clk.now(), Kind: consent.EventRecorded, Recipient: pad, List: fmt.Sprintf("p%d", i)})
	}
	if _, err := s.Apply(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Proof(ctx, "shop.example", "pad@example.net", ""); err != nil {
		t.Fatalf("a proof of 5,000 events: %v", err)
	}
	if _, _, err := svc.Withdraw(ctx, "shop.example", "pad@example.net", "", "opt-out"); err != nil {
		t.Fatal(err)
	}
	if p, err := svc.Proof(ctx, "shop.example", "pad@example.net", ""); !errors.Is(err, consent.ErrProofTooLong) {
		t.Fatalf("a proof of 5,001 events: %v (signed: %v)", err, p != nil)
	}
}

// consentPendingSweep: the periodic sweep (consent.Service.ExpirePending,
// serve's purge) expires the pending records past the confirmation
// link's life that nobody read, of every sender, with their event — and
// no other record: not a pending one still within its 7 days, not an
// active one, not one already expired.
func consentPendingSweep(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(t, s, &mailbox{}, clk)
	ask := func(sender, addr string) consent.RecordResult {
		t.Helper()
		res, err := svc.Record(ctx, sender, consent.RecordInput{Recipient: addr, List: "news", Basis: consent.BasisConsent,
			Capture: consent.Capture{Method: "form"}, Confirm: true})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, id := range []string{"shop.example", "other.example"} {
		if _, err := svc.AddSender(ctx, consent.Sender{ID: id, Contact: "dpo@" + id}); err != nil {
			t.Fatal(err)
		}
	}
	old1, old2 := ask("shop.example", "kai@posteo.de"), ask("other.example", "lea@web.de")
	confirmed := ask("shop.example", "max@posteo.de")
	if _, err := svc.Confirm(ctx, confirmed.ConfirmURL[strings.LastIndex(confirmed.ConfirmURL, "/")+1:], consent.Client{}); err != nil {
		t.Fatal(err)
	}
	clk.add(6 * 24 * time.Hour)
	fresh := ask("shop.example", "nia@posteo.de")
	if n, err := svc.ExpirePending(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep on day 6 expired %d (%v)", n, err)
	}
	clk.add(2 * 24 * time.Hour) // day 8: the first two are past their 7 days
	if n, err := svc.ExpirePending(ctx); err != nil || n != 2 {
		t.Fatalf("a sweep on day 8 expired %d, want 2 (%v)", n, err)
	}
	for id, want := range map[string]string{old1.Record.ID: consent.RecordExpired, old2.Record.ID: consent.RecordExpired,
		confirmed.Record.ID: consent.RecordActive, fresh.Record.ID: consent.RecordPending} {
		if r, err := s.Record(ctx, id); err != nil || r.Status != want {
			t.Errorf("record %s after the sweep: %s (%v), want %s", id, r.Status, err, want)
		}
	}
	for _, id := range []string{"shop.example", "other.example"} {
		if n, _ := s.CountEvents(ctx, id, consent.EventQuery{Kind: consent.EventExpired}); n != 1 {
			t.Errorf("%s: %d consent-expired events, want 1", id, n)
		}
	}
	if n, err := svc.ExpirePending(ctx); err != nil || n != 0 {
		t.Errorf("a second sweep expired %d (%v)", n, err)
	}
}
