package nodetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// TestMergedCampaignWithdrawn: a partner holds two campaigns' items; a
// report bridging the two merges them at the sender, and the next round
// withdraws the merged campaign's item (the existing withdrawal) and sends
// the survivor's again with every report: the partner does not keep two.
func TestMergedCampaignWithdrawn(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	// Short texts: grouped by their link domain.
	a := fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Meds", "Cheap meds at http://pharma-us.example/order", 1), "alice@example.fr")
	c.Add(time.Second) // a's campaign is the older: it survives the merge
	b := fr.file(t, spam("12.0.0.2", "win@lotto-us.example", "Prize", "Claim your prize at http://lotto-us.example/claim", 2), "bob@example.fr")
	if a.CampaignID == b.CampaignID {
		t.Fatalf("two unrelated short spam in one campaign %s", a.CampaignID)
	}
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	standing := func() map[string]federation.ReceivedItem {
		got, err := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]federation.ReceivedItem{}
		for _, it := range got {
			if strings.HasPrefix(it.Item.Key, "camp:") && it.Withdrawn.IsZero() {
				out[it.Item.Key] = it
			}
		}
		return out
	}
	if got := standing(); len(got) != 2 {
		t.Fatalf("US holds %d campaigns before the merge, want 2", len(got))
	}
	c.Add(time.Minute)
	bridge := fr.file(t, spam("12.0.0.3", "deals@pharma-mailer.example", "Meds and a prize", "Meds at http://pharma-us.example/o and a prize at http://lotto-us.example/c", 3), "carol@example.fr")
	older, younger := a.CampaignID, b.CampaignID
	if bridge.CampaignID != older {
		t.Fatalf("the bridge joined %s, want the oldest %s", bridge.CampaignID, older)
	}
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	got := standing()
	if len(got) != 1 {
		t.Fatalf("US holds %d campaigns after the merge, want 1: %v", len(got), got)
	}
	it, ok := got["camp:"+older]
	if !ok || !strings.Contains(string(it.Item.Body), `"reports":3`) {
		t.Errorf("the survivor's item: %v %s", ok, it.Item.Body)
	}
	all, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"})
	withdrawn := false
	for _, it := range all {
		if it.Item.Key == "camp:"+younger && !it.Withdrawn.IsZero() {
			withdrawn = true
		}
	}
	if !withdrawn {
		t.Errorf("the merged campaign %s was not withdrawn: %v", younger, fmt.Sprint(keys(all)))
	}
}
