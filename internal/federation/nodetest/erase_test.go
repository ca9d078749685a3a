package nodetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/stix"
)

// TestErasureWithdrawsTheReport: after a reporter erases a report, the
// partner that received it gets a signed withdrawal of its report and
// evidence items (not hollow new versions it keeps as held), a peer
// added later receives nothing of it, and the TAXII collection stops
// serving it on the next page — with no new report to move the change
// check, and under serve's schedule or without it. Before, the report
// and evidence went again emptied, stayed held, went to new peers, and
// the collection served the original until another report came (tenth
// review, findings 3 and 5).
func TestErasureWithdrawsTheReport(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", strings.Replace(frUS, `["US"]`, `["*"]`, 1))
	us.know(t, fr, "FR", back)
	gone := fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "alice@example.fr")
	fr.file(t, spam("12.0.0.2", "deals@pharma-mailer.example", "Cheap meds", pharma, 2), "bob@example.fr")
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	of := func(n *node, peer string) map[string]federation.ReceivedItem {
		t.Helper()
		items, err := n.store.Received(ctx, federation.ReceivedFilter{Peer: peer})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]federation.ReceivedItem{}
		for _, it := range items {
			if strings.HasSuffix(it.Item.Key, ":"+gone.ID) {
				m[it.Item.Key] = it
			}
		}
		return m
	}
	held := of(us, "fr")
	if held["rep:"+gone.ID].Status() != "held" || held["ev:"+gone.ID].Status() != "held" {
		t.Fatalf("before the erasure US holds %v", held)
	}
	_, srv := taxiiServer(t, fr, c)
	tok := token(t, fr, access.Authority, "ana")
	serves := func() bool {
		t.Helper()
		r := taxiiGet(t, srv+"/taxii2/api/collections/"+collectionOf(t, fr, "us")+"/objects/?limit=1000&match[type]=report", tok, stix.TAXIIMedia)
		if r.status != 200 {
			t.Fatalf("page: %d %s", r.status, r.raw)
		}
		return strings.Contains(string(r.raw), gone.ID)
	}
	if !serves() {
		t.Fatal("the collection does not serve the report before its erasure")
	}

	if _, err := fr.desk.Erase(ctx, gone.ID, gone.StatusToken); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	// No round has run: the next page alone drops it.
	if serves() {
		t.Error("the collection still serves the erased report")
	}
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil {
		t.Fatal(err)
	}
	after := of(us, "fr")
	for _, k := range []string{"rep:" + gone.ID, "ev:" + gone.ID} {
		it, ok := after[k]
		if !ok || it.Withdrawn.IsZero() || len(it.Item.Body) != 0 {
			t.Errorf("%s at US after the erasure: %s, withdrawn %v, body %d bytes", k, it.Status(), it.Withdrawn, len(it.Item.Body))
		}
	}
	if res.Withdrawn < 2 {
		t.Errorf("the round after the erasure: %+v", res)
	}
	// A peer added later receives nothing of it.
	au := newNode(t, c, "au", "AU")
	fr.know(t, au, "AU", strings.NewReplacer(`"us"`, `"au"`, `["US"]`, `["*"]`).Replace(frUS))
	au.know(t, fr, "FR", back)
	if _, err := fr.svc.Sync(ctx, "au"); err != nil {
		t.Fatal(err)
	}
	if got := of(au, "fr"); len(got) != 0 {
		t.Errorf("a new peer received %d items of the erased report", len(got))
	}
	if all, _ := au.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"}); len(all) == 0 {
		t.Error("the new peer received nothing at all: the test shows nothing")
	}
}
