package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/fbl"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/privacy"
	"github.com/accord-antispam/accord/internal/resolve"
)

// shopDKIM is shop.example's signing key, published in shopZone.
var shopDKIM = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))

func shopZone() *resolve.Zone {
	z := &resolve.Zone{}
	z.AddTXT("s1._domainkey.shop.example", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(shopDKIM.Public().(ed25519.PublicKey)))
	return z
}

// shopMail is a message of shop.example's, DKIM-signed over its list
// headers, or unsigned when from is not shop's.
func shopMail(t *testing.T, from, to, listUnsub, body string, at time.Time) string {
	t.Helper()
	msg := "From: " + from + "\r\nTo: " + to + "\r\nSubject: Winter sale\r\nDate: " + at.Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <" + strings.NewReplacer("@", ".", "<", "", ">", "", " ", "").Replace(to) + "@shop.example>\r\n" +
		"Return-Path: <bounce@shop.example>\r\nList-Unsubscribe: " + listUnsub + "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n" + body
	if !strings.Contains(from, "@shop.example") {
		return msg
	}
	var out bytes.Buffer
	if err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: "shop.example", Selector: "s1", Signer: shopDKIM,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"},
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// arfOf wraps a message in a feedback report naming a recipient.
func arfOf(reporter, rcpt, msg string) []byte {
	return []byte("From: " + reporter + "\r\nTo: abuse@node.example\r\nSubject: FW: Winter sale\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nabuse report\r\n" +
		"--x\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: isp\r\nVersion: 1\r\nOriginal-Rcpt-To: " + rcpt + "\r\n\r\n" +
		"--x\r\nContent-Type: message/rfc822\r\n\r\n" + msg + "\r\n--x--\r\n")
}

type fblRig struct {
	ctx context.Context
	s   Store
	clk *consentClock
	mb  *mailbox
	svc *consent.Service
	d   *intake.Desk
	p   *fbl.Processor
}

func newFBLRig(t *testing.T, s Store) *fblRig {
	ctx := context.Background()
	r := &fblRig{ctx: ctx, s: s, clk: &consentClock{t: clock}, mb: &mailbox{}}
	r.svc = consentService(t, s, r.mb, r.clk)
	r.d = deskResolving(t, s, shopZone())
	r.p = fbl.New()
	r.p.Store, r.p.Reports, r.p.Consent, r.p.Mailer, r.p.Node = s, s, r.svc, r.mb, "test node"
	// A report before the loop's first run is not fed back.
	if _, err := r.d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: spam(1)}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.p.Process(ctx); err != nil || n != 0 {
		t.Fatalf("first run: %d %v", n, err)
	}
	if _, err := r.svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example", FeedbackTo: "fbl@shop.example"}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *fblRig) consent(t *testing.T, who string) {
	t.Helper()
	if _, err := r.svc.Record(r.ctx, "shop.example", consent.RecordInput{Recipient: who, List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form", ObtainedAt: r.clk.now().Add(-48 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
}

func (r *fblRig) link(t *testing.T, who string) consent.Link {
	t.Helper()
	links, err := r.svc.Links(r.ctx, "shop.example", "news", "dec", []string{who})
	if err != nil {
		t.Fatal(err)
	}
	return links[0]
}

// complain files a complaint by mail from reporter (authenticated when
// auth is set) and feeds it back; it returns the complaint recorded.
func (r *fblRig) complain(t *testing.T, reporter, auth string, raw []byte) (consent.Complaint, bool) {
	t.Helper()
	rec, err := r.d.Submit(r.ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: raw, Reporter: reporter, ReporterAuth: auth, SubmittedBy: "smtp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.p.Process(r.ctx); err != nil {
		t.Fatal(err)
	}
	cs, _ := r.s.ComplaintsByReport(r.ctx, rec.Reports[0].ID)
	if len(cs) != 1 {
		return consent.Complaint{}, false
	}
	return cs[0], true
}

func (r *fblRig) suppressed(who string) bool {
	h, _ := r.svc.Hash("shop.example", who)
	sup, _ := r.s.Suppressed(r.ctx, "shop.example", h)
	return len(sup) > 0
}

func (r *fblRig) status(t *testing.T, who string) string {
	t.Helper()
	h, _ := r.svc.Hash("shop.example", who)
	recs, err := r.s.Records(r.ctx, "shop.example", h)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records of %s: %v %+v", who, err, recs)
	}
	return string(recs[0].Status)
}

// feedbackLoop: a mailbox provider's feedback report about a registered
// sender's signed message is fed back once — recorded with "consent on
// record", the recipient (named by Original-Rcpt-To and corroborated by
// the token the node issued for that same recipient) suppressed, the
// campaign's rate counted, an ARF queued with the recipient and every
// token redacted — and a report of unrelated spam is not.
func feedbackLoop(t *testing.T, s Store) {
	r := newFBLRig(t, s)
	ctx, svc, mb := r.ctx, r.svc, r.mb
	r.consent(t, "bob@example.net")
	l := r.link(t, "bob@example.net")
	// A decoy token (its MAC fails) before the real one: both redacted.
	decoy := "<https://node.example/u/" + strings.Repeat("a", 45) + ">, "
	msg := shopMail(t, "Shop <news@shop.example>", "Bob <bob@example.net>", decoy+l.ListUnsubscribe,
		"Dear bob@example.net, our winter sale starts today. Unsubscribe: "+l.URL+"\r\n", r.clk.now())
	c, ok := r.complain(t, "fbl@isp.example", "spf", arfOf("fbl@isp.example", "bob@example.net", msg))
	if _, err := r.d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: spam(2)}); err != nil {
		t.Fatal(err)
	}
	if n, err := r.p.Process(ctx); err != nil || n != 0 {
		t.Fatalf("unrelated spam fed back: %d %v", n, err)
	}
	if !ok || c.How != consent.HowToken || !c.ConsentOnRecord || c.List != "news" || c.Campaign != "dec" || c.Forwarded == "" || len(c.Flags) != 0 {
		t.Fatalf("complaint = %+v", c)
	}
	if !r.suppressed("bob@example.net") || r.status(t, "bob@example.net") != string(consent.RecordWithdrawn) {
		t.Errorf("bob after his complaint: suppressed %v", r.suppressed("bob@example.net"))
	}
	if r.suppressed("fbl@isp.example") {
		t.Errorf("the provider's feedback address was suppressed instead of its user")
	}
	camps, _ := s.SenderCampaigns(ctx, "shop.example")
	if len(camps) != 1 || camps[0].Complaints != 1 {
		t.Errorf("campaign = %+v", camps)
	}
	// One complainant: a rate of 100%, but under consent.MinRateVolume
	// messages a sender is judged by complainants.
	if st, _ := svc.Standing(ctx, "shop.example"); st.Complaints != 1 || st.Rate != 1 || st.Complainants != 1 || !st.Good {
		t.Errorf("standing after one complaint in one message: %+v", st)
	}

	// The ARF: to the sender's feedback address, parseable as ARF by the
	// desk's own reader, and without the recipient's address, any token
	// (the decoy and the real one), or the recipient's hash.
	if len(mb.sent) != 1 || mb.sent[0].To != "fbl@shop.example" || mb.sent[0].Kind != "fbl-report" {
		t.Fatalf("mail = %+v", mb.sent)
	}
	raw := mb.sent[0].Raw
	bob, _ := svc.Hash("shop.example", "bob@example.net")
	for _, secret := range []string{"bob@example.net", l.Token, strings.Repeat("a", 45), bob[:16]} {
		if bytes.Contains(bytes.ToLower(raw), []byte(strings.ToLower(secret))) {
			t.Errorf("the ARF shows %q", secret)
		}
	}
	if leaks := privacy.Of([]byte(msg), "bob@example.net").Leaks(raw); len(leaks) > 0 {
		t.Errorf("the ARF leaks %v", leaks)
	}
	full := append([]byte("From: feedback@node.example\r\nTo: fbl@shop.example\r\n"), raw...)
	items, err := intake.Extract(full, intake.Via{})
	if err != nil || len(items) != 1 || items[0].Form != intake.FormARF || items[0].Feedback["Feedback-Type"] != "abuse" ||
		!strings.HasPrefix(items[0].Feedback["Original-Rcpt-To"], "<redacted-") || !strings.HasSuffix(items[0].Feedback["Original-Rcpt-To"], "@example.net>") ||
		items[0].Feedback["Reported-Domain"] != "shop.example" {
		t.Fatalf("the ARF read back: %v %+v", err, items)
	}
	if m := mail.ParseBytes(items[0].Raw, mail.DefaultLimits()); m.Header.Get("Subject") != "Winter sale" {
		t.Errorf("the reported message in the ARF: %q", m.Header.Get("Subject"))
	}

	// Again: nothing new; the same report twice is one complaint and one mail.
	if n, _ := r.p.Process(ctx); n != 0 {
		t.Errorf("second pass: %d", n)
	}
	if _, err := r.p.Report(ctx, c.ReportID); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.SenderComplaints(ctx, "shop.example", 10); len(cs) != 1 || len(mb.sent) != 1 {
		t.Errorf("a report fed back twice: %d complaints, %d mails", len(cs), len(mb.sent))
	}
	// The same message reported by five others: recorded, counted once.
	for _, who := range []string{"m1@evil.example", "m2@evil.example", "m3@evil.example", "m4@evil.example", "m5@evil.example"} {
		if c, ok := r.complain(t, who, "spf", arfOf(who, "bob@example.net", msg)); !ok || !c.Counted() {
			t.Fatalf("a repeat report: %+v", c)
		}
	}
	if st, _ := svc.Standing(ctx, "shop.example"); st.Complaints != 1 {
		t.Errorf("one message reported six times counts %d times", st.Complaints)
	}
	if camps, _ := s.SenderCampaigns(ctx, "shop.example"); camps[0].Complaints != 1 {
		t.Errorf("one message reported six times counts %d times in its campaign", camps[0].Complaints)
	}
	// The same message with a DKIM-Signature of the reporter's making
	// prepended, naming the sender's d= (a new b= each time), reported
	// by mail and anonymously: the bogus signature fails and names
	// nothing; the one that verifies keys the message, which still counts
	// once and is not forwarded again.
	for i, who := range []string{"n1@evil.example", "n2@evil.example", ""} {
		bogus := "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=shop.example; s=s1; h=from; bh=AAAA; b=Zm9yZ2Vk" + strconv.Itoa(i) + "\r\n" + msg
		if who == "" {
			if _, err := r.d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(bogus)}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.p.Process(ctx); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if c, ok := r.complain(t, who, "spf", arfOf(who, "bob@example.net", bogus)); !ok || !c.Counted() || !c.Flagged(consent.FlagRepeat) {
			t.Fatalf("a report with a prepended bogus signature: %v %+v", ok, c)
		}
	}
	if st, _ := svc.Standing(ctx, "shop.example"); st.Complaints != 1 || len(mb.sent) != 1 {
		t.Errorf("a prepended bogus DKIM-Signature made one message count %d times (%d mails)", st.Complaints, len(mb.sent))
	}

	// A complaint tied only by an unverifiable DKIM signature (a domain
	// whose key the resolver does not have) is recorded, not counted,
	// not forwarded, and suppresses no one.
	dk := "DKIM-Signature: v=1; a=rsa-sha256; d=mail.shop.example; s=s1; h=from; bh=x; b=x\r\nFrom: news@shop.example\r\nTo: carol@example.net\r\n" +
		"Subject: Sale\r\n\r\nBuy now\r\n"
	rec2, err := r.d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(dk)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.p.Process(ctx); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.ComplaintsByReport(ctx, rec2.Reports[0].ID); len(cs) != 0 {
		t.Errorf("a failing signature tied the complaint: %+v", cs)
	}
	if st, _ := svc.Standing(ctx, "shop.example"); st.Complaints != 1 || len(mb.sent) != 1 {
		t.Errorf("a complaint with a failing signature counted or was forwarded: %+v, %d mails", st, len(mb.sent))
	}
}

// feedbackForgedRecipient: an ARF's Original-Rcpt-To is the reporter's
// word. Mallory reports the sender's genuine message to herself, naming
// Alice: Alice stays subscribed and her records stand; an unauthenticated
// reporter names no one.
func feedbackForgedRecipient(t *testing.T, s Store) {
	r := newFBLRig(t, s)
	r.consent(t, "alice@example.net")
	r.consent(t, "mallory@evil.example")
	l := r.link(t, "mallory@evil.example")
	msg := shopMail(t, "Shop <news@shop.example>", "mallory@evil.example", l.ListUnsubscribe, "Our winter sale.\r\n", r.clk.now())
	c, ok := r.complain(t, "mallory@evil.example", "spf", arfOf("mallory@evil.example", "alice@example.net", msg))
	if !ok || !c.Counted() {
		t.Fatalf("mallory's complaint: %+v", c)
	}
	alice, _ := r.svc.Hash("shop.example", "alice@example.net")
	if r.suppressed("alice@example.net") || r.status(t, "alice@example.net") != string(consent.RecordActive) || c.Recipient == alice {
		t.Errorf("a forged Original-Rcpt-To unsubscribed alice: %+v", c)
	}
	if !r.suppressed("mallory@evil.example") {
		t.Errorf("the real complainant was not suppressed")
	}
	// A reporter whose address the node could not authenticate names no
	// one, whatever the report says.
	r.consent(t, "dave@example.net")
	ld := r.link(t, "dave@example.net")
	msg2 := shopMail(t, "Shop <news@shop.example>", "dave@example.net", ld.ListUnsubscribe, "Our winter sale, again.\r\n", r.clk.now())
	c, ok = r.complain(t, "dave@example.net", "", arfOf("dave@example.net", "dave@example.net", msg2))
	if !ok || c.Recipient != "" || c.ConsentOnRecord || r.suppressed("dave@example.net") || r.status(t, "dave@example.net") != string(consent.RecordActive) {
		t.Errorf("an unauthenticated reporter unsubscribed dave: %+v", c)
	}
}

// feedbackTokenOfAnother: a sender that puts a seed's token into mail to
// someone who never consented gets no "consent on record" from it: the
// complainant is suppressed and the complaint flagged for the authority;
// the seed is not touched.
func feedbackTokenOfAnother(t *testing.T, s Store) {
	r := newFBLRig(t, s)
	r.consent(t, "seed@shop-staff.example")
	l := r.link(t, "seed@shop-staff.example")
	msg := shopMail(t, "Shop <news@shop.example>", "carl@example.com", l.ListUnsubscribe, "Buy our coats.\r\n", r.clk.now())
	fwd := "From: carl@example.com\r\nTo: complaints@node.example\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nI never asked\r\n--b\r\n" +
		"Content-Type: message/rfc822\r\n\r\n" + msg + "\r\n--b--\r\n"
	c, ok := r.complain(t, "carl@example.com", "dkim", []byte(fwd))
	carl, _ := r.svc.Hash("shop.example", "carl@example.com")
	seed, _ := r.svc.Hash("shop.example", "seed@shop-staff.example")
	if !ok || c.ConsentOnRecord || c.Recipient != carl || c.TokenRecipient != seed || !c.Flagged(consent.FlagTokenOfAnotherRecipient) || !c.Counted() {
		t.Fatalf("carl's complaint: %+v", c)
	}
	if !r.suppressed("carl@example.com") || r.suppressed("seed@shop-staff.example") || r.status(t, "seed@shop-staff.example") != string(consent.RecordActive) {
		t.Errorf("carl suppressed %v, the seed suppressed %v", r.suppressed("carl@example.com"), r.suppressed("seed@shop-staff.example"))
	}
	if len(r.mb.sent) != 1 || bytes.Contains(r.mb.sent[0].Raw, []byte("Consent on record: yes")) {
		t.Errorf("the ARF: %d mails", len(r.mb.sent))
	}
}

// feedbackCopiedToken: a sender's token copied into someone else's
// unsigned spam frames no one: recorded for the authority, not counted,
// not mailed to the sender, nobody suppressed.
func feedbackCopiedToken(t *testing.T, s Store) {
	r := newFBLRig(t, s)
	r.consent(t, "seed@shop-staff.example")
	l := r.link(t, "seed@shop-staff.example")
	for i, who := range []string{"p1@example.org", "p2@example.org", "p3@example.org"} {
		msg := shopMail(t, "Pills <pills@evil.example>", who, l.ListUnsubscribe, "Cheap pills, offer "+string(rune('a'+i))+".\r\n", r.clk.now())
		c, ok := r.complain(t, who, "spf", []byte("From: "+who+"\r\nTo: complaints@node.example\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"+msg+"\r\n--b--\r\n"))
		if !ok || c.How != consent.HowTokenUnverified || c.Counted() || c.Forwarded != "" {
			t.Fatalf("a copied token: %+v", c)
		}
		if r.suppressed(who) || r.suppressed("seed@shop-staff.example") {
			t.Errorf("a copied token suppressed someone")
		}
	}
	if st, _ := r.svc.Standing(r.ctx, "shop.example"); st.Complaints != 0 || len(r.mb.sent) != 0 {
		t.Errorf("copied tokens framed the sender: %+v, %d mails", st, len(r.mb.sent))
	}
}

// feedbackBackdated: a sender that keeps mailing past an opt-out's
// deadline and backdates the message's Date before the opt-out does not
// clear itself: the complaint's send time is when the recipient's side
// received the message (its Received field), so it is flagged sent after
// the deadline, without consent on record.
func feedbackBackdated(t *testing.T, s Store) {
	r := newFBLRig(t, s)
	r.consent(t, "ann@example.net")
	l := r.link(t, "ann@example.net")
	optOut := r.clk.now()
	if _, err := r.svc.Unsubscribe(r.ctx, l.Token, consent.ViaOneClick, false, consent.Client{}); err != nil {
		t.Fatal(err)
	}
	r.clk.add(10 * 24 * time.Hour) // past every deadline
	delivered := r.clk.now().Add(-time.Hour)
	msg := shopMail(t, "Shop <news@shop.example>", "Ann <ann@example.net>", l.ListUnsubscribe,
		"Our winter sale starts today. Unsubscribe: "+l.URL+"\r\n", optOut.Add(-24*time.Hour)) // Date: the day before the opt-out
	msg = "Received: from mail.shop.example (mail.shop.example [192.0.2.25]) by mx.isp.example (Postfix) with ESMTPS id 4Xk2; " +
		delivered.Format(time.RFC1123Z) + "\r\n" + msg
	c, ok := r.complain(t, "fbl@isp.example", "spf", arfOf("fbl@isp.example", "ann@example.net", msg))
	if !ok || !c.AfterOptOut || c.ConsentOnRecord {
		t.Fatalf("complaint about a backdated message sent after the opt-out's deadline: %+v", c)
	}
}
