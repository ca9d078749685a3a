package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/fbl"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/privacy"
)

// feedbackLoop: a complaint about a registered sender's message is fed
// back once — recorded with "consent on record", the recipient suppressed,
// the campaign's rate counted, an ARF queued with the recipient redacted —
// and a report of unrelated spam is not.
func feedbackLoop(t *testing.T, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: clock}
	mb := &mailbox{}
	svc := consentService(t, s, mb, clk)
	d := desk(t, s)
	p := fbl.New()
	p.Store, p.Reports, p.Consent, p.Mailer, p.Node = s, s, svc, mb, "test node"

	// A report before the loop's first run is not fed back.
	if _, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: spam(1)}); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Process(ctx); err != nil || n != 0 {
		t.Fatalf("first run: %d %v", n, err)
	}

	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example", FeedbackTo: "fbl@shop.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: "bob@example.net", List: "news", Basis: consent.BasisConsent,
		Capture: consent.Capture{Method: "form", ObtainedAt: clk.now().Add(-48 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	links, err := svc.Links(ctx, "shop.example", "news", "dec", []string{"bob@example.net"})
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: Shop <news@shop.example>\r\nTo: Bob <bob@example.net>\r\nSubject: Winter sale\r\nDate: " + clk.now().Format(time.RFC1123Z) + "\r\n" +
		"Return-Path: <bounce@shop.example>\r\nList-Unsubscribe: " + links[0].ListUnsubscribe + "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n" +
		"Dear bob@example.net, our winter sale starts today. Unsubscribe: " + links[0].URL + "\r\n"
	// Bob's mail provider sends an ARF report.
	arf := "From: fbl@isp.example\r\nTo: abuse@node.example\r\nSubject: FW: Winter sale\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nabuse report\r\n" +
		"--x\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: isp\r\nVersion: 1\r\nOriginal-Rcpt-To: bob@example.net\r\n\r\n" +
		"--x\r\nContent-Type: message/rfc822\r\n\r\n" + msg + "\r\n--x--\r\n"
	rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: []byte(arf), Reporter: "fbl@isp.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: spam(2)}); err != nil {
		t.Fatal(err)
	}
	n, err := p.Process(ctx)
	if err != nil || n != 1 {
		t.Fatalf("process: %d %v", n, err)
	}
	cs, _ := s.ComplaintsByReport(ctx, rec.Reports[0].ID)
	if len(cs) != 1 || cs[0].How != consent.HowToken || !cs[0].ConsentOnRecord || cs[0].List != "news" || cs[0].Campaign != "dec" || cs[0].Forwarded == "" {
		t.Fatalf("complaint = %+v", cs)
	}
	bob, _ := svc.Hash("shop.example", "bob@example.net")
	if sup, _ := s.Suppressed(ctx, "shop.example", bob); len(sup) != 1 || sup[0].List != "" || sup[0].Reason != consent.ViaComplaint {
		t.Errorf("bob after his complaint: %+v", sup)
	}
	camps, _ := s.SenderCampaigns(ctx, "shop.example")
	if len(camps) != 1 || camps[0].Complaints != 1 {
		t.Errorf("campaign = %+v", camps)
	}
	if st, _ := svc.Standing(ctx, "shop.example"); st.Complaints != 1 || st.Rate != 1 || st.Good {
		t.Errorf("standing after one complaint in one message: %+v", st)
	}

	// The ARF: to the sender's feedback address, parseable as ARF by the
	// desk's own reader, and without the recipient's address or token.
	if len(mb.sent) != 1 || mb.sent[0].To != "fbl@shop.example" || mb.sent[0].Kind != "fbl-report" {
		t.Fatalf("mail = %+v", mb.sent)
	}
	raw := mb.sent[0].Raw
	for _, secret := range []string{"bob@example.net", links[0].Token} {
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
		!strings.HasPrefix(items[0].Feedback["Original-Rcpt-To"], "<redacted-"+bob[:16]+"@example.net") || items[0].Feedback["Reported-Domain"] != "shop.example" {
		t.Fatalf("the ARF read back: %v %+v", err, items)
	}
	if m := mail.ParseBytes(items[0].Raw, mail.DefaultLimits()); m.Header.Get("Subject") != "Winter sale" {
		t.Errorf("the reported message in the ARF: %q", m.Header.Get("Subject"))
	}

	// Again: nothing new; the same report twice is one complaint and one mail.
	if n, _ := p.Process(ctx); n != 0 {
		t.Errorf("second pass: %d", n)
	}
	if _, err := p.Report(ctx, rec.Reports[0].ID); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.SenderComplaints(ctx, "shop.example", 10); len(cs) != 1 || len(mb.sent) != 1 {
		t.Errorf("a report fed back twice: %d complaints, %d mails", len(cs), len(mb.sent))
	}

	// A complaint tied only by an unverifiable DKIM signature is forwarded
	// but does not count.
	dk := "DKIM-Signature: v=1; a=rsa-sha256; d=mail.shop.example; s=s1; h=from; bh=x; b=x\r\nFrom: news@shop.example\r\nTo: carol@example.net\r\n" +
		"Subject: Sale\r\n\r\nBuy now\r\n"
	rec2, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(dk)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.Process(ctx); err != nil || n != 1 {
		t.Fatalf("a subdomain's signature: %d %v", n, err)
	}
	cs, _ = s.ComplaintsByReport(ctx, rec2.Reports[0].ID)
	if len(cs) != 1 || cs[0].How != consent.HowDKIMUnverified || cs[0].Counted() || len(mb.sent) != 2 {
		t.Errorf("unverified DKIM complaint: %+v", cs)
	}
	if st, _ := svc.Standing(ctx, "shop.example"); st.Complaints != 1 {
		t.Errorf("an unverified complaint counted: %+v", st)
	}
	carol, _ := svc.Hash("shop.example", "carol@example.net")
	if sup, _ := s.Suppressed(ctx, "shop.example", carol); len(sup) != 1 {
		t.Errorf("carol after her complaint: %+v", sup)
	}
}
