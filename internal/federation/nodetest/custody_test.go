package nodetest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
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
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	fr.file(t, spam("12.0.0.2", "deals@pharma-mailer.example", "Cheap meds", pharma, 2), "b@example.fr")
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

// TestCustodyCoversAssistance is the fifth attack review's finding 5:
// the link's custody log holds the hash of every assistance message, yet
// custody verify never looked at the requests — a CPC deadline moved by
// 300 days (never OVERDUE), an acceptance turned into a refusal, the
// subject changed, a step deleted, the whole request deleted: all
// verified OK. Each is found now, on either side; and steps stored
// before messages were kept still verify, by the message rebuilt from
// what is stored.
func TestCustodyCoversAssistance(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	req, err := fr.svc.NewRequest(ctx, "us", federation.TypeInformation, "Who operates pharma-us.example?", "Subscriber data, please.", "", "", "ana")
	if err != nil {
		t.Fatal(err)
	}
	sync := func(from *node, to string) {
		t.Helper()
		c.Add(time.Minute)
		if _, err := from.svc.Sync(ctx, to); err != nil {
			t.Fatalf("%s → %s: %v", from.name, to, err)
		}
	}
	sync(fr, "us") // The request; US acknowledges it at once.
	sync(us, "fr") // The acknowledgement.
	if _, err := us.svc.Transition(ctx, req.ID, federation.ActAccept, "on it", "bob"); err != nil {
		t.Fatal(err)
	}
	sync(us, "fr")
	// One step not sent yet: US's answer waits in its outbox.
	if _, err := us.svc.Transition(ctx, req.ID, federation.ActSupply, "Registrant: Example Pharma LLC.", "bob"); err != nil {
		t.Fatal(err)
	}
	verify := func(n *node, peer string) federation.CustodyReport {
		t.Helper()
		rep, err := n.svc.VerifyCustody(ctx, peer)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	for _, x := range []struct {
		n    *node
		peer string
	}{{fr, "us"}, {us, "fr"}} {
		if rep := verify(x.n, x.peer); len(rep.Problems) > 0 || rep.Steps != map[string]int{"fr": 3, "us": 4}[x.n.name] || len(rep.Notes) > 0 {
			t.Fatalf("%s's custody before any tampering: %d steps, %v %v", x.n.name, rep.Steps, rep.Problems, rep.Notes)
		}
	}
	db := us.store.DB()
	snapshot := func() func() {
		t.Helper()
		rows := map[string][][]any{}
		for _, tab := range []string{"fed_requests", "fed_request_events", "fed_outbox"} {
			r, err := db.Query(`SELECT * FROM ` + tab)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := r.Columns()
			for r.Next() {
				v := make([]any, len(cols))
				p := make([]any, len(cols))
				for i := range v {
					p[i] = &v[i]
				}
				r.Scan(p...)
				rows[tab] = append(rows[tab], v)
			}
			r.Close()
		}
		return func() {
			for tab, rs := range rows {
				db.Exec(`DELETE FROM ` + tab)
				for _, v := range rs {
					db.Exec(`INSERT INTO `+tab+` VALUES (`+strings.TrimSuffix(strings.Repeat("?,", len(v)), ",")+`)`, v...)
				}
			}
		}
	}
	restore := snapshot()
	tamper := func(what string, want []string, qs ...string) {
		t.Helper()
		defer restore()
		for _, q := range qs {
			if _, err := db.Exec(q, req.ID); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		got := strings.Join(verify(us, "fr").Problems, "\n")
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: custody verify does not say %q:\n%s", what, w, got)
			}
		}
	}
	// The review's edit: deadline +300 days, subject, state; a step
	// deleted, another rewritten.
	tamper("the review's edit", []string{
		"step 1 (create) is not the message it came as: the subject, the deadline differs",
		"envelope 2 sent its accept",
		"shown as refused, but its steps lead to",
		"step 2 (refuse) is not the message it went as: the action, the note differs",
	},
		`UPDATE fed_requests SET deadline = deadline + 300*86400000000000, subject = 'Nothing to see', state = 'refused' WHERE id = ?`,
		`DELETE FROM fed_request_events WHERE request = ? AND n = 2`,
		`UPDATE fed_request_events SET state = 'refused', action = 'refuse', note = 'not our case' WHERE request = ? AND n = 1`)
	tamper("the request deleted", []string{"assistance request " + req.ID + ": envelope 1 brought its create, but the request is gone",
		"its supply-information waits to be sent, but no stored step"},
		`DELETE FROM fed_requests WHERE id = ?`, `DELETE FROM fed_request_events WHERE request = ?`)
	tamper("the request moved to another peer", []string{"but the request is gone"}, `UPDATE fed_requests SET peer = 'de' WHERE id = ?`)
	tamper("the role swapped", []string{"is logged as"}, `UPDATE fed_requests SET role = 'requester' WHERE id = ?`)
	tamper("a step added", []string{"step 5 (close, ", "neither in the link's custody log nor waiting"},
		`INSERT INTO fed_request_events SELECT request, 4, at, 'close', 'closed', 'fr', '', '' FROM fed_request_events WHERE request = ? AND n = 3`,
		`UPDATE fed_requests SET state = 'closed' WHERE id = ?`)
	tamper("who acted", []string{"step 1 (create) came from fr, but is shown as taken by \"self\""}, `UPDATE fed_request_events SET by_whom = 'self' WHERE request = ? AND n = 0`)
	tamper("the queued answer rewritten", []string{"step 4 (supply-information) is not the message it went as: the note differs"},
		`UPDATE fed_request_events SET note = 'nothing found' WHERE request = ? AND n = 3`)
	tamper("a kept message removed", []string{"step 3 (accept) keeps no message, though a step logged before it"},
		`UPDATE fed_request_events SET msg = '' WHERE request = ? AND n = 2`)

	// Steps stored before messages were kept: rebuilt from what is
	// stored, they verify, on both sides; a change is still found where
	// the message can be rebuilt.
	for _, n := range []*node{fr, us} {
		if _, err := n.store.DB().Exec(`UPDATE fed_request_events SET msg = ''`); err != nil {
			t.Fatal(err)
		}
	}
	restore = snapshot()
	if rep := verify(us, "fr"); len(rep.Problems) > 0 || len(rep.Notes) > 0 {
		t.Errorf("US's steps stored before messages were kept: %v %v", rep.Problems, rep.Notes)
	}
	if rep := verify(fr, "us"); len(rep.Problems) > 0 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "2 assistance steps by us") {
		t.Errorf("FR's steps stored before messages were kept: %v %v", rep.Problems, rep.Notes)
	}
	tamper("an old request's deadline", []string{"step 1 (create) is not the message envelope 1 logged"},
		`UPDATE fed_requests SET deadline = deadline + 300*86400000000000 WHERE id = ?`)
	tamper("an old step's note", []string{"step 3 (accept) is not the message envelope 2 logged"},
		`UPDATE fed_request_events SET note = 'declined' WHERE request = ? AND n = 2`)
}

// TestCustodyCheckpointForgedUnderAnAddedKey is the fifth attack
// review's finding 4: the receiving node's insider adds a key row to
// the peer's keys (an unsigned table), re-signs an earlier checkpoint
// with it and a time 300 days later (countersigned with the node's own
// key, on the same disk), and moves that envelope's items by as much:
// the retention counted from the checkpoint's signed time then let them
// stay 300 days longer, and verify and compare both said OK. Now verify
// finds a checkpoint signed by another key than the packages it brought
// and a second active key; and compare — which the insider cannot forge,
// as the peer answers — finds the replaced checkpoint and the key the
// peer never had, even when the packages were re-signed too.
func TestCustodyCheckpointForgedUnderAnAddedKey(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	for i := 1; i <= 3; i++ {
		fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i), "deals@pharma-mailer.example", "Cheap meds", pharma, i), fmt.Sprintf("r%d@example.fr", i))
		c.Add(time.Hour)
		if _, err := fr.svc.Sync(ctx, "us"); err != nil {
			t.Fatal(err)
		}
	}
	// FR rotates its key: its key history has two keys, both genuine.
	_, frNew, _ := ed25519.GenerateKey(nil)
	fr.svc.Key = frNew
	if err := fr.svc.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := us.store.AddPeerKey(ctx, "fr", base64.StdEncoding.EncodeToString(frNew.Public().(ed25519.PublicKey)), c.Now()); err != nil {
		t.Fatal(err)
	}
	fr.file(t, spam("12.0.0.9", "deals@pharma-mailer.example", "Cheap meds", pharma, 9), "r9@example.fr")
	c.Add(time.Hour)
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	if rep, err := us.svc.VerifyCustody(ctx, "fr"); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("custody before the forgery: %v %v", rep.Problems, err)
	}
	for _, pair := range [][2]*node{{us, fr}, {fr, us}} {
		if cmp, err := pair[0].svc.CompareCustody(ctx, pair[1].name); err != nil || len(cmp.Problems)+len(cmp.Notes) > 0 {
			t.Fatalf("%s's compare before the forgery: %v %v %v", pair[0].name, cmp.Problems, cmp.Notes, err)
		}
	}

	db := us.store.DB()
	backup := filepath.Join(t.TempDir(), "before.db")
	if _, err := db.Exec(`VACUUM INTO ?`, backup); err != nil {
		t.Fatal(err)
	}
	// forge is forge.py: a key injected as FR's (status), checkpoint 2
	// re-signed by it 300 days later and countersigned by US's key, the
	// items of envelope 2 moved by as much; repack re-signs their
	// packages with the injected key too.
	forge := func(status string, repack bool) {
		t.Helper()
		_, fake, _ := ed25519.GenerateKey(nil)
		fakeKey := base64.StdEncoding.EncodeToString(fake.Public().(ed25519.PublicKey))
		var body string
		var rec int64
		if err := db.QueryRow(`SELECT body, recorded_at FROM fed_checkpoints WHERE peer = 'fr' AND dir = 'in' AND seq = 2`).Scan(&body, &rec); err != nil {
			t.Fatal(err)
		}
		var cp federation.Checkpoint
		if err := json.Unmarshal([]byte(body), &cp); err != nil {
			t.Fatal(err)
		}
		cp.From, cp.Time = fakeKey, cp.Time.AddDate(0, 0, 300)
		cp.SenderSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(fake, cp.Statement()))
		cp.ReceiverSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(us.svc.Key, cp.Statement()))
		b, _ := json.Marshal(cp)
		var added int64
		if err := db.QueryRow(`SELECT MIN(added) FROM fed_peer_keys WHERE peer = 'fr'`).Scan(&added); err != nil {
			t.Fatal(err)
		}
		retired := map[string]int64{"active": 0, "retired": rec + 1e9}[status]
		const d = 300 * 24 * int64(time.Hour)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO fed_peer_keys (peer, pubkey, status, added, changed, retired_at, revoked_at) VALUES ('fr', ?, ?, ?, ?, ?, 0)`, []any{fakeKey, status, added, rec + 1e9, retired}},
			{`UPDATE fed_checkpoints SET body = ? WHERE peer = 'fr' AND dir = 'in' AND seq = 2`, []any{string(b)}},
			{`UPDATE fed_received SET received_at = received_at + ?, expires_at = expires_at + ? WHERE peer = 'fr' AND seq = 2`, []any{d, d}},
		} {
			if _, err := db.Exec(q.sql, q.args...); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}
		if !repack {
			return
		}
		items, err := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Seq != 2 {
				continue
			}
			p := federation.Package{ID: it.Package, Size: it.Proof.Size, Root: it.Root, SignedAt: it.SignedAt}
			sig := base64.StdEncoding.EncodeToString(ed25519.Sign(fake, p.Statement()))
			if _, err := db.Exec(`UPDATE fed_received SET signature = ? WHERE peer = 'fr' AND item_key = ?`, sig, it.Item.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	restore := func() {
		t.Helper()
		if _, err := db.Exec(`ATTACH DATABASE ? AS before`, backup); err != nil {
			t.Fatal(err)
		}
		defer db.Exec(`DETACH DATABASE before`)
		for _, tab := range []string{"fed_peer_keys", "fed_checkpoints", "fed_received"} {
			for _, q := range []string{`DELETE FROM ` + tab, `INSERT INTO ` + tab + ` SELECT * FROM before.` + tab} {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
	}
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		all := strings.Join(got, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: no %q in:\n%s", what, w, all)
			}
		}
		if len(want) == 0 && len(got) > 0 {
			t.Errorf("%s: %s", what, all)
		}
	}
	for _, tc := range []struct {
		status string
		repack bool
		verify []string
	}{
		{"retired", false, []string{"in checkpoint 2: signed as fr's by key", "the checkpoint was re-signed at rest"}},
		{"active", false, []string{"fr has 2 active keys", "the checkpoint was re-signed at rest"}},
		// Packages re-signed too: nothing on this disk tells; the peer does.
		{"retired", true, nil},
	} {
		name := fmt.Sprintf("key row %s, packages re-signed %v", tc.status, tc.repack)
		forge(tc.status, tc.repack)
		rep, err := us.svc.VerifyCustody(ctx, "fr")
		if err != nil {
			t.Fatal(err)
		}
		expect(name+": verify", rep.Problems, tc.verify...)
		cmp, err := us.svc.CompareCustody(ctx, "fr")
		if err != nil {
			t.Fatal(err)
		}
		expect(name+": compare", cmp.Problems, "received: the 4 checkpoints this node stored of envelopes 1 to 4 are not the 4 the peer stored",
			"is not one of the keys fr says it has had (it lists 2): it was added at rest; checkpoints signed with it: in 2")
		restore()
	}
}
