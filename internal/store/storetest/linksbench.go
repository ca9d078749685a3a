package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
)

// LinksBatch benchmarks one POST /api/v1/unsubscribe-links of
// consent.MaxLinks (1,000) recipients the node knows — half with a record
// on the list, one in ten opted out of all the sender's mail — and
// reports the cost per link (ns/link).
func LinksBatch(b *testing.B, s Store) {
	ctx := context.Background()
	clk := &consentClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := consentService(b, s, nil, clk)
	if _, err := svc.AddSender(ctx, consent.Sender{ID: "shop.example", Contact: "dpo@shop.example"}); err != nil {
		b.Fatal(err)
	}
	addrs := make([]string, consent.MaxLinks)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user.%04d+news@%s", i, []string{"gmail.com", "posteo.de", "web.de", "mail.fr"}[i%4])
		switch {
		case i%10 == 0:
			if _, _, err := svc.Withdraw(ctx, "shop.example", addrs[i], "", ""); err != nil {
				b.Fatal(err)
			}
		case i%2 == 0:
			if _, err := svc.Record(ctx, "shop.example", consent.RecordInput{Recipient: addrs[i], List: "news", Basis: consent.BasisConsent,
				Capture: consent.Capture{Method: "form"}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	// The node has seen every recipient once: what is measured is the
	// steady state of a sender mailing its list.
	if _, err := svc.Links(ctx, "shop.example", "news", "warm", addrs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		links, err := svc.Links(ctx, "shop.example", "news", fmt.Sprintf("c%d", i), addrs)
		if err != nil {
			b.Fatal(err)
		}
		if !links[0].Suppressed || links[1].Suppressed || links[1].ConsentOnRecord || !links[2].ConsentOnRecord {
			b.Fatalf("links: %+v", links[:3])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(addrs)), "ns/link")
}
