//go:build !race

package nodetest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/stix"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// TestCorpusStageLargeCampaignsFlowCompletely: 101 campaigns of 101
// reports each (10,201 reports) flow completely — every campaign, report
// and indicator the agreement allows reaches the partner, the statistics
// count every whole quantum of 5 reports (10,200, by origin), and the TAXII collection holds every campaign (no
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
	// The statistics count the oldest reports in whole quanta of 5 (the
	// agreement's min_aggregate): 10,200 of the 10,201, the newest waiting
	// for its batch. Report i of campaign c came (c·n+i) seconds in, from
	// the campaign's origin, so the counted cells are known beforehand.
	counted := n * n / 5 * 5
	wantCells, g := map[string]int{}, geo.Embedded()
	for c := 0; c*n < counted; c++ {
		wantCells[g.Country(netip.MustParseAddr(fmt.Sprintf(scaleOrigins[c%len(scaleOrigins)], 1+c%200, 1)))] += min(n, counted-c*n)
	}
	stats, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr", Kind: federation.KindStatistics})
	if len(stats) != 1 {
		t.Fatalf("US holds %d statistics items", len(stats))
	}
	var sb federation.StatsBody
	json.Unmarshal(stats[0].Item.Body, &sb)
	gotCells := map[string]int{}
	for _, c := range sb.ByOrigin {
		gotCells[c.Value] = c.N
	}
	if sb.Reports == nil || *sb.Reports != counted || sb.Campaigns == nil || *sb.Campaigns != n || !maps.Equal(gotCells, wantCells) {
		t.Errorf("statistics: %s; want %d reports, %d campaigns, %v", stats[0].Item.Body, counted, n, wantCells)
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
