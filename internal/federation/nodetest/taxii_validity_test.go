package nodetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation/stix"
)

// TestTAXIIFollowsTheAgreementsValidity: a collection serves nothing of
// the shared set (but revoked versions of what left) before the agreement's valid_from nor from the end of
// its valid_until, with nothing else changed — no report, no round, no
// peer or agreement change (a TAXII-only partner under sync_interval =
// "0s"). The collection was recomputed only when something stored
// changed, so it kept serving an expired agreement's objects (tenth
// review, finding 4).
func TestTAXIIFollowsTheAgreementsValidity(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 2, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", fmt.Sprintf(scaleAgreement, "us")+"valid_from = \"2026-11-03\"\nvalid_until = \"2026-11-03\"\n")
	us.know(t, fr, "FR", back)
	fill(t, fr, 3, 5)
	_, srv := taxiiServer(t, fr, c)
	tok := token(t, fr, access.Peer, "us")
	shared := func() (n int) {
		t.Helper()
		r := taxiiGet(t, srv+"/taxii2/api/collections/"+collectionOf(t, fr, "us")+"/objects/?limit=1000", tok, stix.TAXIIMedia)
		if r.status != 200 {
			t.Fatalf("page: %d %s", r.status, r.raw)
		}
		objs, _ := r.body["objects"].([]any)
		for _, o := range objs {
			switch typ := o.(map[string]any)["type"]; typ {
			case "identity", "marking-definition", "extension-definition":
			default:
				if o.(map[string]any)["revoked"] != true {
					n++
				}
			}
		}
		return n
	}
	if n := shared(); n != 0 {
		t.Errorf("the day before valid_from: %d objects of the shared set served", n)
	}
	c.Add(24 * time.Hour) // 2026-11-03 10:05: in force.
	if n := shared(); n == 0 {
		t.Fatal("while the agreement is in force: nothing served")
	}
	c.Add(14 * time.Hour) // 2026-11-04 00:05: valid_until's day has ended.
	if n := shared(); n != 0 {
		t.Errorf("after valid_until: %d objects still served", n)
	}
}
