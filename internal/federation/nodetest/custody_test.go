package nodetest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestCustodyCoversMarkingsTermsAndWithdrawals is the attack review's
// insider at the receiving node: evidence received at AMBER+STRICT made
// TLP:CLEAR and not personal, terms widened to onward sharing, an expiry
// removed, a withdrawn item shown as standing again, a withdrawn item kept
// past the days its withdrawal allowed, a standing one deleted as if
// purged — `custody verify` said OK to all of it. Each is found now.
func TestCustodyCoversMarkingsTermsAndWithdrawals(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	keep := "keep_withdrawn_days = 30\n"
	fr.know(t, us, "US", frUS+keep)
	us.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-us.example", "Cheap meds", pharma, 1), "a@example.fr")
	fr.file(t, spam("12.0.0.2", "deals@pharma-us.example", "Cheap meds", pharma, 2), "b@example.fr")
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	// Narrowed: the evidence is withdrawn, kept 30 days.
	setAgreement(t, fr, "us", strings.Replace(strings.Replace(frUS, `"reports", "evidence"]`, `"reports"]`, 1), "version = 1", "version = 2", 1)+keep)
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	verify := func() []string {
		t.Helper()
		rep, err := us.svc.VerifyCustody(ctx, "fr")
		if err != nil {
			t.Fatal(err)
		}
		return rep.Problems
	}
	if p := verify(); len(p) > 0 {
		t.Fatalf("custody before any tampering: %v", p)
	}
	first := func(like string, extra string) string {
		t.Helper()
		var k string
		if err := us.store.DB().QueryRow(`SELECT item_key FROM fed_received WHERE peer = 'fr' AND item_key LIKE ? `+extra+` ORDER BY item_key LIMIT 1`, like).Scan(&k); err != nil {
			t.Fatalf("%s: %v", like, err)
		}
		return k
	}
	exec := func(q, key string) {
		t.Helper()
		if _, err := us.store.DB().Exec(q, key); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rep, camp, ind, ev := first("rep:%", ""), first("camp:%", ""), first("ind:%", ""), first("ev:%", "AND withdrawn_at <> 0")
	// The re-review's: a received item deleted, a fake withdrawal mark.
	gone, fake := first("ind:%", "AND item_key <> '"+ind+"'"), first("rep:%", "AND item_key <> '"+rep+"'")
	exec(`DELETE FROM fed_received WHERE item_key = ?`, gone)
	exec(`UPDATE fed_received SET withdrawn_at = 1, withdrawn_why = 'fake' WHERE item_key = ?`, fake)
	exec(`UPDATE fed_received SET item = json_set(item, '$.tlp', 'clear', '$.personal_data', json('false')) WHERE item_key = ?`, rep)
	exec(`UPDATE fed_received SET terms = json_set(terms, '$.onward_sharing', json('true')) WHERE item_key = ?`, camp)
	exec(`UPDATE fed_received SET expires_at = 0 WHERE item_key = ?`, ind)
	exec(`UPDATE fed_received SET withdrawn_at = 0 WHERE item_key = ?`, ev)
	// A withdrawn item kept 300 days past its 30 (its withdrawal time
	// moved with its expiry), and a standing one deleted as if purged.
	kept := first("ev:%", "AND withdrawn_at <> 0 AND item_key <> '"+ev+"'")
	purged := first("ind:%", "AND item_key NOT IN ('"+ind+"', '"+gone+"')")
	exec(`UPDATE fed_received SET expires_at = expires_at + 25920000000000000, withdrawn_at = withdrawn_at + 25920000000000000 WHERE item_key = ?`, kept)
	exec(`UPDATE fed_received SET purged_at = received_at + 1000000000, item = json_set(item, '$.body', json('null')) WHERE item_key = ?`, purged)
	got := strings.Join(verify(), "\n")
	for what, want := range map[string]string{
		"TLP and personal-data flag changed": "received item " + rep + ": its hash",
		"terms widened":                      "received item " + camp + ": its hash",
		"expiry removed":                     "received item " + ind + ": kept without expiry",
		"withdrawal undone":                  "received item " + ev + ": withdrawn by envelope 2",
		"item deleted":                       "received item " + gone + ": envelope 1 brought it, yet it is neither",
		"fake withdrawal":                    "received item " + fake + ": shown as withdrawn, but no logged withdrawal",
		"kept past its withdrawal's terms":   "received item " + kept + ": kept until",
		"deleted as if purged":               "received item " + purged + ": marked purged at",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("%s: not found by custody verify:\n%s", what, got)
		}
	}
}
