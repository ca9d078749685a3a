//go:build !race

package nodetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/stix"
)

// TestCorpusStageLargeCampaignsFlowCompletely: 101 campaigns of 101
// reports each (10,201 reports) flow completely — every campaign, report
// and indicator the agreement allows reaches the partner, the statistics
// count every report, and the TAXII collection holds every campaign (no
// list is cut at 100 anywhere). It runs in the corpus stage of test.sh,
// without the race detector, for its size.
func TestCorpusStageLargeCampaignsFlowCompletely(t *testing.T) {
	if testing.Short() {
		t.Skip("10,201 reports")
	}
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", fmt.Sprintf(scaleAgreement, "us"))
	us.know(t, fr, "FR", back)
	start := time.Now()
	n := 101
	if s := os.Getenv("ACCORD_LARGE_N"); s != "" {
		fmt.Sscan(s, &n)
	}
	fill(t, fr, n, n)
	t.Logf("stored in %s", time.Since(start))
	c.Add(time.Hour)
	stored := time.Since(start)
	want := allowed(t, fr, "us")
	camps, reps := 0, 0
	for _, k := range want {
		switch {
		case strings.HasPrefix(k, "camp:"):
			camps++
		case strings.HasPrefix(k, "rep:"):
			reps++
		}
	}
	if camps != n || reps != n*n {
		t.Fatalf("the preview allows %d campaigns and %d reports", camps, reps)
	}
	start = time.Now()
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil {
		t.Fatal(err)
	}
	synced := time.Since(start)
	got := held(t, us, "fr")
	if len(got) != len(want) {
		t.Fatalf("US holds %d items, the agreement allows %d (%v)", len(got), len(want), res)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("item %d: US holds %s, allowed %s", i, got[i], want[i])
		}
	}
	stats, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr", Kind: federation.KindStatistics})
	if len(stats) != 1 || !strings.Contains(string(stats[0].Item.Body), fmt.Sprintf(`"reports":%d`, n*n)) || !strings.Contains(string(stats[0].Item.Body), fmt.Sprintf(`"campaigns":%d`, n)) {
		t.Errorf("statistics: %s", stats[0].Item.Body)
	}
	// Every campaign in US's TAXII collection.
	_, srv := taxiiServer(t, fr, c)
	tok := token(t, fr, access.Peer, "us")
	start = time.Now()
	r := taxiiGet(t, srv+"/taxii2/api/collections/"+collectionOf(t, fr, "us")+"/objects/?match[type]=campaign&limit=1000", tok, stix.TAXIIMedia)
	if objs, _ := r.body["objects"].([]any); r.status != 200 || len(objs) != n {
		t.Errorf("the collection holds %d campaigns (%d)", len(objs), r.status)
	}
	published := time.Since(start)
	t.Logf("%d reports stored in %s; %d items synced in %s (%d envelopes); collection published in %s; %d items", n*n, stored.Round(time.Millisecond),
		res.Items, synced.Round(time.Millisecond), res.Envelopes, published.Round(time.Millisecond), len(want))
	a, _ := fr.svc.VerifyCustody(ctx, "us")
	bb, _ := us.svc.VerifyCustody(ctx, "fr")
	if len(a.Problems)+len(bb.Problems) > 0 || a.Out.Root != bb.In.Root {
		t.Errorf("custody: %v %v", a.Problems, bb.Problems)
	}
}
